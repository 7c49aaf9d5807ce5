//! `deploy.update_config.failure_action` over the fake engine and router: `rollback` (the
//! default) undoes the whole deploy; `continue` undoes only the failing replica and rolls the
//! others; `pause` undoes only the failing replica and rolls nothing more. A partly deployed
//! release is recorded as such, runs no post-deploy hook, and the error names what failed. And a
//! deploy whose lock lease is lost stops and undoes like a failure.

use tokio_util::sync::CancellationToken;

use super::fake_tests::{deployed, execute, execute_leased, prepare, stack_of, web, worker};
use super::*;
use crate::stack::*;

fn three_webs(action: &'static str) -> fn(&str) -> StackSpec {
    fn with(v: &str, action: &str) -> StackSpec {
        let mut w = web(v);
        w.deploy.replicas = Some(3);
        w.deploy.update_config = Some(UpdateConfig {
            parallelism: Some(1),
            failure_action: Some(action.to_string()).filter(|a| !a.is_empty()),
            ..Default::default()
        });
        let mut stack = stack_of(vec![w, worker(v)]);
        // The worker waits for the web, so it rolls after it (a later wave).
        stack.services.get_mut("worker").map(|s| {
            s.depends_on.insert(
                "web".into(),
                Dependency { condition: DependencyCondition::ServiceStarted, required: true, restart: false },
            )
        });
        stack
    }
    match action {
        "continue" => |v| with(v, "continue"),
        "pause" => |v| with(v, "pause"),
        _ => |v| with(v, ""),
    }
}

/// Running containers by release: `{"web-1": "r2", ...}` from names like `shop-web-1-r2`.
fn running(world: &fake::World) -> Vec<String> {
    world.snapshot().0.into_iter().map(|n| n.trim_start_matches("shop-").to_string()).collect()
}

#[tokio::test(start_paused = true)]
async fn continue_undoes_only_the_failing_replica_and_rolls_the_others() {
    let stack = three_webs("continue");
    let (world, backups) = deployed(stack).await;
    let d = prepare(&world, &stack("v2"), &backups);
    world.fail_on("create shop-web-2-r2");
    let err = execute(&world, &d, &backups, &crate::NoopObserver, CancellationToken::new()).await.unwrap_err();
    let DeployError::PartlyDeployed { action, failures, undo, .. } = &err else { panic!("{err}") };
    assert_eq!(action, "continue");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].step, "start web replica 2");
    assert!(failures[0].restored && undo.restored(), "{}", undo.summary());
    assert_eq!(err.service(), Some("web"));
    let text = err.to_string();
    assert!(text.contains("partly deployed") && text.contains("start web replica 2"), "{text}");
    // Replica 2 is the old one, in the route; replicas 1 and 3 and the worker are new.
    assert_eq!(running(&world), ["web-1-r2", "web-2-r1", "web-3-r2", "worker-1-r2"]);
    let routed = &world.snapshot().1["shop-web"];
    assert_eq!(
        routed.iter().map(String::as_str).collect::<Vec<_>>(),
        ["shop-web-1-r2", "shop-web-2-r1", "shop-web-3-r2"]
    );
    let rec = world.lock().records[&d.desired.id.0].clone();
    assert!(matches!(&rec.outcome, ReleaseOutcome::PartlyDeployed { failures, .. } if failures.len() == 1), "{rec:?}");
    assert!(rec.outcome.in_service() && !rec.outcome.is_success());

    // The next deploy of the same stack finishes it: only replica 2 is replaced.
    let actual = world.actual(&Default::default());
    assert_eq!(actual.current().map(|r| r.id), Some(d.desired.id), "a partly deployed release is current");
    let next = prepare(&world, &stack("v2"), &backups);
    let starts: Vec<String> =
        next.plan.steps.iter().filter(|s| matches!(s, Step::StartReplica { .. })).map(|s| s.describe()).collect();
    assert_eq!(starts, ["start web replica 2"]);
}

#[tokio::test(start_paused = true)]
async fn pause_undoes_the_failing_replica_and_rolls_nothing_more() {
    let stack = three_webs("pause");
    let (world, backups) = deployed(stack).await;
    let d = prepare(&world, &stack("v2"), &backups);
    world.fail_on("create shop-web-2-r2");
    let seen = crate::events::RecordingObserver::new();
    let err = execute(&world, &d, &backups, &seen, CancellationToken::new()).await.unwrap_err();
    let DeployError::PartlyDeployed { action, failures, .. } = &err else { panic!("{err}") };
    assert_eq!((action.as_str(), failures.len()), ("pause", 1));
    // Replica 1 is new; 2 (failed, undone) and 3 (never reached) are old; the worker (a later
    // wave) was not rolled.
    assert_eq!(running(&world), ["web-1-r2", "web-2-r1", "web-3-r1", "worker-1-r1"]);
    let rec = world.lock().records[&d.desired.id.0].clone();
    assert!(matches!(rec.outcome, ReleaseOutcome::PartlyDeployed { .. }), "{rec:?}");
    assert!(rec.hook_failures.iter().any(|h| h.contains("partly deployed")), "{rec:?}");
}

#[tokio::test(start_paused = true)]
async fn rollback_is_the_default_and_undoes_everything() {
    let stack = three_webs("");
    let (world, backups) = deployed(stack).await;
    let before = world.snapshot();
    let d = prepare(&world, &stack("v2"), &backups);
    world.fail_on("create shop-web-2-r2");
    let err = execute(&world, &d, &backups, &crate::NoopObserver, CancellationToken::new()).await.unwrap_err();
    let DeployError::StepFailed { step, undo, .. } = &err else { panic!("{err}") };
    assert_eq!(step, "start web replica 2");
    assert!(undo.restored());
    assert_eq!(world.snapshot(), before);
}

#[tokio::test(start_paused = true)]
async fn a_lost_lease_stops_the_deploy_and_undoes_it() {
    let stack = three_webs("continue");
    let (world, backups) = deployed(stack).await;
    let before = world.snapshot();
    let d = prepare(&world, &stack("v2"), &backups);
    // The lease is lost while replica 2 waits for its health.
    let wait = d
        .plan
        .steps
        .iter()
        .position(|s| matches!(s, Step::WaitHealthy { replica: 2, .. }))
        .expect("a health wait of replica 2")
        + 1;
    let lost = CancellationToken::new();
    let trip = lost.clone();
    let obs = move |e: &crate::events::Event| {
        if matches!(e, crate::events::Event::Deploy(DeployEvent::StepStarted { index, .. }) if *index == wait) {
            trip.cancel();
        }
    };
    let err = execute_leased(&world, &d, &backups, &obs, CancellationToken::new(), lost).await.unwrap_err();
    let DeployError::LeaseLost { step, undo, .. } = &err else { panic!("{err}") };
    assert_eq!(step, &d.plan.steps[wait - 1].describe());
    assert!(undo.restored(), "{}", undo.summary());
    assert!(err.to_string().contains("lease could not be renewed"), "{err}");
    assert_eq!(world.snapshot(), before, "everything undone, not only the replica (failure_action is for failures)");
    let rec = world.lock().records[&d.desired.id.0].clone();
    assert!(matches!(&rec.outcome, ReleaseOutcome::Failed { reason, .. } if reason.contains("lease")), "{rec:?}");
}

#[tokio::test(start_paused = true)]
async fn a_cancellation_during_a_container_hook_removes_its_container() {
    let stack = super::fake_tests::stacks()[4].1; // web with container hooks
    let (world, backups) = deployed(stack).await;
    let before = world.snapshot();
    let d = prepare(&world, &stack("v2"), &backups);
    world.hang_hooks.store(true, std::sync::atomic::Ordering::SeqCst);
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        cancel.cancel();
    });
    let err = execute(&world, &d, &backups, &crate::NoopObserver, token).await.unwrap_err();
    let DeployError::Cancelled { step, undo, .. } = &err else { panic!("{err}") };
    assert!(step.starts_with("pre-deploy hook 1"), "{step}");
    assert!(undo.restored(), "{}", undo.summary());
    assert!(
        world.lock().containers.values().all(|c| !c.name.contains("-hook-")),
        "the hook's container is gone: {:?}",
        world.lock().containers.values().map(|c| c.name.clone()).collect::<Vec<_>>()
    );
    assert_eq!(world.snapshot(), before);
}
