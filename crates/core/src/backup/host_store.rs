//! Backups kept on the engine's host (remote room): by default a backup is kept in a volume on
//! the engine's host, next to what it protects, so that a throwaway CI runner loses nothing;
//! `--download DIR` also keeps a copy on the operator's machine. Files go in and out through the
//! engine's archive endpoints on a never-started carrier container (as volume backups do), so
//! this works the same over `ssh://`, TLS and the local socket.
//!
//! Each backup is its own volume, `slipway-backups.<stem>`, labelled with its manifest: the
//! engine's volume list is then the index ([`list_on_host`]) and removing a volume removes a
//! backup ([`prune_on_host`]), with no helper image or shell on the host (the archive API cannot
//! delete a file). A backup is named `host:<stem>.json` (its manifest); [`fetch_from_host`]
//! brings the manifest and its data file into a local directory for restore and verify (also
//! from the single `slipway-backups` volume of earlier versions).

use std::path::{Path, PathBuf};

use bollard::query_parameters::{DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;

use super::error::BackupError;
use super::manifest::BackupManifest;
use super::volume::{create_carrier, remove_carrier, MOUNT};

/// The prefix of every backup volume on the engine's host (`slipway-backups.<stem>`); alone, the
/// single volume earlier versions kept every backup in (still read by [`fetch_from_host`]).
pub const HOST_VOLUME: &str = "slipway-backups";
/// The prefix naming a backup on the host: `host:<stem>.json`.
pub const HOST_PREFIX: &str = "host:";
/// The label marking a backup volume; its value is the backup's name without [`HOST_PREFIX`].
const BACKUP_LABEL: &str = "dev.slipway.backup";
/// The label holding the backup's manifest (JSON; a manifest never holds a secret).
const MANIFEST_LABEL: &str = "dev.slipway.backup.manifest";
/// The label holding the backup's project, to list one project's backups.
const PROJECT_LABEL: &str = "dev.slipway.backup.project";

/// One backup kept on the engine's host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostBackup {
    /// Its name for restore and verify: `host:<stem>.json`.
    pub name: String,
    /// The volume holding it.
    pub volume: String,
    /// Its manifest.
    pub manifest: BackupManifest,
}

/// The volume holding backup `name` (`host:<stem>.json` or `<stem>.json`).
fn volume_of(name: &str) -> String {
    format!("{HOST_VOLUME}.{}", name.trim_end_matches(".json"))
}

async fn create_backup_volume(docker: &Docker, name: &str, manifest: &BackupManifest) -> Result<String, BackupError> {
    let volume = volume_of(name);
    let json = serde_json::to_string(manifest).map_err(|e| BackupError::Invalid(format!("manifest: {e}")))?;
    let labels = [
        (BACKUP_LABEL.to_string(), name.to_string()),
        (MANIFEST_LABEL.to_string(), json),
        (PROJECT_LABEL.to_string(), manifest.project.clone()),
    ];
    let req = bollard::models::VolumeCreateRequest {
        name: Some(volume.clone()),
        labels: Some(labels.into()),
        ..Default::default()
    };
    docker.create_volume(req).await.map_err(BackupError::engine(format!("creating volume {volume}")))?;
    Ok(volume)
}

/// Copy the backup whose manifest is `manifest_path` (and its data file beside it) into the
/// host's backup volume; returns its name there (`host:<stem>.json`).
pub async fn keep_on_host(docker: &Docker, manifest_path: &Path) -> Result<String, BackupError> {
    let (manifest, data) = super::store::BackupStore::load(manifest_path).await?;
    let name = format!("{}.json", stem_of(&manifest));
    let volume = create_backup_volume(docker, &name, &manifest).await?;
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
    let carrier = create_carrier(docker, &volume).await?;
    let opts = UploadToContainerOptionsBuilder::new().path(MOUNT).build();
    let result = docker
        .upload_to_container(&carrier, Some(opts), bollard::body_full(archive.into()))
        .await
        .map_err(BackupError::engine(format!("writing the backup into volume {volume}")));
    remove_carrier(docker, &carrier).await;
    if result.is_err() {
        let _ = docker.remove_volume(&volume, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
    }
    result.map(|()| format!("{HOST_PREFIX}{name}"))
}

/// The backups kept on the engine's host (of `project` only, when given), oldest first.
pub async fn list_on_host(docker: &Docker, project: Option<&str>) -> Result<Vec<HostBackup>, BackupError> {
    let mut labels = vec![BACKUP_LABEL.to_string()];
    labels.extend(project.map(|p| format!("{PROJECT_LABEL}={p}")));
    let filters: std::collections::HashMap<&str, Vec<&str>> =
        [("label", labels.iter().map(String::as_str).collect())].into();
    let opts = bollard::query_parameters::ListVolumesOptionsBuilder::new().filters(&filters).build();
    let listed = docker.list_volumes(Some(opts)).await.map_err(BackupError::engine("listing backup volumes"))?;
    let mut out: Vec<HostBackup> = listed
        .volumes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| {
            let name = v.labels.get(BACKUP_LABEL)?;
            match serde_json::from_str(v.labels.get(MANIFEST_LABEL)?) {
                Ok(manifest) => Some(HostBackup { name: format!("{HOST_PREFIX}{name}"), volume: v.name, manifest }),
                Err(e) => {
                    tracing::warn!("skipping backup volume {}: its manifest label: {e}", v.name);
                    None
                }
            }
        })
        .collect();
    out.sort_by(|a, b| a.manifest.created.cmp(&b.manifest.created).then(a.manifest.file.cmp(&b.manifest.file)));
    Ok(out)
}

/// Apply `policy` to the backups kept on the engine's host (of `project` only, when given):
/// remove the volumes of those it prunes; returns them.
pub async fn prune_on_host(
    docker: &Docker,
    policy: super::RetentionPolicy,
    now: chrono::DateTime<chrono::Utc>,
    project: Option<&str>,
) -> Result<Vec<HostBackup>, BackupError> {
    let all = list_on_host(docker, project).await?;
    let manifests: Vec<BackupManifest> = all.iter().map(|b| b.manifest.clone()).collect();
    let mut removed = Vec::new();
    for i in super::retention::select_for_pruning(&manifests, policy, now) {
        let b = &all[i];
        docker
            .remove_volume(&b.volume, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
            .map_err(BackupError::engine(format!("removing backup volume {}", b.volume)))?;
        removed.push(b.clone());
    }
    Ok(removed)
}

/// Bring backup `name` (`host:<stem>.json` or `<stem>.json`) from the host's backup volume into
/// `dir`; returns the local manifest path.
pub async fn fetch_from_host(docker: &Docker, name: &str, dir: &Path) -> Result<PathBuf, BackupError> {
    let name = name.strip_prefix(HOST_PREFIX).unwrap_or(name);
    if name.contains('/') || !name.ends_with(".json") {
        return Err(BackupError::Invalid(format!("{name:?} is not a backup name (expected host:<stem>.json)")));
    }
    let volume = match (docker.inspect_volume(&volume_of(name)).await, docker.inspect_volume(HOST_VOLUME).await) {
        (Ok(_), _) => volume_of(name),
        (Err(_), Ok(_)) => HOST_VOLUME.to_string(),
        (Err(_), Err(_)) => {
            return Err(BackupError::Invalid(format!(
                "no backup {HOST_PREFIX}{name} on the engine's host; see `slipway backup list`"
            )))
        }
    };
    let carrier = create_carrier(docker, &volume).await?;
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
        let chunk = chunk.map_err(BackupError::engine(format!("reading backup file {file} from the host")))?;
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
