//! `prune --retain N` on a Swarm: keep the last N release records (and the current one), remove
//! the older ones and the secrets and configs no kept record uses (a rollback needs those).

use std::collections::BTreeSet;

use bollard::Docker;
use serde::Serialize;

use super::error::SwarmError;
use super::objects::{self, ObjectKind};
use super::records;

/// What `prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SwarmPruneReport {
    /// Release records removed (ids).
    pub releases: Vec<String>,
    /// Secrets and configs removed (names).
    pub objects: Vec<String>,
}

/// Keep the last `keep` release records (and the current one); remove the older ones and the
/// secrets and configs no kept record uses (Swarm refuses to remove those in use).
pub async fn prune(docker: &Docker, project: &str, keep: usize) -> Result<SwarmPruneReport, SwarmError> {
    let all = records::list(docker, project).await?;
    let current = all.iter().rev().find(|(_, r)| r.release.outcome.is_success()).map(|(_, r)| r.release.id);
    let cut = all.len().saturating_sub(keep.max(1));
    let mut report = SwarmPruneReport::default();
    let mut kept_objects: BTreeSet<String> = BTreeSet::new();
    for (i, (id, r)) in all.iter().enumerate() {
        if i >= cut || Some(r.release.id) == current {
            kept_objects.extend(r.objects.iter().cloned());
            continue;
        }
        docker.delete_config(id).await.map_err(|e| SwarmError::engine("remove release record", id, e))?;
        report.releases.push(r.release.id.to_string());
    }
    for kind in [ObjectKind::Secret, ObjectKind::Config] {
        for (name, id) in objects::list_names(docker, kind, project).await? {
            if kept_objects.contains(&name) {
                continue;
            }
            let removed = match kind {
                ObjectKind::Secret => docker.delete_secret(&id).await,
                ObjectKind::Config => docker.delete_config(&id).await,
            };
            if removed.is_ok() {
                report.objects.push(name);
            }
        }
    }
    Ok(report)
}
