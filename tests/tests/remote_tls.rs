//! The engine room over `tcp://` with TLS against a real second engine (`RemoteHost` in its own
//! network namespace, dockerd with `--tlsverify`, certificates made with openssl): a deploy, a
//! refused wrong CA, a refused client without a certificate, and `{ip}` probes that say they ran
//! from this machine.

use std::time::Duration;

use slipway::deploy::{DeployOptions, Deployer, DockerHost, ReleaseId};
use slipway::engine::{ConnectOptions, Connection, EngineError, TransportError};
use slipway::NoopObserver;
use slipway_e2e::remote_host::RemoteHost;
use slipway_e2e::{images, names, stacks};

/// The TLS host with the demo and busybox images loaded, and a deploy target over `tcp://` with
/// `--tlsverify` and the client certificate.
async fn deploy_target() -> anyhow::Result<(&'static RemoteHost, DockerHost, [String; 2])> {
    let remote = RemoteHost::shared_tls().await?;
    let (url, files) = remote.tls().expect("a TLS host");
    let images = [images::demo_image().await?, images::busybox_base().await?];
    for image in &images {
        remote.load_image(image)?;
    }
    let dir = &files.client_dir;
    let options = ConnectOptions::host(Some(&url)).tls(
        false,
        true,
        Some(dir.join("ca.pem")),
        Some(dir.join("cert.pem")),
        Some(dir.join("key.pem")),
    );
    Ok((remote, DockerHost::connect(&Connection::resolve(&options)?).await?, images))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_engine_gets_a_deploy() -> anyhow::Result<()> {
    let (remote, host, [demo, busybox]) = deploy_target().await?;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_of_container_addresses_over_tls_say_where_they_ran() -> anyhow::Result<()> {
    let (remote, host, [demo, busybox]) = deploy_target().await?;
    let (url, _) = remote.tls().expect("a TLS host");
    let project = names::unique("remote-tls-ip");
    let _guard = remote.project_guard(&project);
    // The app gated on its own address: not routable from here (the harness blackholes it), and
    // the TLS engine cannot open connections for slipway: the failure says so and what to use.
    let mut stack = stacks::shop(&project, &demo, &busybox, "v1");
    let app = stack.services.get_mut("app").expect("the shop stack has an app");
    app.healthcheck = None;
    app.extensions
        .insert("x-slipway".into(), serde_json::json!({"probes": ["tcp://{ip}:8080"], "health_timeout": "4s"}));
    let opts = DeployOptions::default().min_running(Duration::from_millis(500));
    let err = host.apply(&stack, &opts, &NoopObserver).await.expect_err("the probe cannot reach the container");
    let text = err.to_string();
    assert!(text.contains("service app"), "{text}");
    assert!(text.contains(&format!("from this machine, not from the engine's host {url}")), "{text}");
    assert!(text.contains("ssh://"), "says what to use instead: {text}");
    Ok(())
}
