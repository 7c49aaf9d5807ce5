//! The host's backup volume (remote room): by default a backup is kept in a named volume on the
//! engine's host (`slipway-backups`), next to what it protects, so that a throwaway CI runner
//! loses nothing; `--download DIR` also keeps a copy on the operator's machine. Files go in and
//! out through the engine's archive endpoints on a never-started carrier container (as volume
//! backups do), so this works the same over `ssh://`, TLS and the local socket.
//!
//! A backup in the host volume is named `host:<stem>.json` (its manifest); [`fetch_from_host`]
//! brings the manifest and its data file into a local directory for restore and verify.

use std::path::{Path, PathBuf};

use bollard::query_parameters::{DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;

use super::error::BackupError;
use super::manifest::BackupManifest;
use super::volume::{create_carrier, remove_carrier, MOUNT};

/// The volume on the engine's host that holds backups.
pub const HOST_VOLUME: &str = "slipway-backups";
/// The prefix naming a backup in [`HOST_VOLUME`]: `host:<stem>.json`.
pub const HOST_PREFIX: &str = "host:";

async fn ensure_volume(docker: &Docker) -> Result<(), BackupError> {
    if docker.inspect_volume(HOST_VOLUME).await.is_ok() {
        return Ok(());
    }
    let req = bollard::models::VolumeCreateRequest {
        name: Some(HOST_VOLUME.into()),
        labels: Some([("dev.slipway.backups".to_string(), "true".to_string())].into()),
        ..Default::default()
    };
    docker.create_volume(req).await.map_err(BackupError::engine(format!("creating volume {HOST_VOLUME}")))?;
    Ok(())
}

/// Copy the backup whose manifest is `manifest_path` (and its data file beside it) into the
/// host's backup volume; returns its name there (`host:<stem>.json`).
pub async fn keep_on_host(docker: &Docker, manifest_path: &Path) -> Result<String, BackupError> {
    let (manifest, data) = super::store::BackupStore::load(manifest_path).await?;
    ensure_volume(docker).await?;
    let name = format!("{}.json", stem_of(&manifest));
    let archive = {
        let (manifest_path, data_path, name, file) =
            (manifest_path.to_path_buf(), data.clone(), name.clone(), manifest.file.clone());
        tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut b = tar::Builder::new(Vec::new());
            b.append_path_with_name(&data_path, &file)?;
            b.append_path_with_name(&manifest_path, &name)?;
            b.into_inner()
        })
        .await
        .map_err(|e| BackupError::Invalid(format!("packing the backup: {e}")))?
        .map_err(BackupError::io(&data))?
    };
    let carrier = create_carrier(docker, HOST_VOLUME).await?;
    let opts = UploadToContainerOptionsBuilder::new().path(MOUNT).build();
    let result = docker
        .upload_to_container(&carrier, Some(opts), bollard::body_full(archive.into()))
        .await
        .map_err(BackupError::engine(format!("writing the backup into volume {HOST_VOLUME}")));
    remove_carrier(docker, &carrier).await;
    result.map(|()| format!("{HOST_PREFIX}{name}"))
}

/// Bring backup `name` (`host:<stem>.json` or `<stem>.json`) from the host's backup volume into
/// `dir`; returns the local manifest path.
pub async fn fetch_from_host(docker: &Docker, name: &str, dir: &Path) -> Result<PathBuf, BackupError> {
    let name = name.strip_prefix(HOST_PREFIX).unwrap_or(name);
    if name.contains('/') || !name.ends_with(".json") {
        return Err(BackupError::Invalid(format!("{name:?} is not a backup name (expected host:<stem>.json)")));
    }
    let carrier = create_carrier(docker, HOST_VOLUME).await?;
    let result = async {
        let manifest_path = download_file(docker, &carrier, name, dir).await?;
        let (manifest, _) = super::store::BackupStore::load(&manifest_path).await?;
        download_file(docker, &carrier, &manifest.file, dir).await?;
        Ok(manifest_path)
    }
    .await;
    remove_carrier(docker, &carrier).await;
    result
}

async fn download_file(docker: &Docker, carrier: &str, file: &str, dir: &Path) -> Result<PathBuf, BackupError> {
    let path = format!("{MOUNT}/{file}");
    let mut stream =
        docker.download_from_container(carrier, Some(DownloadFromContainerOptionsBuilder::new().path(&path).build()));
    let mut tar_bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BackupError::engine(format!("reading {file} from volume {HOST_VOLUME}")))?;
        tar_bytes.extend_from_slice(&chunk);
    }
    tokio::fs::create_dir_all(dir).await.map_err(BackupError::io(dir))?;
    let target = dir.join(file);
    let out = target.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        let mut entry = archive.entries()?.next().ok_or_else(|| std::io::Error::other("empty archive"))??;
        let mut f = std::fs::File::create(&out)?;
        std::io::copy(&mut entry, &mut f)?;
        f.sync_all()
    })
    .await
    .map_err(|e| BackupError::Invalid(format!("unpacking {file}: {e}")))?
    .map_err(BackupError::io(&target))?;
    Ok(target)
}

fn stem_of(manifest: &BackupManifest) -> String {
    Path::new(&manifest.file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}
