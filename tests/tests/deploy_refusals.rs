//! Deploys refused before any change: production with `latest`, a missing external network, and
//! a held deploy lock (refused at once, or waited for); an expired lease is taken over.

use std::time::Duration;

use slipway::deploy::{DeployError, DeployLock, DeployOptions, Deployer, DockerHost};
use slipway::{ErrorKind, NoopObserver};
use slipway_e2e::{docker, images, names, project::ProjectGuard, stacks};

fn opts() -> DeployOptions {
    DeployOptions::default().min_running(Duration::from_millis(500))
}

/// Nothing of the project exists on the engine: no container, no network, no volume.
async fn nothing_exists(host: &DockerHost, project: &str) {
    let status = host.status(project).await.unwrap();
    assert!(status.containers.is_empty(), "{:#?}", status.containers);
    assert!(host.history(project).await.unwrap().is_empty());
    assert!(host.docker().inspect_network(&format!("{project}_default"), None).await.is_err());
    assert!(host.docker().inspect_volume(&format!("{project}_data")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_with_latest_and_missing_external_network_change_nothing() {
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("deploy");
    let _guard = ProjectGuard::new(&project);
    let host = DockerHost::new(docker::connect().await.unwrap());

    let mut latest = stacks::shop(&project, &demo, &busybox, "v1");
    latest.services.get_mut("app").unwrap().image = Some("127.0.0.1:5999/shop/app:latest".into());
    let err = host.apply(&latest, &opts().env("production"), &NoopObserver).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PolicyRefused, "{err}");
    assert!(err.to_string().contains("app"), "{err}");
    nothing_exists(&host, &project).await;

    let mut external = stacks::shop(&project, &demo, &busybox, "v1");
    let mut edge: slipway::stack::NetworkSpec = Default::default();
    edge.name = format!("{project}-edge-missing");
    edge.external = true;
    external.networks.insert("edge".into(), edge);
    external.services.get_mut("app").unwrap().networks.insert("edge".into(), Default::default());
    let err = host.apply(&external, &opts(), &NoopObserver).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("-edge-missing"), "{err}");
    nothing_exists(&host, &project).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_lock_refuses_or_waits_and_stale_lock_is_taken_over() {
    let demo = images::demo_image().await.unwrap();
    let busybox = images::busybox_base().await.unwrap();
    let project = names::unique("deploy");
    let _guard = ProjectGuard::new(&project);
    let docker = docker::connect().await.unwrap();
    let host = DockerHost::new(docker.clone());
    let stack = stacks::shop(&project, &demo, &busybox, "v1");

    // Held by a live holder (this process): refused at once, nothing changed.
    let lock =
        DeployLock::acquire(&docker, &project, Duration::ZERO, Duration::from_secs(60), &NoopObserver).await.unwrap();
    let err = host.apply(&stack, &opts(), &NoopObserver).await.unwrap_err();
    assert!(matches!(&err, slipway::Error::Deploy(e) if matches!(**e, DeployError::Locked { .. })), "{err}");
    assert!(host.status(&project).await.unwrap().containers.is_empty());

    // With --lock-wait: waits until the holder lets go, then deploys.
    let releaser = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        lock.release().await.unwrap();
    });
    let out = host.apply(&stack, &opts().lock_wait(Duration::from_secs(30)), &NoopObserver).await.unwrap();
    assert!(out.release.is_some());
    releaser.await.unwrap();

    // A lease its holder stopped renewing (a dead holder) is reported and taken over once it
    // expired (lease 1 s + its clock-skew margin of 1 s).
    let old =
        DeployLock::acquire(&docker, &project, Duration::ZERO, Duration::from_secs(1), &NoopObserver).await.unwrap();
    drop(old); // stops the renewal and leaves the container, as a killed process would
    let events = slipway::RecordingObserver::new();
    let v2 = stacks::shop(&project, &demo, &busybox, "v2");
    let wait = Duration::from_secs(30);
    let out = host.apply(&v2, &opts().lock_wait(wait), &events).await.unwrap();
    assert!(out.release.is_some());
    let stale = events
        .events()
        .iter()
        .any(|e| matches!(e, slipway::Event::Deploy(slipway::deploy::DeployEvent::StaleLock { .. })));
    assert!(stale, "a stale-lock event was reported");
}
