//! The full deploy cycle over `ssh://` against a real second host (`RemoteHost`): deploy with a
//! prestart one-off and `{ip}` probes (run from the host's side: its container addresses are not
//! routable from here), a no-op redeploy, an upgrade, a failed upgrade that keeps the old
//! version (its published port confirmed answering from the host's side by the undo), history
//! and rollback.

use std::time::Duration;

use slipway::deploy::{DeployOptions, Deployer, DockerHost, HealthGate, ReleaseId, ReleaseOutcome, Step};
use slipway::engine::{ConnectOptions, Connection, TransportError};
use slipway::NoopObserver;
use slipway_e2e::remote_host::RemoteHost;
use slipway_e2e::{images, names, stacks};

/// The tests of this binary share one host and its sshd log (connections are counted): one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn opts() -> DeployOptions {
    DeployOptions::default().min_running(Duration::from_millis(500))
}

/// The shop stack with the app gated by probes of its own address (instead of its healthcheck).
fn shop(project: &str, demo: &str, busybox: &str, version: &str) -> slipway::stack::StackSpec {
    shop_within(project, demo, busybox, version, "20s")
}

/// [`shop`] with the app's health gate bounded by `timeout`.
fn shop_within(project: &str, demo: &str, busybox: &str, version: &str, timeout: &str) -> slipway::stack::StackSpec {
    let mut stack = stacks::shop(project, demo, busybox, version);
    if let Some(app) = stack.services.get_mut("app") {
        app.healthcheck = None;
        app.extensions.insert(
            "x-slipway".into(),
            serde_json::json!({"probes": ["http://{ip}:8080/health", "tcp://{ip}:8080"], "health_timeout": timeout}),
        );
    }
    stack
}

/// `stack` with the app's 8080 published on the target host's `127.0.0.1:port`.
fn publish(mut stack: slipway::stack::StackSpec, port: u16) -> slipway::stack::StackSpec {
    if let Some(app) = stack.services.get_mut("app") {
        app.ports = vec![serde_json::from_value(serde_json::json!({
            "target": 8080, "published": port.to_string(), "host_ip": "127.0.0.1", "protocol": "tcp", "mode": null
        }))
        .expect("port")];
    }
    stack
}

async fn app_version(host: &DockerHost, project: &str) -> (String, String, String) {
    let status = host.status(project).await.unwrap();
    let apps: Vec<_> = status.containers.iter().filter(|c| c.service == "app" && c.running).collect();
    assert_eq!(apps.len(), 1, "exactly one running app: {:#?}", status.containers);
    let inspect = host.docker().inspect_container(&apps[0].name, None).await.unwrap();
    let env = inspect.config.unwrap().env.unwrap();
    let version = env.iter().find_map(|e| e.strip_prefix("APP_VERSION=")).unwrap().to_string();
    let ip = inspect
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|n| n.into_values().find_map(|e| e.ip_address.filter(|ip| !ip.is_empty())))
        .unwrap_or_default();
    (apps[0].name.clone(), version, ip)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_cycle_runs_over_ssh() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    let remote = RemoteHost::shared().await?;
    let (demo, busybox) = (images::demo_image().await?, images::busybox_base().await?);
    for image in [&demo, &busybox] {
        remote.load_image(image)?;
    }
    let project = names::unique("remote");
    let _guard = remote.project_guard(&project);
    let options = ConnectOptions::host(Some(&remote.ssh_url())).ssh_config(Some(remote.ssh_config()));
    let before = remote.accepted_connections();
    let host = DockerHost::connect(&Connection::resolve(&options)?).await?;

    // Deploy: prestart one-off, app gated by {ip} probes run from the remote side.
    let out = host.apply(&shop(&project, &demo, &busybox, "v1"), &opts(), &NoopObserver).await?;
    assert_eq!(out.release.as_ref().map(|r| r.id), Some(ReleaseId(1)));
    assert!(out.plan.steps.iter().any(|s| matches!(s, Step::RunOneOff { service } if service == "prestart")));
    assert!(out.plan.steps.iter().any(|s| matches!(s,
        Step::WaitHealthy { service, gate: HealthGate::Probes { targets, .. }, .. }
            if service == "app" && targets.iter().any(|t| t.contains("{ip}")))));
    let (_, version, ip) = app_version(&host, &project).await;
    assert_eq!(version, "v1");
    // The container's address is not routable from the test process: the probes went through ssh.
    let direct =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect((ip.as_str(), 8080))).await;
    assert!(!matches!(direct, Ok(Ok(_))), "{ip}:8080 must not be reachable from here");
    // The containers are on the remote engine (seen through the harness's own socket).
    assert!(remote.docker(&["ps", "--format", "{{.Names}}"])?.contains(&format!("{project}-app-1-r1")));

    // No-op redeploy.
    let again = host.apply(&shop(&project, &demo, &busybox, "v1"), &opts(), &NoopObserver).await?;
    assert!(again.plan.steps.is_empty() && again.release.is_none(), "{:#?}", again.plan.steps);

    // Upgrade; v2 also publishes a port on the target host's loopback (so it rolls stop-first).
    let port = slipway_e2e::services::free_port()?;
    let r2 = host
        .apply(&publish(shop(&project, &demo, &busybox, "v2"), port), &opts(), &NoopObserver)
        .await?
        .release
        .unwrap();
    assert_eq!((r2.id, r2.parent), (ReleaseId(2), Some(ReleaseId(1))));
    let (app_v2, version, _) = app_version(&host, &project).await;
    assert_eq!(version, "v2");

    // A failed upgrade (health fails): v2 serves again, the failure is recorded. The undo
    // confirmed v2's published port answers on the target host (through the ssh tunnel: that
    // loopback is not this machine's).
    let mut bad = publish(shop_within(&project, &demo, &busybox, "v3", "6s"), port);
    stacks::set_env(&mut bad, "app", "FAIL_HEALTH", "1");
    let err = host.apply(&bad, &opts(), &NoopObserver).await.unwrap_err();
    assert!(err.to_string().contains("service app"), "{err}");
    let slipway::Error::Deploy(inner) = &err else { panic!("{err}") };
    let undo = inner.undo().expect("an undo report");
    assert!(undo.restored(), "{}", undo.summary());
    let port_answered = slipway::deploy::Confirmation::PortAnswered { port };
    assert!(undo.actions.iter().any(|a| a.confirmed.contains(&port_answered)), "{undo:?}");
    let (still, version, _) = app_version(&host, &project).await;
    assert_eq!((still, version.as_str()), (app_v2, "v2"));

    // History and rollback.
    let history = host.history(&project).await?;
    assert_eq!(history.iter().map(|r| r.id.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(matches!(&history[2].outcome, ReleaseOutcome::Failed { service, .. } if service == "app"));
    let back = host.rollback(&project, None, &opts(), &NoopObserver).await?.release.unwrap();
    assert_eq!(back.rollback_of, Some(ReleaseId(1)));
    assert_eq!(app_version(&host, &project).await.1, "v1");

    assert_eq!(remote.accepted_connections() - before, 1, "the whole cycle used one SSH master connection");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bind_source_on_the_target_is_an_error_naming_the_path() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    let remote = RemoteHost::shared().await?;
    let busybox = images::busybox_base().await?;
    remote.load_image(&busybox)?;
    let project = names::unique("remote-bind");
    let _guard = remote.project_guard(&project);
    let missing = format!("/tmp/{project}-conf");
    let mut svc = stacks::service("web", &busybox);
    svc.command = Some(vec!["sh".into(), "-c".into(), "trap 'exit 0' TERM; while true; do sleep 0.2; done".into()]);
    svc.volumes.push(serde_json::from_value(serde_json::json!({
        "kind": "bind", "source": missing, "target": "/conf", "read_only": true, "create_host_path": false
    }))?);
    let mut stack = slipway::stack::StackSpec::default();
    stack.name = project.clone();
    stack.services.insert("web".into(), svc);
    let mut net = slipway::stack::NetworkSpec::default();
    net.name = format!("{project}_default");
    stack.networks.insert("default".into(), net);
    let options = ConnectOptions::host(Some(&remote.ssh_url())).ssh_config(Some(remote.ssh_config()));
    let host = DockerHost::connect(&Connection::resolve(&options)?).await?;
    let err = host.apply(&stack, &opts(), &NoopObserver).await.unwrap_err();
    assert_eq!(err.kind(), slipway::ErrorKind::InvalidInput);
    let err = host.apply(&stack, &opts(), &NoopObserver).await.unwrap_err().to_string();
    assert!(err.contains(&missing) && err.contains("service web") && err.contains("create_host_path"), "{err}");
    let filter = format!("label=com.docker.compose.project={project}");
    assert_eq!(remote.docker(&["ps", "-aq", "--filter", &filter])?.trim(), "", "nothing was created");
    // Once the path exists on the target, the same stack deploys.
    std::fs::create_dir_all(&missing)?;
    let out = host.apply(&stack, &opts(), &NoopObserver).await;
    std::fs::remove_dir_all(&missing)?;
    assert!(out?.release.is_some());
    Ok(())
}

/// Cuts the host's SSH (refuses new connections, kills the open ones) when the new app replica
/// has started: mid-rollout, with the old replica still serving.
struct CutWhenStarted {
    remote: &'static RemoteHost,
    cut: std::sync::Mutex<Option<slipway_e2e::remote_host::SshCut<'static>>>,
}

impl slipway::Observer for CutWhenStarted {
    fn event(&self, event: &slipway::Event) {
        use slipway::deploy::{DeployEvent, ReplicaState};
        if let slipway::Event::Deploy(DeployEvent::Replica { service, state: ReplicaState::Started, .. }) = event {
            let mut cut = self.cut.lock().unwrap();
            if service == "app" && cut.is_none() {
                *cut = Some(self.remote.cut_ssh().expect("cutting the host's SSH"));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_deploy_is_a_typed_error_and_the_next_deploy_converges() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    let remote = RemoteHost::shared().await?;
    let (demo, busybox) = (images::demo_image().await?, images::busybox_base().await?);
    for image in [&demo, &busybox] {
        remote.load_image(image)?;
    }
    let project = names::unique("remote-drop");
    let _guard = remote.project_guard(&project);
    let options = ConnectOptions::host(Some(&remote.ssh_url())).ssh_config(Some(remote.ssh_config()));
    // A short lease: the dropped deploy cannot release its lock, the next one takes it over.
    let opts = || opts().lease(Duration::from_secs(8)).lock_wait(Duration::from_secs(40));
    let host = DockerHost::connect(&Connection::resolve(&options)?).await?;
    host.apply(&shop(&project, &demo, &busybox, "v1"), &opts(), &NoopObserver).await?;
    let (v1, _, _) = app_version(&host, &project).await;
    drop(host);

    // The upgrade loses its connection once the new replica has started.
    let cutter = CutWhenStarted { remote, cut: std::sync::Mutex::new(None) };
    let host = DockerHost::connect(&Connection::resolve(&options)?).await?;
    let err = tokio::time::timeout(
        Duration::from_secs(120),
        host.apply(&shop_within(&project, &demo, &busybox, "v2", "8s"), &opts(), &cutter),
    )
    .await?
    .expect_err("a deploy whose connection dropped must fail");
    let cut = cutter.cut.lock().unwrap().take();
    assert!(cut.is_some(), "the connection was cut mid-rollout");
    let slipway::Error::Deploy(inner) = &err else { panic!("{err}") };
    let t = inner.transport().unwrap_or_else(|| panic!("the connection's failure is the typed cause: {err:?}"));
    assert!(
        matches!(t, TransportError::Dropped { .. } | TransportError::Unreachable { .. }),
        "a dropped or unreachable connection: {t:?}"
    );
    assert!(t.to_string().contains(&remote.addr()), "names the host: {t}");
    assert!(err.to_string().contains(&remote.addr()), "the deploy's error names the host: {err}");
    drop(host);
    // The old replica kept running through it all (the cut came before it was touched).
    let running = remote.docker(&["ps", "--format", "{{.Names}}"])?;
    assert!(running.contains(&v1), "the old release keeps serving: {running}");

    // The host is reachable again: the next deploy converges on v2 (taking over the lapsed lock,
    // reusing or replacing what the dropped deploy left).
    drop(cut);
    let host = DockerHost::connect(&Connection::resolve(&options)?).await?;
    let out = host.apply(&shop(&project, &demo, &busybox, "v2"), &opts(), &NoopObserver).await?;
    assert!(out.release.is_some(), "the next deploy ran: {:#?}", out.plan.steps);
    let (_, version, _) = app_version(&host, &project).await;
    assert_eq!(version, "v2");
    let again = host.apply(&shop(&project, &demo, &busybox, "v2"), &opts(), &NoopObserver).await?;
    let history: Vec<_> =
        host.history(&project).await?.into_iter().map(|r| (r.id.0, r.parent, format!("{:?}", r.outcome))).collect();
    assert!(again.plan.steps.is_empty(), "converged: a redeploy is a no-op: {:#?}\n{history:#?}", again.plan.steps);
    Ok(())
}
