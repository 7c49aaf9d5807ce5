//! The undo of a service that is not behind the proxy but publishes a port, over the fakes: the
//! restored old container is confirmed by its engine state and by its published port answering;
//! a port that stays silent makes the undo not restored, naming service, container and port.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::fake_tests::{deployed, execute, prepare, service, stack_of};
use super::*;
use crate::events::Event;
use crate::stack::*;

/// `api`: not routed, healthchecked, publishing host port 8080 (so stop-first).
fn api_stack(version: &str) -> StackSpec {
    let mut s = service("api", &format!("demo:{version}"));
    s.ports.push(PortSpec {
        target: 80,
        published: Some("8080".into()),
        host_ip: None,
        protocol: "tcp".into(),
        mode: None,
    });
    s.healthcheck = Some(HealthcheckSpec {
        test: vec!["CMD".into(), "true".into()],
        interval: Some(Duration::from_secs(1)),
        timeout: Some(Duration::from_secs(2)),
        retries: Some(3),
        start_period: None,
        start_interval: None,
    });
    stack_of(vec![s])
}

/// Fail the upgrade at its health gate; the undo's report.
async fn failed_upgrade(silent: bool) -> (UndoReport, String, String) {
    let (world, backups) = deployed(api_stack).await;
    let old = world.lock().containers.iter().find(|(_, c)| c.running).map(|(id, _)| id.clone()).unwrap();
    if silent {
        world.lock().silent_ports.insert(8080);
    }
    let d = prepare(&world, &api_stack("v2"), &backups);
    let wait = d.plan.steps.iter().position(|s| matches!(s, Step::WaitHealthy { .. })).unwrap() + 1;
    let armed = world.clone();
    let obs = move |e: &Event| {
        if matches!(e, Event::Deploy(DeployEvent::StepStarted { index, .. }) if *index == wait) {
            armed.arm();
        }
    };
    let err = execute(&world, &d, &backups, &obs, CancellationToken::new()).await.unwrap_err();
    let DeployError::StepFailed { undo, .. } = &err else { panic!("{err}") };
    assert!(world.lock().containers[&old].running, "the old container runs again");
    (*undo.clone(), err.to_string(), old)
}

#[tokio::test(start_paused = true)]
async fn undo_of_a_service_with_a_published_port_confirms_the_port_answers() {
    let (undo, text, old) = failed_upgrade(false).await;
    assert!(undo.restored(), "{}", undo.summary());
    assert!(text.contains("the previous release was restored"), "{text}");
    let restart =
        undo.actions.iter().find(|a| a.description.contains(&format!("start old api container {old}"))).unwrap();
    assert_eq!(
        restart.confirmed,
        vec![Confirmation::EngineRunning { health: Some("healthy".into()) }, Confirmation::PortAnswered { port: 8080 },],
        "confirmed by engine state and by the published port"
    );
    assert!(restart.silent_ports.is_empty());
    let stop = undo.actions.iter().find(|a| a.description.contains("stop new api")).unwrap();
    assert_eq!(stop.confirmed, vec![Confirmation::EngineStopped]);
    let json = serde_json::to_value(&undo).unwrap();
    assert_eq!(json["actions"][1]["confirmed"][1], serde_json::json!({"by": "port_answered", "port": 8080}), "{json}");
}

#[tokio::test(start_paused = true)]
async fn a_silent_published_port_is_not_restored_and_is_named() {
    let (undo, text, old) = failed_upgrade(true).await;
    assert!(!undo.restored(), "{}", undo.summary());
    assert!(!text.contains("release was restored") && text.contains("INCOMPLETE"), "{text}");
    assert!(text.contains("8080"), "{text}");
    let restart = undo.actions.iter().find(|a| !a.silent_ports.is_empty()).unwrap();
    let silent = &restart.silent_ports[0];
    assert_eq!((silent.service.as_str(), silent.container.as_str(), silent.port), ("api", old.as_str(), 8080));
    assert!(silent.reason.contains("did not answer within"), "{}", silent.reason);
    assert_eq!(
        restart.confirmed,
        vec![Confirmation::EngineRunning { health: Some("healthy".into()) }],
        "the engine state alone is not enough"
    );
    assert!(restart.finish.as_deref().is_some_and(|f| f.contains("docker start")), "{restart:?}");
}
