//! Release records and history, kept on the Swarm itself as Swarm configs
//! (replicated by the managers' Raft store, readable from any operator machine through the
//! manager's API): `<project>_slipway-release-<ID>` holds the record as JSON (the release and
//! every service's exact Swarm spec, so a rollback re-applies them), labelled with project and
//! release (the lock is `lock.rs`). Records hold secret and config *names*, never
//! their values. Configs cannot change once created, so a record is written once, final.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use bollard::models::{ConfigSpec, ServiceSpec};
use bollard::query_parameters::{InspectServiceOptions, ListConfigsOptions, ListTasksOptions};
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
    /// Per service, the sha256 of its environment (`K=V` lines, sorted) as the spec sent it. The
    /// written record keeps only the variables' names ([`sealed`]); a rollback takes the values
    /// back from a spec the Swarm keeps (the service's current or previous spec) whose hash
    /// matches ([`restore_env`]).
    #[serde(default)]
    pub env_sha256: BTreeMap<String, String>,
}

fn env_of(spec: &ServiceSpec) -> Option<&Vec<String>> {
    spec.task_template.as_ref()?.container_spec.as_ref()?.env.as_ref()
}

/// sha256 (hex, `sha256:` prefixed) of a spec's environment lines, sorted; `None` without any.
pub fn env_sha256(spec: &ServiceSpec) -> Option<String> {
    env_of(spec).and_then(|e| env_lines_sha256(e))
}

fn env_lines_sha256(env: &[String]) -> Option<String> {
    if env.is_empty() {
        return None;
    }
    let mut env = env.to_vec();
    env.sort();
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut h, env.join("\n").as_bytes());
    Some(format!("sha256:{}", hex::encode(sha2::Digest::finalize(h))))
}

/// `record` as it is written: no environment value anywhere (the stack keeps the names, each
/// spec's `Env` keeps `NAME` only), the hashes in `env_sha256`.
pub fn sealed(record: &SwarmRecord) -> SwarmRecord {
    let mut out = record.clone();
    out.release.stack = crate::deploy::without_env_values(&record.release.stack);
    for (name, spec) in out.specs.iter_mut() {
        if let Some(hash) = env_sha256(spec) {
            out.env_sha256.insert(name.clone(), hash);
        }
        let env = spec.task_template.as_mut().and_then(|t| t.container_spec.as_mut()).and_then(|c| c.env.as_mut());
        for line in env.into_iter().flatten() {
            if let Some((k, _)) = line.split_once('=') {
                *line = k.to_string();
            }
        }
    }
    out
}

/// Put the environment values back into a sealed `spec`: the first of `kept` (environments the
/// Swarm holds: the service's spec, its tasks' specs) whose lines hash to `want`. False when none does.
pub fn restore_env(spec: &mut ServiceSpec, want: &str, kept: &[Vec<String>]) -> bool {
    let Some(found) = kept.iter().find(|k| env_lines_sha256(k).as_deref() == Some(want)) else { return false };
    if let Some(c) = spec.task_template.as_mut().and_then(|t| t.container_spec.as_mut()) {
        c.env = Some(found.clone());
    }
    true
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

/// Write a record (once, with its final outcome), sealed: names of variables, never values.
pub async fn write(docker: &Docker, record: &SwarmRecord) -> Result<(), SwarmError> {
    let project = &record.release.project;
    let json = serde_json::to_vec(&sealed(record))
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

/// Put a recorded spec's environment values back from what the Swarm keeps: the service's spec
/// and its tasks' specs (Swarm keeps a task history per slot), whichever hashes to `want`
/// (`name` is the compose name, `release` the one rolled back to, for the error).
pub async fn restore_env_from_swarm(
    docker: &Docker,
    name: &str,
    spec: &mut ServiceSpec,
    want: &str,
    release: ReleaseId,
) -> Result<(), SwarmError> {
    let swarm_name = spec.name.clone().unwrap_or_default();
    let mut kept: Vec<Vec<String>> = Vec::new();
    match docker.inspect_service(&swarm_name, None::<InspectServiceOptions>).await {
        Ok(s) => kept.extend(s.spec.and_then(|s| s.task_template?.container_spec?.env)),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
        Err(e) => return Err(SwarmError::engine("inspect service", &swarm_name, e)),
    }
    let filters = HashMap::from([("service".to_string(), vec![swarm_name.clone()])]);
    let tasks = docker
        .list_tasks(Some(ListTasksOptions { filters: Some(filters) }))
        .await
        .map_err(|e| SwarmError::engine("list tasks of", &swarm_name, e))?;
    kept.extend(tasks.into_iter().filter_map(|t| t.spec?.container_spec?.env));
    if restore_env(spec, want, &kept) {
        Ok(())
    } else {
        Err(SwarmError::EnvNotKept { release: release.to_string(), service: name.to_string() })
    }
}

fn record_name(project: &str, id: ReleaseId) -> String {
    format!("{project}_slipway-release-{id}")
}
