//! Restore and verify a backup named by a [`BackupRef`] (kept on the engine's host or a local
//! file), the same for every face: a volume archive goes back into its volume, a database dump
//! into its service, another service or a scratch container. The CLI's `restore` and
//! `backup verify` and Python's `restore` and `verify_backup` call these.

use std::collections::BTreeMap;

use bollard::Docker;

use super::destination::BackupRef;
use super::error::BackupError;
use super::manifest::BackupKind;
use super::postgres::{restore_postgres, verify_postgres, RestoreTarget};
use super::store::BackupStore;
use super::volume::restore_volume;
use crate::events::Observer;

/// Where a restore goes (`--into`, `-p`, `--scratch`, `--volume`; Python's keywords).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreRequest {
    /// A database backup into this service (default: the one it was taken from).
    pub into: Option<String>,
    /// The project of that service (default: the backup's).
    pub project: Option<String>,
    /// A database backup into a scratch container (removed afterwards) instead.
    pub scratch: bool,
    /// A volume archive into this volume (default: the one it was taken from).
    pub volume: Option<String>,
}

impl RestoreRequest {
    /// The request these arguments make.
    pub fn new(into: Option<String>, project: Option<String>, scratch: bool, volume: Option<String>) -> Self {
        RestoreRequest { into, project, scratch, volume }
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RestoreOutcome {
    /// The backup as named (`host:<stem>.json` or the path given).
    pub backup: String,
    /// Where it went (`volume NAME`, `service shop/db`, `scratch container`).
    pub into: String,
    /// Row counts per table after a database restore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<BTreeMap<String, u64>>,
}

/// Restore `backup` as `request` says; a backup kept on the host is fetched into a scratch
/// directory first (removed afterwards). The checksum is checked before anything is applied.
pub async fn restore_backup(
    docker: &Docker,
    backup: &BackupRef,
    request: &RestoreRequest,
    observer: &dyn Observer,
) -> Result<RestoreOutcome, BackupError> {
    let scratch = tempfile::tempdir().map_err(BackupError::io(std::env::temp_dir()))?;
    let local = backup.fetch(docker, scratch.path()).await?;
    let (manifest, _) = BackupStore::load(&local).await?;
    let name = backup.to_string();
    if manifest.kind == BackupKind::Volume {
        let volume = restore_volume(docker, &local, request.volume.as_deref(), observer).await?;
        return Ok(RestoreOutcome { backup: name, into: format!("volume {volume}"), tables: None });
    }
    let target = match request.scratch {
        true => RestoreTarget::Scratch,
        false => RestoreTarget::Service {
            project: request.project.clone().unwrap_or(manifest.project.clone()),
            service: request.into.clone().or(manifest.service.clone()).unwrap_or_default(),
        },
    };
    let report = restore_postgres(docker, &local, &target, observer).await?;
    Ok(RestoreOutcome { backup: name, into: report.into, tables: Some(report.tables) })
}

/// Verify the PostgreSQL backup `backup`: checksum, a restore into a scratch container, and the
/// per-table row counts compared with the manifest; returns the restored counts.
pub async fn verify_backup(
    docker: &Docker,
    backup: &BackupRef,
    observer: &dyn Observer,
) -> Result<BTreeMap<String, u64>, BackupError> {
    let scratch = tempfile::tempdir().map_err(BackupError::io(std::env::temp_dir()))?;
    let local = backup.fetch(docker, scratch.path()).await?;
    Ok(verify_postgres(docker, &local, observer).await?.tables)
}
