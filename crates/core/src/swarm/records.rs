//! Release records, the deploy lock and history, kept on the Swarm itself as Swarm configs
//! (replicated by the managers' Raft store, readable from any operator machine through the
//! manager's API): `<project>_slipway-release-<ID>` holds the record as JSON (the release and
//! every service's exact Swarm spec, so a rollback re-applies them), labelled with project and
//! release; `<project>_slipway-lock` is the lock. Records hold secret and config *names*, never
//! their values. Configs cannot change once created, so a record is written once, final.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use base64::Engine as _;
use bollard::models::{ConfigSpec, ServiceSpec};
use bollard::query_parameters::ListConfigsOptions;
use bollard::Docker;
use serde::{Deserialize, Serialize};

use super::error::SwarmError;
use crate::deploy::{labels, Release, ReleaseId};

/// Label marking a release record config.
pub const RECORD_KIND: &str = "dev.slipway.swarm-record";

/// One release on a Swarm: the release and the specs it applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SwarmRecord {
    /// The release (id, version, digests, stack, who, when, outcome, parent).
    pub release: Release,
    /// The Swarm spec of every long-running service, by compose name.
    pub specs: BTreeMap<String, ServiceSpec>,
    /// The secrets and configs the specs use (names only), so prune keeps them.
    pub objects: Vec<String>,
}

fn record_name(project: &str, id: ReleaseId) -> String {
    format!("{project}_slipway-release-{id}")
}

fn lock_name(project: &str) -> String {
    format!("{project}_slipway-lock")
}

/// The records of `project`, oldest first, with their config ids.
pub async fn list(docker: &Docker, project: &str) -> Result<Vec<(String, SwarmRecord)>, SwarmError> {
    let filters =
        HashMap::from([("label".to_string(), vec![format!("{}={project}", labels::PROJECT), RECORD_KIND.to_string()])]);
    let configs = docker
        .list_configs(Some(ListConfigsOptions { filters: Some(filters) }))
        .await
        .map_err(|e| SwarmError::engine("list release records of", project, e))?;
    let mut out = Vec::new();
    for c in configs {
        let (Some(id), Some(data)) = (c.id, c.spec.and_then(|s| s.data)) else { continue };
        let parsed = base64::engine::general_purpose::STANDARD
            .decode(data.as_bytes())
            .ok()
            .and_then(|b| serde_json::from_slice::<SwarmRecord>(&b).ok());
        match parsed {
            Some(r) => out.push((id, r)),
            None => tracing::warn!(config = %id, "unreadable Swarm release record skipped"),
        }
    }
    out.sort_by_key(|(_, r)| r.release.id);
    Ok(out)
}

/// Write a record (once, with its final outcome).
pub async fn write(docker: &Docker, record: &SwarmRecord) -> Result<(), SwarmError> {
    let project = &record.release.project;
    let json = serde_json::to_vec(record)
        .map_err(|e| SwarmError::Record { project: project.clone(), reason: e.to_string() })?;
    let name = record_name(project, record.release.id);
    let labels = HashMap::from([
        (labels::PROJECT.to_string(), project.clone()),
        (labels::RELEASE.to_string(), record.release.id.to_string()),
        (RECORD_KIND.to_string(), "release".to_string()),
    ]);
    docker
        .create_config(ConfigSpec {
            name: Some(name.clone()),
            labels: Some(labels),
            data: Some(base64::engine::general_purpose::STANDARD.encode(json)),
            ..Default::default()
        })
        .await
        .map_err(|e| SwarmError::engine("write release record", &name, e))?;
    Ok(())
}

/// The project's deploy lock on the Swarm, held while a deploy or rollback runs.
#[derive(Debug)]
pub struct SwarmLock {
    docker: Docker,
    id: String,
}

impl SwarmLock {
    /// Take the lock; a lock older than `stale_after` is taken over; otherwise wait up to
    /// `wait`, then refuse with who holds it.
    pub async fn acquire(
        docker: &Docker,
        project: &str,
        wait: Duration,
        stale_after: Duration,
    ) -> Result<Self, SwarmError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let now = chrono::Utc::now();
            let labels = HashMap::from([
                (labels::PROJECT.to_string(), project.to_string()),
                (labels::LOCK_HOLDER.to_string(), crate::deploy::who()),
                (labels::LOCK_SINCE.to_string(), now.to_rfc3339()),
            ]);
            let spec = ConfigSpec {
                name: Some(lock_name(project)),
                labels: Some(labels),
                data: Some(base64::engine::general_purpose::STANDARD.encode(b"lock")),
                ..Default::default()
            };
            match docker.create_config(spec).await {
                Ok(r) => return Ok(Self { docker: docker.clone(), id: r.id }),
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {}
                Err(e) => return Err(SwarmError::engine("take the deploy lock", project, e)),
            }
            let held = docker
                .inspect_config(&lock_name(project))
                .await
                .map_err(|e| SwarmError::engine("read the deploy lock", project, e))?;
            let l = held.spec.and_then(|s| s.labels).unwrap_or_default();
            let since = l.get(labels::LOCK_SINCE).cloned().unwrap_or_default();
            let age = chrono::DateTime::parse_from_rfc3339(&since)
                .map(|t| now.signed_duration_since(t).to_std().unwrap_or_default())
                .unwrap_or(Duration::MAX);
            if age > stale_after {
                if let Some(id) = held.id {
                    let _ = docker.delete_config(&id).await;
                }
                continue;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(SwarmError::Locked {
                    project: project.into(),
                    holder: l.get(labels::LOCK_HOLDER).cloned().unwrap_or_default(),
                    since,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Give the lock back.
    pub async fn release(self) -> Result<(), SwarmError> {
        self.docker
            .delete_config(&self.id)
            .await
            .map_err(|e| SwarmError::engine("release the deploy lock", &self.id, e))
    }
}
