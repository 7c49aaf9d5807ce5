//! Project-level backups: every database of a project (the running PostgreSQL services), the
//! hook the deployer runs before a deploy touches anything, and the default backup directory.

use std::path::PathBuf;

use bollard::Docker;
use chrono::Utc;

use super::engine;
use super::error::BackupError;
use super::event::BackupEvent;
use super::manifest::BackupManifest;
use super::postgres::{backup_postgres, is_postgres_image, postgres_services, PostgresTarget};
use super::retention::RetentionPolicy;
use super::store::BackupStore;
use crate::events::{Event, Observer};
use crate::stack::StackSpec;

/// The backup directory when none is given: `SLIPWAY_BACKUP_DIR`, else `/var/lib/slipway/backups`
/// for root, else `~/.local/share/slipway/backups`.
pub fn default_backup_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SLIPWAY_BACKUP_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match home {
        Some(h) if h != std::path::Path::new("/root") => h.join(".local/share/slipway/backups"),
        _ => PathBuf::from("/var/lib/slipway/backups"),
    }
}

/// Back up `services` of `project` (all running PostgreSQL services when empty).
pub async fn backup_databases(
    docker: &Docker,
    store: &BackupStore,
    project: &str,
    services: &[String],
    release: Option<&str>,
    observer: &dyn Observer,
) -> Result<Vec<(BackupManifest, PathBuf)>, BackupError> {
    let services =
        if services.is_empty() { running_postgres_services(docker, project).await? } else { services.to_vec() };
    if services.is_empty() {
        return Err(BackupError::Invalid(format!("project {project:?} runs no PostgreSQL service: name one with --service, or back up a volume with --volume")));
    }
    let mut out = Vec::new();
    for service in services {
        let mut target = PostgresTarget::new(project, service);
        target.release = release.map(str::to_string);
        out.push(backup_postgres(docker, store, &target, observer).await?);
    }
    Ok(out)
}

async fn running_postgres_services(docker: &Docker, project: &str) -> Result<Vec<String>, BackupError> {
    let mut found: Vec<String> = engine::project_containers(docker, project)
        .await?
        .into_iter()
        .filter(|(_, image)| is_postgres_image(image))
        .map(|(service, _)| service)
        .collect();
    found.sort();
    found.dedup();
    Ok(found)
}

/// The deployer's pre-deploy hook: back up every PostgreSQL service of `stack` that is running
/// now (a first deploy has nothing to back up), then apply `retention`. Any failure is returned
/// before the deploy changes anything.
pub async fn backup_before_deploy(
    docker: &Docker,
    store: &BackupStore,
    stack: &StackSpec,
    release: Option<&str>,
    retention: RetentionPolicy,
    observer: &dyn Observer,
) -> Result<Vec<(BackupManifest, PathBuf)>, BackupError> {
    let running: Vec<String> =
        engine::project_containers(docker, &stack.name).await?.into_iter().map(|(s, _)| s).collect();
    let services: Vec<String> = postgres_services(stack).into_iter().filter(|s| running.contains(s)).collect();
    let mut out = Vec::new();
    for service in services {
        let mut target = PostgresTarget::new(&stack.name, service);
        target.release = release.map(str::to_string);
        out.push(backup_postgres(docker, store, &target, observer).await?);
    }
    let removed = store.prune(retention, Utc::now()).await?;
    if !removed.is_empty() {
        observer.event(&Event::Backup(BackupEvent::Pruned {
            files: removed.iter().map(|p| p.display().to_string()).collect(),
        }));
    }
    Ok(out)
}
