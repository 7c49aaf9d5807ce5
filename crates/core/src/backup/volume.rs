//! Volume backups: a tar of a named volume's contents, read and written through the engine's
//! archive endpoints on a container that is created with the volume mounted but never started,
//! so neither a helper image nor a shell in any image is needed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder, ListContainersOptionsBuilder,
    ListImagesOptionsBuilder, RemoveContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use chrono::Utc;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::error::BackupError;
use super::event::BackupEvent;
use super::manifest::{BackupKind, BackupManifest};
use super::store::BackupStore;
use crate::digest::Sha256Hasher;
use crate::events::{Event, Observer};

/// Where the volume is mounted in the carrier container; archives hold `volume/...` entries.
pub(super) const MOUNT: &str = "/volume";

/// An image to create the (never started) carrier container from: one that a container using
/// the volume runs, else any tagged image on the host.
async fn carrier_image(docker: &Docker, volume: &str) -> Result<String, BackupError> {
    let filters: HashMap<&str, Vec<&str>> = HashMap::from([("volume", vec![volume])]);
    let users = docker
        .list_containers(Some(ListContainersOptionsBuilder::new().all(true).filters(&filters).build()))
        .await
        .map_err(BackupError::engine(format!("listing containers using volume {volume}")))?;
    if let Some(image) = users.iter().filter_map(|c| c.image_id.clone()).min() {
        return Ok(image);
    }
    let images = docker
        .list_images(Some(ListImagesOptionsBuilder::new().build()))
        .await
        .map_err(BackupError::engine("listing images"))?;
    images
        .iter()
        .map(|i| i.id.clone())
        .min()
        .ok_or_else(|| BackupError::Invalid(format!("no image on the host to mount volume {volume} with")))
}

/// A created container with `volume` at [`MOUNT`]; removed by [`remove_carrier`].
pub(super) async fn create_carrier(docker: &Docker, volume: &str) -> Result<String, BackupError> {
    let image = carrier_image(docker, volume).await?;
    let name = format!("slipway-volume-carrier-{}", hex::encode(rand::random::<[u8; 4]>()));
    let body = ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec!["/slipway-carrier-never-started".into()]),
        entrypoint: Some(vec![]),
        labels: Some([("dev.slipway.carrier".to_string(), volume.to_string())].into()),
        host_config: Some(HostConfig { binds: Some(vec![format!("{volume}:{MOUNT}")]), ..Default::default() }),
        ..Default::default()
    };
    let created = docker
        .create_container(Some(CreateContainerOptionsBuilder::new().name(&name).build()), body)
        .await
        .map_err(BackupError::engine(format!("creating a carrier container for volume {volume}")))?;
    Ok(created.id)
}

pub(super) async fn remove_carrier(docker: &Docker, id: &str) {
    if let Err(e) = docker.remove_container(id, Some(RemoveContainerOptionsBuilder::new().force(true).build())).await {
        tracing::warn!("could not remove carrier container {id}: {e}");
    }
}

/// Write a tar of volume `volume` into `store`; returns the manifest and its path.
pub async fn backup_volume(
    docker: &Docker,
    store: &BackupStore,
    project: &str,
    volume: &str,
    release: Option<&str>,
    observer: &dyn Observer,
) -> Result<(BackupManifest, PathBuf), BackupError> {
    let started = Instant::now();
    observer.event(&Event::Backup(BackupEvent::Started { source: format!("volume {volume}") }));
    docker.inspect_volume(volume).await.map_err(BackupError::engine(format!("volume {volume}")))?;
    let stem = BackupStore::stem(project, volume, release, Utc::now());
    let path = store.prepare(&stem, "tar").await?;
    let carrier = create_carrier(docker, volume).await?;
    let result = download(docker, &carrier, &path).await;
    remove_carrier(docker, &carrier).await;
    let (sha256, size) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
    };
    let manifest = BackupManifest {
        kind: BackupKind::Volume,
        project: project.to_string(),
        service: None,
        volume: Some(volume.to_string()),
        release: release.map(str::to_string),
        created: Utc::now(),
        file: format!("{stem}.tar"),
        sha256,
        size,
        database: None,
        user: None,
        server_version: None,
        image: None,
        duration_ms: started.elapsed().as_millis() as u64,
        tables: Default::default(),
    };
    let manifest_path = store.write_manifest(&manifest).await?;
    observer.event(&Event::Backup(BackupEvent::Written { file: path.display().to_string(), size }));
    Ok((manifest, manifest_path))
}

async fn download(docker: &Docker, carrier: &str, path: &Path) -> Result<(String, u64), BackupError> {
    let mut stream =
        docker.download_from_container(carrier, Some(DownloadFromContainerOptionsBuilder::new().path(MOUNT).build()));
    let mut file = tokio::fs::File::create(path).await.map_err(BackupError::io(path))?;
    let mut hasher = Sha256Hasher::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BackupError::engine("reading the volume's archive"))?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(BackupError::io(path))?;
    }
    file.sync_all().await.map_err(BackupError::io(path))?;
    Ok((hasher.finish().to_string(), size))
}

/// Restore a volume backup into volume `into` (default: the volume it was taken from). The
/// checksum is checked first; the target volume must not be used by any container; it is
/// emptied (removed and created again with the same driver and labels) before the archive goes in.
pub async fn restore_volume(
    docker: &Docker,
    backup: &Path,
    into: Option<&str>,
    observer: &dyn Observer,
) -> Result<String, BackupError> {
    let (manifest, data) = BackupStore::load(backup).await?;
    if manifest.kind != BackupKind::Volume {
        return Err(BackupError::Invalid(format!(
            "{} is a {:?} backup, not a volume archive",
            backup.display(),
            manifest.kind
        )));
    }
    BackupStore::check_integrity(&manifest, &data).await?;
    let volume = into.map(str::to_string).or(manifest.volume.clone()).unwrap_or_default();
    observer.event(&Event::Backup(BackupEvent::Restoring {
        file: data.display().to_string(),
        into: format!("volume {volume}"),
    }));
    let filters: HashMap<&str, Vec<&str>> = HashMap::from([("volume", vec![volume.as_str()])]);
    let users = docker
        .list_containers(Some(ListContainersOptionsBuilder::new().all(true).filters(&filters).build()))
        .await
        .map_err(BackupError::engine(format!("listing containers using volume {volume}")))?;
    if !users.is_empty() {
        let names: Vec<String> = users.iter().flat_map(|c| c.names.clone().unwrap_or_default()).collect();
        return Err(BackupError::Invalid(format!(
            "volume {volume} is used by container(s) {}: remove them (or restore into another volume) so it can be replaced whole",
            names.join(", ")
        )));
    }
    let (driver, labels) = match docker.inspect_volume(&volume).await {
        Ok(v) => {
            docker
                .remove_volume(&volume, None::<bollard::query_parameters::RemoveVolumeOptions>)
                .await
                .map_err(BackupError::engine(format!("emptying volume {volume}")))?;
            (Some(v.driver), Some(v.labels))
        }
        Err(_) => (None, None),
    };
    let req = bollard::models::VolumeCreateRequest { name: Some(volume.clone()), driver, labels, ..Default::default() };
    docker.create_volume(req).await.map_err(BackupError::engine(format!("creating volume {volume}")))?;
    let carrier = create_carrier(docker, &volume).await?;
    let result = upload(docker, &carrier, &data).await;
    remove_carrier(docker, &carrier).await;
    result.map(|()| volume)
}

async fn upload(docker: &Docker, carrier: &str, data: &Path) -> Result<(), BackupError> {
    let file = tokio::fs::File::open(data).await.map_err(BackupError::io(data))?;
    let body = tokio_util::io::ReaderStream::new(file);
    let opts = UploadToContainerOptionsBuilder::new().path("/").copy_uidgid("true").build();
    docker
        .upload_to_container(carrier, Some(opts), bollard::body_try_stream(body))
        .await
        .map_err(BackupError::engine("writing the archive into the volume"))
}
