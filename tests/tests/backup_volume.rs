//! Volume backups through the engine's archive endpoints: archive a named volume, change it,
//! restore it whole; a volume still used by a container is refused with nothing changed.

use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig, VolumeCreateRequest};
use bollard::query_parameters::{CreateContainerOptionsBuilder, LogsOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;
use slipway::backup::{self, BackupError, BackupStore};
use slipway::NoopObserver;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::images::busybox_base;
use slipway_e2e::{docker, names};

/// Run `script` in a busybox container with `volume` at /data; its output once it exits.
async fn sh(docker: &Docker, cleanup: &Cleanup, volume: &str, script: &str) -> String {
    let image = busybox_base().await.unwrap();
    let name = names::unique("backup");
    let body = ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec!["sh".into(), "-c".into(), script.into()]),
        host_config: Some(HostConfig { binds: Some(vec![format!("{volume}:/data")]), ..Default::default() }),
        ..Default::default()
    };
    let created =
        docker.create_container(Some(CreateContainerOptionsBuilder::new().name(&name).build()), body).await.unwrap();
    cleanup.container(&created.id);
    docker.start_container(&created.id, None).await.unwrap();
    let mut wait = docker.wait_container(&created.id, None);
    let _ = tokio::time::timeout(Duration::from_secs(30), wait.next()).await;
    let mut logs = docker.logs(&created.id, Some(LogsOptionsBuilder::new().stdout(true).stderr(true).build()));
    let mut out = String::new();
    while let Some(Ok(chunk)) = logs.next().await {
        out.push_str(&chunk.to_string());
    }
    docker.remove_container(&created.id, None).await.unwrap();
    out
}

#[tokio::test]
async fn a_volume_round_trips_and_an_attached_volume_is_refused() {
    let cleanup = Cleanup::new();
    let docker = docker::connect().await.unwrap();
    let project = names::unique("backup");
    let volume = format!("{project}_uploads");
    docker.create_volume(VolumeCreateRequest { name: Some(volume.clone()), ..Default::default() }).await.unwrap();
    cleanup.volume(&volume);
    sh(
        &docker,
        &cleanup,
        &volume,
        "mkdir -p /data/a && echo original > /data/a/file && echo keep > /data/top && chown 1234:1234 /data/top",
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let store = BackupStore::new(dir.path());
    let (manifest, manifest_path) =
        backup::backup_volume(&docker, &store, &project, &volume, Some("r7"), &NoopObserver).await.unwrap();
    assert_eq!(manifest.volume.as_deref(), Some(volume.as_str()));
    assert!(manifest.file.ends_with(".tar") && manifest.size > 0);

    sh(&docker, &cleanup, &volume, "echo changed > /data/a/file && rm /data/top && echo extra > /data/extra").await;

    // While a container (even a stopped one) holds the volume, a restore is refused.
    let image = busybox_base().await.unwrap();
    let holder = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&names::unique("backup")).build()),
            ContainerCreateBody {
                image: Some(image),
                host_config: Some(HostConfig { binds: Some(vec![format!("{volume}:/data")]), ..Default::default() }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    cleanup.container(&holder.id);
    match backup::restore_volume(&docker, &manifest_path, None, &NoopObserver).await {
        Err(e @ BackupError::Invalid(_)) => assert!(e.to_string().contains(&volume), "{e}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    docker.remove_container(&holder.id, None).await.unwrap();

    let restored = backup::restore_volume(&docker, &manifest_path, None, &NoopObserver).await.unwrap();
    assert_eq!(restored, volume);
    let listing = sh(&docker, &cleanup, &volume, "cat /data/a/file /data/top; ls /data; stat -c %u /data/top").await;
    assert_eq!(listing.split_whitespace().collect::<Vec<_>>(), ["original", "keep", "a", "top", "1234"], "{listing}");
}
