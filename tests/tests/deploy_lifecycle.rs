//! Deploy lifecycle against the real engine: first deploy, unchanged redeploy (zero steps),
//! upgrade, failed upgrade (old keeps serving, failure recorded), rollback and rollback --to.

use std::time::Duration;

use slipway::deploy::{DeployOptions, Deployer, DockerHost, ReleaseId, ReleaseOutcome, Step};
use slipway::{ErrorKind, NoopObserver};
use slipway_e2e::{docker, images, names, project::ProjectGuard, stacks};

fn opts() -> DeployOptions {
    DeployOptions::default().min_running(Duration::from_millis(500))
}

async fn running_app_env(host: &DockerHost, project: &str) -> (String, String) {
    let status = host.status(project).await.unwrap();
    let apps: Vec<_> = status.containers.iter().filter(|c| c.service == "app" && c.running).collect();
    assert_eq!(apps.len(), 1, "exactly one running app: {:#?}", status.containers);
    let inspect = host.docker().inspect_container(&apps[0].name, None).await.unwrap();
    let env = inspect.config.unwrap().env.unwrap();
    let version = env.iter().find_map(|e| e.strip_prefix("APP_VERSION=")).unwrap().to_string();
    (apps[0].name.clone(), version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_upgrade_fail_and_roll_back() {
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("deploy");
    let _guard = ProjectGuard::new(&project);
    let host = DockerHost::new(docker::connect().await.unwrap());

    // First deploy.
    let v1 = stacks::shop(&project, &demo, &busybox, "v1");
    let out = host.apply(&v1, &opts(), &NoopObserver).await.unwrap();
    let r1 = out.release.expect("a release");
    assert_eq!(r1.id, ReleaseId(1));
    assert!(out.plan.steps.iter().any(|s| matches!(s, Step::RunOneOff { service } if service == "prestart")));
    assert!(out.plan.steps.iter().any(|s| matches!(s,
        Step::WaitHealthy { service, gate: slipway::deploy::HealthGate::Probes { .. }, .. } if service == "worker")));
    let status = host.status(&project).await.unwrap();
    for svc in ["app", "worker", "db", "cache"] {
        assert_eq!(status.containers.iter().filter(|c| c.service == svc && c.running).count(), 1, "{svc}");
    }
    let inspect = host.docker().inspect_container(&format!("{project}-app-1-r1"), None).await.unwrap();
    let labels = inspect.config.unwrap().labels.unwrap();
    assert_eq!(labels["com.docker.compose.project"], project);
    assert_eq!(labels["com.docker.compose.service"], "app");
    assert_eq!(labels["dev.slipway.release"], "1");
    assert!(inspect.state.unwrap().health.unwrap().status.unwrap().to_string() == "healthy");
    assert_eq!(running_app_env(&host, &project).await.1, "v1");
    // `docker compose ps` sees the stack slipway deployed (Compose v2 CLI plugin).
    let ps = std::process::Command::new("docker").args(["compose", "-p", &project, "ps", "--services"]).output();
    if let Some(ps) = ps.ok().filter(|o| o.status.success()) {
        let services = String::from_utf8_lossy(&ps.stdout).to_string();
        for svc in ["app", "worker", "db", "cache"] {
            assert!(services.lines().any(|l| l == svc), "docker compose ps lists {svc}: {services}");
        }
    }

    // Unchanged redeploy: zero steps, no new release.
    let again = host.apply(&v1, &opts(), &NoopObserver).await.unwrap();
    assert!(again.plan.steps.is_empty(), "{:#?}", again.plan.steps);
    assert!(again.release.is_none());
    assert_eq!(host.history(&project).await.unwrap().len(), 1);

    // Upgrade.
    let v2 = stacks::shop(&project, &demo, &busybox, "v2");
    let r2 = host.apply(&v2, &opts(), &NoopObserver).await.unwrap().release.unwrap();
    assert_eq!((r2.id, r2.parent), (ReleaseId(2), Some(ReleaseId(1))));
    let (app_v2, version) = running_app_env(&host, &project).await;
    assert_eq!(version, "v2");
    // db and cache did not change: still the release-1 containers.
    let status = host.status(&project).await.unwrap();
    let db = status.containers.iter().find(|c| c.service == "db" && c.running).unwrap();
    assert_eq!(db.release, Some(ReleaseId(1)));

    // An upgrade that never becomes healthy: the v2 container keeps serving, failure recorded.
    let mut bad = stacks::shop(&project, &demo, &busybox, "v3");
    stacks::set_env(&mut bad, "app", "FAIL_HEALTH", "1");
    let err = host.apply(&bad, &opts(), &NoopObserver).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    let msg = err.to_string();
    assert!(msg.contains("service app") && msg.contains("wait for app"), "{msg}");
    assert_eq!(running_app_env(&host, &project).await, (app_v2.clone(), "v2".to_string()));
    let history = host.history(&project).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.id, ReleaseId(3));
    assert!(matches!(&last.outcome, ReleaseOutcome::Failed { service, .. } if service == "app"));
    let status = host.status(&project).await.unwrap();
    let failed = status.containers.iter().find(|c| c.name == format!("{project}-app-1-r3")).expect("failed kept");
    assert!(!failed.running);
    assert_eq!(failed.role, slipway::deploy::labels::Role::Failed);
    assert_eq!(status.current.unwrap().id, ReleaseId(2));

    // Rollback: to the release before the current one (1), through the same gated path.
    let back = host.rollback(&project, None, &opts(), &NoopObserver).await.unwrap().release.unwrap();
    assert_eq!((back.id, back.rollback_of), (ReleaseId(4), Some(ReleaseId(1))));
    assert_eq!(running_app_env(&host, &project).await.1, "v1");
    // Rollback --to 2.
    let to2 = host.rollback(&project, Some(ReleaseId(2)), &opts(), &NoopObserver).await.unwrap().release.unwrap();
    assert_eq!(to2.rollback_of, Some(ReleaseId(2)));
    assert_eq!(running_app_env(&host, &project).await.1, "v2");
    // No duplicates: one running container per service.
    let status = host.status(&project).await.unwrap();
    for svc in ["app", "worker", "db", "cache"] {
        assert_eq!(status.containers.iter().filter(|c| c.service == svc && c.running).count(), 1, "{svc}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_prestart_stops_before_any_service_changes() {
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("deploy");
    let _guard = ProjectGuard::new(&project);
    let host = DockerHost::new(docker::connect().await.unwrap());
    host.apply(&stacks::shop(&project, &demo, &busybox, "v1"), &opts(), &NoopObserver).await.unwrap();
    let before = host.status(&project).await.unwrap();

    let mut v2 = stacks::shop(&project, &demo, &busybox, "v2");
    stacks::set_env(&mut v2, "prestart", "EXIT_CODE", "3");
    let err = host.apply(&v2, &opts(), &NoopObserver).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("prestart") && msg.contains("code 3"), "{msg}");
    let after = host.status(&project).await.unwrap();
    let running = |s: &slipway::deploy::Status| {
        let mut v: Vec<String> = s.containers.iter().filter(|c| c.running).map(|c| c.name.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(running(&before), running(&after));
    assert!(matches!(host.history(&project).await.unwrap().last().unwrap().outcome, ReleaseOutcome::Failed { .. }));

    // A before-change hook (e.g. a backup) that fails stops the deploy with nothing changed.
    let records = host.history(&project).await.unwrap().len();
    let v3 = stacks::shop(&project, &demo, &busybox, "v3");
    let err =
        host.apply(&v3, &opts().before_change(std::sync::Arc::new(FailingBackup)), &NoopObserver).await.unwrap_err();
    assert!(err.to_string().contains("backup refused"), "{err}");
    assert_eq!(running(&before), running(&host.status(&project).await.unwrap()));
    assert_eq!(host.history(&project).await.unwrap().len(), records);

    // A worker whose x-slipway probe never passes: refused by the gate, the old worker keeps running.
    let mut quiet = stacks::shop(&project, &demo, &busybox, "v1");
    let worker = quiet.services.get_mut("worker").unwrap();
    worker.extensions.insert(
        "x-slipway".into(),
        serde_json::json!({"probes": ["log://{container}?pattern=never printed"], "health_timeout": "2s"}),
    );
    let err = host.apply(&quiet, &opts(), &NoopObserver).await.unwrap_err();
    assert!(err.to_string().contains("wait for worker"), "{err}");
    assert_eq!(running(&before), running(&host.status(&project).await.unwrap()));
}

struct FailingBackup;

#[async_trait::async_trait]
impl slipway::deploy::BeforeChange for FailingBackup {
    async fn before_change(
        &self,
        _desired: &slipway::deploy::DesiredRelease,
        _plan: &slipway::deploy::Plan,
        _observer: &dyn slipway::events::Observer,
    ) -> Result<(), slipway::deploy::DeployError> {
        Err(slipway::deploy::DeployError::Invalid("backup refused".into()))
    }
}

/// `deploy.update_config.monitor`: a new container that passes its gate but dies within the
/// monitor period fails the upgrade (the old one keeps running); `delay` spaces the replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_within_the_monitor_period_fails_the_upgrade() {
    let demo = images::demo_image().await.unwrap();
    let project = names::unique("deploy");
    let _guard = ProjectGuard::new(&project);
    let host = DockerHost::new(docker::connect().await.unwrap());
    let stack = |version: &str, crash: bool| {
        let mut worker = stacks::service("worker", &demo);
        worker.command = Some(vec!["worker".into()]);
        worker.environment.insert("APP_VERSION".into(), Some(version.into()));
        if crash {
            worker.environment.insert("CRASH_AFTER_MS".into(), Some("1500".into()));
        }
        worker.deploy.replicas = Some(2);
        worker.deploy.update_config = Some(
            serde_json::from_value(serde_json::json!({
                "parallelism": 1, "delay": "1s", "failure_action": null, "monitor": "3s", "order": "start-first"
            }))
            .unwrap(),
        );
        let mut s = slipway::stack::StackSpec::default();
        s.name = project.clone();
        s.services.insert("worker".into(), worker);
        let mut net = slipway::stack::NetworkSpec::default();
        net.name = format!("{project}_default");
        s.networks.insert("default".into(), net);
        s
    };
    let started = std::time::Instant::now();
    host.apply(&stack("v1", false), &opts(), &NoopObserver).await.unwrap();
    // Two replicas, each gated (0.5 s) and monitored (3 s), with a 1 s delay between them.
    assert!(started.elapsed() >= Duration::from_secs(7), "monitor and delay were honoured: {:?}", started.elapsed());

    // v2 passes the 0.5 s gate, then crashes at 1.5 s: inside the 3 s monitor period.
    let err = host.apply(&stack("v2", true), &opts(), &NoopObserver).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert!(err.to_string().contains("monitor period"), "{err}");
    let status = host.status(&project).await.unwrap();
    let running: Vec<_> = status.containers.iter().filter(|c| c.running).map(|c| c.release).collect();
    assert_eq!(running, vec![Some(ReleaseId(1)), Some(ReleaseId(1))], "{:#?}", status.containers);
    let history = host.history(&project).await.unwrap();
    assert!(matches!(history.last().unwrap().outcome, ReleaseOutcome::Failed { .. }));
}

/// A failed upgrade of a service that is not behind a proxy but publishes a host port: the undo
/// confirms the restored old container by its engine state and by the published port answering
/// (a real TCP connect to it then works and serves the old version). When the published port
/// leads nowhere (the engine's proxy accepts, then closes), the undo says so: not restored,
/// naming the service, container and port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_confirms_the_published_port_of_the_old_release_answers() {
    use slipway::deploy::Confirmation;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let host = DockerHost::new(docker::connect().await.unwrap());
    for (target, answers) in [(8080, true), (9999, false)] {
        let project = names::unique("deploy");
        let _guard = ProjectGuard::new(&project);
        let port = slipway_e2e::services::free_port().unwrap();
        let stack = |version: &str| {
            let mut s = stacks::shop(&project, &demo, &busybox, version);
            s.services.retain(|name, _| name == "app");
            let app = s.services.get_mut("app").unwrap();
            app.depends_on.clear();
            app.ports = vec![serde_json::from_value(serde_json::json!({
                "target": target, "published": port.to_string(), "host_ip": "127.0.0.1", "protocol": "tcp", "mode": null
            }))
            .unwrap()];
            app.extensions.insert("x-slipway".into(), serde_json::json!({"health_timeout": "3s"}));
            s
        };
        host.apply(&stack("v1"), &opts(), &NoopObserver).await.unwrap();
        let old = running_app_env(&host, &project).await.0;
        let mut bad = stack("v2");
        stacks::set_env(&mut bad, "app", "FAIL_HEALTH", "1");
        let err = host.apply(&bad, &opts(), &NoopObserver).await.unwrap_err();
        let slipway::Error::Deploy(inner) = &err else { panic!("{err}") };
        let undo = inner.undo().expect("an undo report").clone();
        let restart = undo.actions.iter().find(|a| a.description.starts_with("start old app")).expect("restart");
        assert!(restart.confirmed.iter().any(|c| matches!(c, Confirmation::EngineRunning { .. })), "{restart:?}");
        assert_eq!(running_app_env(&host, &project).await, (old.clone(), "v1".to_string()));
        if answers {
            assert!(undo.restored(), "{}", undo.summary());
            assert!(restart.confirmed.contains(&Confirmation::PortAnswered { port }), "{restart:?}");
            assert!(err.to_string().contains("the previous release was restored"), "{err}");
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            s.write_all(b"GET /version HTTP/1.0\r\n\r\n").await.unwrap();
            let mut body = String::new();
            s.read_to_string(&mut body).await.unwrap();
            assert!(body.starts_with("HTTP/1.") && body.contains("v1"), "the old release serves: {body}");
        } else {
            assert!(!undo.restored() && err.to_string().contains("INCOMPLETE"), "{err}");
            let silent = &restart.silent_ports;
            assert_eq!(silent.len(), 1, "{restart:?}");
            assert_eq!((silent[0].service.as_str(), silent[0].port), ("app", port));
            let inspect = host.docker().inspect_container(&old, None).await.unwrap();
            assert_eq!(
                inspect.id.as_deref(),
                Some(silent[0].container.as_str()),
                "names the old container: {silent:?}"
            );
        }
    }
}
