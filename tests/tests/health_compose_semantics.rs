//! A check's start period and retries behave as compose documents them, shown side by side with
//! the Docker engine's own healthcheck: the same `test`, interval, retries and start period run by
//! the engine and by slipway (checks derived from the service with `checks_for_service`) reach the
//! same verdict on the same container.

use std::time::Duration;

use bollard::models::{ContainerCreateBody, HealthConfig, HealthStatusEnum};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use bollard::Docker;
use slipway::health::docker::Engine;
use slipway::health::{checks_for_service, Outcome};
use slipway::stack::ServiceSpec;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::{docker, images, names};

/// Ready (the file exists) after `ready_after_s` seconds.
const TEST: [&str; 4] = ["CMD", "test", "-f", "/tmp/ready"];

fn service(start_period: &str, retries: u32) -> ServiceSpec {
    serde_json::from_value(serde_json::json!({
        "name": "app", "image": null, "command": null, "entrypoint": null, "environment": {}, "ports": [],
        "volumes": [], "networks": {}, "depends_on": {},
        "healthcheck": {"test": TEST, "interval": "500ms", "timeout": "2s", "retries": retries,
                        "start_period": start_period, "start_interval": null},
        "labels": {}, "restart": null, "user": null, "working_dir": null, "stop_grace_period": null,
        "stop_signal": null, "init": null, "extra_hosts": [], "profiles": [],
        "deploy": {"replicas": null, "update_config": null, "rollback_config": null, "limits": null, "labels": {}},
        "extensions": {},
    }))
    .unwrap()
}

/// Start a busybox container that becomes ready after `ready_after_s`, with the engine's own
/// healthcheck set from `svc`.
async fn start(docker: &Docker, cleanup: &Cleanup, svc: &ServiceSpec, ready_after_s: u32) -> String {
    let hc = svc.healthcheck.clone().unwrap();
    let nanos = |d: Option<Duration>| d.map(|d| d.as_nanos() as i64);
    let name = names::unique("health");
    let body = ContainerCreateBody {
        image: Some(images::busybox_base().await.unwrap()),
        cmd: Some(vec![
            "sh".into(),
            "-c".into(),
            format!("trap 'exit 0' TERM; sleep {ready_after_s}; touch /tmp/ready; while true; do sleep 1; done"),
        ]),
        healthcheck: Some(HealthConfig {
            test: Some(hc.test.clone()),
            interval: nanos(hc.interval),
            timeout: nanos(hc.timeout),
            retries: hc.retries.map(i64::from),
            start_period: nanos(hc.start_period),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = docker
        .create_container(Some(CreateContainerOptionsBuilder::default().name(&name).build()), body)
        .await
        .unwrap();
    cleanup.container(&created.id);
    docker.start_container(&created.id, None).await.unwrap();
    name
}

/// The engine's health statuses seen every 100ms for `period`.
async fn engine_statuses(docker: &Docker, name: &str, period: Duration) -> Vec<HealthStatusEnum> {
    let mut seen = Vec::new();
    let end = tokio::time::Instant::now() + period;
    while tokio::time::Instant::now() < end {
        let s = docker.inspect_container(name, None).await.unwrap().state.and_then(|s| s.health).and_then(|h| h.status);
        if let Some(s) = s {
            if seen.last() != Some(&s) {
                seen.push(s);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen
}

#[tokio::test]
async fn failures_within_the_start_period_do_not_count_for_either() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let svc = service("20s", 1);
    let name = start(&docker, &cleanup, &svc, 3).await;
    let checks = checks_for_service(&svc, &name, &Engine::with_client(docker.clone()));
    assert_eq!(checks.len(), 1);
    let (report, engine) =
        tokio::join!(checks[0].run(&slipway::NoopObserver), engine_statuses(&docker, &name, Duration::from_secs(6)));
    assert_eq!(report.result.outcome, Outcome::Healthy, "{report:?}");
    assert!(report.attempts > 2, "failures before readiness were not counted: {report:?}");
    assert_eq!(engine, [HealthStatusEnum::STARTING, HealthStatusEnum::HEALTHY], "engine saw {engine:?}");
}

#[tokio::test]
async fn without_a_start_period_retries_failures_make_both_unhealthy() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let svc = service("0s", 2);
    let name = start(&docker, &cleanup, &svc, 4).await;
    let checks = checks_for_service(&svc, &name, &Engine::with_client(docker.clone()));
    let (report, engine) =
        tokio::join!(checks[0].run(&slipway::NoopObserver), engine_statuses(&docker, &name, Duration::from_secs(3)));
    assert!(matches!(report.result.outcome, Outcome::Unhealthy { .. }), "{report:?}");
    assert_eq!(report.attempts, 2, "{report:?}");
    assert!(report.result.outcome.reason().unwrap().contains("exited with code 1"), "{report:?}");
    assert!(engine.contains(&HealthStatusEnum::UNHEALTHY), "engine saw {engine:?}");
    assert!(!engine.contains(&HealthStatusEnum::HEALTHY), "engine saw {engine:?}");
}
