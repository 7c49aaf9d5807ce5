//! The engine room over `tcp://` with TLS against a real second engine (`RemoteHost` in its own
//! network namespace, dockerd with `--tlsverify`, certificates made with openssl): a deploy, a
//! refused wrong CA, a refused client without a certificate, and `{ip}` probes run from the
//! engine's side through the relay helper (the container addresses are not routable from here).

use std::time::Duration;

use slipway::deploy::{DeployOptions, Deployer, DockerHost, ReleaseId};
use slipway::engine::{ConnectOptions, Connection, EngineError, TransportError};
use slipway::health::{parse_target_with, Outcome, TargetOptions};
use slipway::NoopObserver;
use slipway_e2e::remote_host::RemoteHost;
use slipway_e2e::{images, names, stacks};

/// The TLS host with the demo and busybox images loaded, and a deploy target over `tcp://` with
/// `--tlsverify` and the client certificate (and its connection).
async fn deploy_target() -> anyhow::Result<(&'static RemoteHost, DockerHost, [String; 2], Connection)> {
    let remote = RemoteHost::shared_tls().await?;
    let images = [images::demo_image().await?, images::busybox_base().await?];
    for image in &images {
        remote.load_image(image)?;
    }
    let connection = Connection::resolve(&tls_options(remote))?;
    Ok((remote, DockerHost::connect(&connection).await?, images, connection))
}

/// `--tlsverify` with the harness's CA and client certificate.
fn tls_options(remote: &RemoteHost) -> ConnectOptions {
    let (url, files) = remote.tls().expect("a TLS host");
    let dir = &files.client_dir;
    ConnectOptions::host(Some(&url)).tls(
        false,
        true,
        Some(dir.join("ca.pem")),
        Some(dir.join("cert.pem")),
        Some(dir.join("key.pem")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_engine_gets_a_deploy() -> anyhow::Result<()> {
    let (remote, host, [demo, busybox], _) = deploy_target().await?;
    let project = names::unique("remote-tls");
    let _guard = remote.project_guard(&project);
    let opts = DeployOptions::default().min_running(Duration::from_millis(500));
    let out = host.apply(&stacks::shop(&project, &demo, &busybox, "v1"), &opts, &NoopObserver).await?;
    assert_eq!(out.release.map(|r| r.id), Some(ReleaseId(1)));
    assert!(remote.docker(&["ps", "--format", "{{.Names}}"])?.contains(&format!("{project}-app-1-r1")));
    Ok(())
}

#[tokio::test]
async fn a_wrong_ca_and_a_missing_client_certificate_are_refused() -> anyhow::Result<()> {
    let remote = RemoteHost::shared_tls().await?;
    let (url, files) = remote.tls().expect("a TLS host");
    let dir = &files.client_dir;
    let wrong_ca = ConnectOptions::host(Some(&url)).tls(
        false,
        true,
        Some(files.wrong_ca.clone()),
        Some(dir.join("cert.pem")),
        Some(dir.join("key.pem")),
    );
    let err = slipway::engine::connect(&Connection::resolve(&wrong_ca)?).await.unwrap_err();
    match &err {
        EngineError::Transport(TransportError::Tls { host, detail }) => {
            assert!(host.contains(&remote.addr()), "{err}");
            assert!(detail.to_lowercase().contains("unknown") || detail.contains("issuer"), "{detail}");
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    assert!(err.to_string().contains("--tlscacert"), "says what to do: {err}");
    // The right CA but no client certificate: the engine refuses it.
    let anonymous = ConnectOptions::host(Some(&url)).tls(false, true, Some(dir.join("ca.pem")), None, None);
    assert!(slipway::engine::connect(&Connection::resolve(&anonymous)?).await.is_err());
    Ok(())
}

/// A `docker inspect -f FORMAT NAME` of the remote host, trimmed.
fn inspect(remote: &RemoteHost, format: &str, name: &str) -> anyhow::Result<String> {
    Ok(remote.docker(&["inspect", "-f", format, name])?.trim().to_string())
}

/// The relay helpers on `network` of the remote host (full ids).
fn relays_on(remote: &RemoteHost, network: &str) -> anyhow::Result<Vec<String>> {
    let label = format!("label={}=1", slipway::engine::RELAY_LABEL);
    let network = format!("network={network}");
    let out = remote.docker(&["ps", "-aq", "--no-trunc", "--filter", &label, "--filter", &network])?;
    Ok(out.split_whitespace().map(str::to_string).collect())
}

/// `slipway ARGS -H tcp://... --tlsverify ...` against the TLS engine; exit code and stdout + stderr.
fn cli(remote: &RemoteHost, args: &[&str]) -> anyhow::Result<(Option<i32>, String)> {
    let (url, files) = remote.tls().expect("a TLS host");
    let dir = &files.client_dir;
    let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let out = std::process::Command::new(slipway_e2e::cli::slipway_bin())
        .args(args)
        .args(["-H", &url, "--tlsverify", "--tlscacert", &path("ca.pem")])
        .args(["--tlscert", &path("cert.pem"), "--tlskey", &path("key.pem")])
        .env_remove("DOCKER_HOST")
        .output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.code(), text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_of_container_addresses_over_tls_run_from_the_engines_side() -> anyhow::Result<()> {
    let (remote, host, [demo, busybox], connection) = deploy_target().await?;
    let (url, _) = remote.tls().expect("a TLS host");
    let project = names::unique("remote-tls-ip");
    let guard = remote.project_guard(&project);
    // A helper left over by a command killed before it could remove it (only its label matters
    // to prune; a stopped one counts once older than a helper's create + start can take).
    let label = format!("{}=1", slipway::engine::RELAY_LABEL);
    let left = remote.docker(&["create", "--label", &label, &busybox, "true"])?.trim().to_string();
    let left_at = std::time::Instant::now();
    // The app gated on its own address and name, which are not routable from here (the harness
    // blackholes the remote host's container networks): the relay helper probes them from the
    // engine's side, on the app's network.
    let mut stack = stacks::shop(&project, &demo, &busybox, "v1");
    let app = stack.services.get_mut("app").expect("the shop stack has an app");
    app.healthcheck = None;
    let probes = ["tcp://{ip}:8080", "http://{ip}:8080/health", "http://{container}:8080/version"];
    app.extensions.insert("x-slipway".into(), serde_json::json!({"probes": probes, "health_timeout": "60s"}));
    let opts = DeployOptions::default().min_running(Duration::from_millis(500));
    let fresh_engine = remote.docker(&["images", "-q", "slipway-relay"])?.trim().is_empty();
    let started = std::time::Instant::now();
    let out = host.apply(&stack, &opts, &NoopObserver).await?;
    assert_eq!(out.release.map(|r| r.id), Some(ReleaseId(1)));
    eprintln!(
        "relay: deploy gated on three relayed probes {:?} (helper image imported: {fresh_engine})",
        started.elapsed()
    );

    let app_name = format!("{project}-app-1-r1");
    let ip = inspect(remote, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", &app_name)?;
    let network = inspect(remote, "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", &app_name)?;
    let addr: std::net::SocketAddr = format!("{ip}:8080").parse()?;
    assert!(
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
        "the container address is not routable from the test"
    );

    // Direct probes through the same connection: the open port answers, a closed one is refused
    // on the engine's side and says so.
    let options = TargetOptions::default().via(Some(connection.clone())).near(Some(&app_name));
    let open = parse_target_with(&format!("tcp://{ip}:8080"), &options)?.probe(Duration::from_secs(10)).await;
    assert_eq!(open.outcome, Outcome::Healthy, "{open:?}");
    let http = parse_target_with(&format!("http://{ip}:8080/health"), &options)?.probe(Duration::from_secs(10)).await;
    assert_eq!(http.outcome, Outcome::Healthy, "{http:?}");
    eprintln!("relay: warm tcp:// probe {:?}, warm http:// probe {:?}", open.latency, http.latency);
    // A second connection gets a helper of its own (the image is already there): its first probe
    // waits for the helper's creation.
    let fresh = Connection::resolve(&tls_options(remote))?;
    let fresh_options = TargetOptions::default().via(Some(fresh.clone())).near(Some(&app_name));
    let first =
        parse_target_with(&format!("http://{ip}:8080/health"), &fresh_options)?.probe(Duration::from_secs(30)).await;
    assert_eq!(first.outcome, Outcome::Healthy, "{first:?}");
    eprintln!("relay: first http:// probe of a new connection (helper created and joined) {:?}", first.latency);
    drop((fresh_options, fresh));
    for target in [format!("tcp://{ip}:9"), format!("http://{ip}:9/health")] {
        let probe = parse_target_with(&target, &options)?;
        assert_eq!(probe.target(), target, "reports the target as written");
        match probe.probe(Duration::from_secs(10)).await.outcome {
            Outcome::Unreachable { reason } => {
                assert!(reason.starts_with(&format!("from {url}: ")), "{target}: {reason}");
                assert!(!reason.contains("from this machine"), "{target}: {reason}");
            }
            other => panic!("{target}: expected unreachable, got {other:?}"),
        }
    }
    let refused = parse_target_with(&format!("tcp://{ip}:9"), &options)?.probe(Duration::from_secs(10)).await;
    assert!(format!("{:?}", refused.outcome).to_lowercase().contains("refused"), "{refused:?}");

    // One helper for the connection (the deployer's and these probes share it), on the app's
    // network, with minimal privileges.
    let relays = relays_on(remote, &network)?;
    assert_eq!(relays.len(), 1, "one relay helper per connection: {relays:?}");
    let relay = &relays[0];
    let privileges = inspect(
        remote,
        "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.Config.User}} \
         {{.HostConfig.AutoRemove}} {{.HostConfig.Memory}} {{len .HostConfig.PortBindings}}",
        relay,
    )?;
    assert_eq!(privileges, "true [ALL] [no-new-privileges] 65534:65534 true 33554432 0", "{privileges}");
    assert!(inspect(remote, "{{.Config.Image}}", relay)?.starts_with("slipway-relay:"));

    // `slipway probe -H tcp://...`: the same from the CLI, its own helper gone when it exits.
    let (code, text) = cli(remote, &["probe", "--timeout", "10s", &format!("tcp://{ip}:8080")])?;
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = cli(remote, &["probe", "--timeout", "10s", &format!("http://{ip}:9/health")])?;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("from {url}")), "{text}");
    assert_eq!(relays_on(remote, &network)?, relays, "the CLI's helper is gone after it exits");

    // The connection dropped (deployer, probes, clones): its helper is removed.
    let image = inspect(remote, "{{.Config.Image}}", relay)?;
    drop((options, host, connection));
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while relays_on(remote, &network)?.contains(relay) {
        assert!(std::time::Instant::now() < deadline, "the relay helper {relay:.12} is still there");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The left-over helper is removed by `slipway prune` (once past the 45 s a start may take).
    tokio::time::sleep(Duration::from_secs(47).saturating_sub(left_at.elapsed())).await;
    let (code, text) = cli(remote, &["prune", "-p", &project])?;
    assert_eq!(code, Some(0), "{text}");
    assert!(remote.docker(&["ps", "-aq", "--filter", &format!("id={left}")])?.trim().is_empty(), "{text}");
    // And a helper's main process ends by itself once idle (here after 1 s instead of 10 min).
    let started = std::time::Instant::now();
    remote.docker(&[
        "run",
        "--rm",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--user",
        "65534",
        &image,
        "/slipway-relay",
        "idle",
        "1",
    ])?;
    assert!(started.elapsed() < Duration::from_secs(20), "idle for {:?}", started.elapsed());
    drop(guard);
    Ok(())
}
