//! Docker probes against containers in the real engine: healthy, unhealthy, exited, restarting;
//! a command inside a container (exec), a worker's log line, memory use; the demo app healthy,
//! slow to start and failing its health endpoint; checks derived from a compose service.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HealthStatusEnum, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use slipway::health::docker::Engine;
use slipway::health::{check_all, checks_for_service, parse_target, parse_target_with, Check, Outcome, TargetOptions};
use slipway::stack::ServiceSpec;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::containers::TestContainer;
use slipway_e2e::{docker, images, names};

const T: Duration = Duration::from_secs(5);
const CHECK: [&str; 3] = ["/demo-app", "check", "http://127.0.0.1:8080/health"];

fn is_unhealthy(o: &Outcome) -> bool {
    matches!(o, Outcome::Unhealthy { .. })
}

#[tokio::test]
async fn demo_app_healthy_everywhere() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let name = names::unique("health");
    let app = TestContainer::new(images::demo_image().await.unwrap(), &name)
        .publish(8080)
        .healthcheck(CHECK, Duration::from_millis(500), 3)
        .start(&docker, &cleanup)
        .await
        .unwrap();
    app.wait_health(&docker, HealthStatusEnum::HEALTHY, Duration::from_secs(30)).await.unwrap();
    let url = app.url(8080).unwrap();
    let targets = [
        format!("{url}/health"),
        format!("tcp://127.0.0.1:{}", app.host_port(8080).unwrap()),
        format!("container://{name}"),
        format!("exec://{name}/{}", CHECK.join(" ")),
        format!("memory://{name}?max_percent=99"),
    ];
    let options = TargetOptions::default().engine(Engine::with_client(docker.clone())).body_contains("ok");
    let checks: Vec<Check> =
        targets.iter().map(|t| Check::new(parse_target_with(t, &options).unwrap()).timeout(T).retries(1)).collect();
    let reports = check_all(&checks, &slipway::NoopObserver).await;
    for r in &reports {
        assert!(r.is_healthy(), "{r:?}");
    }
    assert!(reports[2].result.output.as_deref().unwrap().contains("health=healthy"), "{:?}", reports[2]);
    // The body check is real: a wrong expectation fails with the body kept.
    let wrong =
        parse_target_with(&format!("{url}/version"), &TargetOptions::default().body_contains("no-such-version"))
            .unwrap()
            .probe(T)
            .await;
    assert!(is_unhealthy(&wrong.outcome), "{wrong:?}");
    assert!(wrong.output.is_some());
    // Memory over an absurdly low limit is unhealthy.
    let mem = parse_target(&format!("memory://{name}?max_percent=0.0001")).unwrap().probe(T).await;
    assert!(is_unhealthy(&mem.outcome), "{mem:?}");
}

#[tokio::test]
async fn demo_app_slow_start_is_healthy_after_its_start_period() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let app = TestContainer::new(images::demo_image().await.unwrap(), names::unique("health"))
        .env("STARTUP_DELAY_MS", 2500)
        .publish(8080)
        .start(&docker, &cleanup)
        .await
        .unwrap();
    let probe = parse_target(&format!("{}/health", app.url(8080).unwrap())).unwrap();
    let first = probe.probe(T).await;
    assert!(!first.outcome.is_healthy(), "{first:?}");
    let report = Check::new(probe)
        .interval(Duration::from_millis(250))
        .timeout(Duration::from_secs(2))
        .retries(2)
        .start_period(Duration::from_secs(30))
        .run(&slipway::NoopObserver)
        .await;
    assert!(report.is_healthy(), "{report:?}");
    assert!(report.attempts > 2, "{report:?}");
}

#[tokio::test]
async fn demo_app_failing_health_is_unhealthy_with_the_reason() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let name = names::unique("health");
    let app = TestContainer::new(images::demo_image().await.unwrap(), &name)
        .env("FAIL_HEALTH", 1)
        .publish(8080)
        .healthcheck(CHECK, Duration::from_millis(300), 1)
        .start(&docker, &cleanup)
        .await
        .unwrap();
    let http = parse_target(&format!("{}/health", app.url(8080).unwrap())).unwrap();
    let report =
        Check::new(http).interval(Duration::from_millis(100)).timeout(T).retries(3).run(&slipway::NoopObserver).await;
    assert!(is_unhealthy(report.outcome()), "{report:?}");
    assert!(report.outcome().reason().unwrap().contains("status 503"), "{report:?}");
    assert_eq!(report.attempts, 3);
    let exec = parse_target(&format!("exec://{name}/{}", CHECK.join(" "))).unwrap().probe(T).await;
    assert!(exec.outcome.reason().unwrap().contains("exited with code 1"), "{exec:?}");
    assert!(exec.output.as_deref().unwrap().contains("503"), "{exec:?}");
    app.wait_health(&docker, HealthStatusEnum::UNHEALTHY, Duration::from_secs(30)).await.unwrap();
    let state = parse_target(&format!("container://{name}")).unwrap().probe(T).await;
    assert!(state.outcome.reason().unwrap().contains("running but unhealthy"), "{state:?}");
}

#[tokio::test]
async fn worker_ready_line_is_found_in_the_logs() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let name = names::unique("health");
    let _worker = TestContainer::new(images::demo_image().await.unwrap(), &name)
        .cmd(["worker"])
        .env("APP_VERSION", "v7")
        .env("STARTUP_DELAY_MS", 1000)
        .start(&docker, &cleanup)
        .await
        .unwrap();
    let probe = parse_target(&format!(r"log://{name}?pattern=worker ready version=v\d+&since=1m")).unwrap();
    let report =
        Check::new(probe).interval(Duration::from_millis(200)).timeout(T).retries(50).run(&slipway::NoopObserver).await;
    assert!(report.is_healthy(), "{report:?}");
    assert_eq!(report.result.output.as_deref(), Some("worker ready version=v7"));
    let other = parse_target(&format!("log://{name}?pattern=version=v8")).unwrap().probe(T).await;
    assert!(is_unhealthy(&other.outcome), "{other:?}");
}

#[tokio::test]
async fn exited_and_missing_containers_are_unhealthy() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let name = names::unique("health");
    let done = TestContainer::new(images::busybox_base().await.unwrap(), &name)
        .cmd(["sh", "-c", "echo bye; exit 3"])
        .run_to_end(&docker, &cleanup, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(done.exit_code, 3);
    let r = parse_target(&format!("container://{name}")).unwrap().probe(T).await;
    assert!(is_unhealthy(&r.outcome), "{r:?}");
    assert!(r.outcome.reason().unwrap().contains("exited with exit code 3"), "{r:?}");
    let exec = parse_target(&format!("exec://{name}/true")).unwrap().probe(T).await;
    assert!(exec.outcome.reason().unwrap().contains("not running"), "{exec:?}");
    let missing = parse_target(&format!("container://{}", names::unique("health"))).unwrap().probe(T).await;
    assert!(missing.outcome.reason().unwrap().contains("no such container"), "{missing:?}");
}

#[tokio::test]
async fn a_crash_looping_container_is_seen_restarting() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let name = names::unique("health");
    let body = ContainerCreateBody {
        image: Some(images::busybox_base().await.unwrap()),
        cmd: Some(vec!["sh".into(), "-c".into(), "exit 2".into()]),
        host_config: Some(HostConfig {
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::ALWAYS),
                maximum_retry_count: None,
            }),
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
    let probe = parse_target(&format!("container://{name}")).unwrap();
    // Between restarts the engine backs off (100ms, 200ms, ...): the probe must see "restarting".
    let seen = slipway::wait::wait_until("restarting", Duration::from_secs(30), Duration::from_millis(50), || {
        let probe = probe.clone();
        async move {
            let r = probe.probe(T).await;
            r.outcome.reason().is_some_and(|reason| reason.starts_with("restarting")).then_some(r)
        }
    })
    .await
    .unwrap();
    assert!(is_unhealthy(&seen.outcome));
    assert!(seen.outcome.reason().unwrap().contains("last exit code 2"), "{seen:?}");
    assert!(!seen.output.as_deref().unwrap().contains("restarts=0 "), "{seen:?}");
}

#[tokio::test]
async fn checks_derived_from_a_compose_service_pass_on_the_running_service() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let name = names::unique("health");
    let app = TestContainer::new(images::demo_image().await.unwrap(), &name)
        .publish(8080)
        .start(&docker, &cleanup)
        .await
        .unwrap();
    let service: ServiceSpec = serde_json::from_value(serde_json::json!({
        "name": "web", "image": "demo", "command": null, "entrypoint": null, "environment": {},
        "ports": [{"target": 8080, "published": app.host_port(8080).unwrap().to_string(), "host_ip": "127.0.0.1",
                   "protocol": "tcp", "mode": null}],
        "volumes": [], "networks": {}, "depends_on": {},
        "healthcheck": {"test": ["CMD", "/demo-app", "check", "http://127.0.0.1:8080/health"],
                        "interval": "200ms", "timeout": "3s", "retries": 3, "start_period": "10s", "start_interval": null},
        "labels": {}, "restart": null, "user": null, "working_dir": null, "stop_grace_period": null,
        "stop_signal": null, "init": null, "extra_hosts": [], "profiles": [],
        "deploy": {"replicas": null, "update_config": null, "rollback_config": null, "limits": null, "labels": {}},
        "extensions": BTreeMap::<String, String>::new(),
    }))
    .unwrap();
    let checks = checks_for_service(&service, &name, &Engine::with_client(docker.clone()));
    assert_eq!(checks.len(), 2);
    let reports = check_all(&checks, &slipway::NoopObserver).await;
    for r in &reports {
        assert!(r.is_healthy(), "{r:?}");
    }
}

#[tokio::test]
async fn an_oom_killed_container_says_so() {
    let docker = docker::connect().await.unwrap();
    let cleanup = Cleanup::new();
    let name = names::unique("health");
    let body = ContainerCreateBody {
        image: Some(images::busybox_base().await.unwrap()),
        cmd: Some(vec!["sh".into(), "-c".into(), "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo ${#x}".into()]),
        host_config: Some(HostConfig {
            memory: Some(16 * 1024 * 1024),
            memory_swap: Some(16 * 1024 * 1024),
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
    let probe = parse_target(&format!("container://{name}")).unwrap();
    let r =
        slipway::wait::wait_until("the container to exit", Duration::from_secs(30), Duration::from_millis(100), || {
            let probe = probe.clone();
            async move {
                let r = probe.probe(T).await;
                r.outcome.reason().is_some_and(|reason| reason.starts_with("exited")).then_some(r)
            }
        })
        .await
        .unwrap();
    assert!(r.outcome.reason().unwrap().contains("exit code 137, OOM killed"), "{r:?}");
    assert!(r.output.as_deref().unwrap().contains("oom_killed=true"), "{r:?}");
}
