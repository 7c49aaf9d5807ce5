//! Retention: keep the containers (stopped) and images of the last N releases, remove the rest.
//! Images are removed only when pinned by registry digest (`repo@sha256:...`), unused by any
//! remaining container and by any retained release: an image that exists only in this engine
//! (pinned by id) is never removed by slipway, since it could not be pulled back.

use std::collections::BTreeSet;

use bollard::query_parameters::RemoveImageOptions;
use bollard::Docker;
use serde::Serialize;

use super::engine;
use super::error::DeployError;
use super::record::VolumeRecords;

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PruneReport {
    /// Container names removed.
    pub containers: Vec<String>,
    /// Image references removed.
    pub images: Vec<String>,
}

/// Remove stopped containers of releases beyond the last `keep` (and of releases never recorded),
/// then the images only they used.
pub async fn prune(docker: &Docker, project: &str, keep: usize) -> Result<PruneReport, DeployError> {
    let history = VolumeRecords::new(docker.clone()).list(project).await?;
    let retained: BTreeSet<_> = history.iter().rev().take(keep.max(1)).map(|r| r.id).collect();
    let retained_images: BTreeSet<String> = history
        .iter()
        .filter(|r| retained.contains(&r.id))
        .flat_map(|r| r.services.values().map(|s| s.pinned.clone()))
        .collect();
    let containers = engine::list_containers(docker, project).await?;
    let mut report = PruneReport::default();
    let mut candidates = BTreeSet::new();
    for c in &containers {
        let keep_it = c.running || c.release.is_some_and(|r| retained.contains(&r));
        if keep_it {
            continue;
        }
        engine::remove(docker, &c.id).await?;
        report.containers.push(c.name.clone());
        candidates.insert(c.image.clone());
    }
    let still_used: BTreeSet<String> =
        engine::list_containers(docker, project).await?.into_iter().map(|c| c.image).collect();
    for image in candidates {
        if !image.contains('@') || still_used.contains(&image) || retained_images.contains(&image) {
            continue;
        }
        if docker.remove_image(&image, None::<RemoveImageOptions>, None).await.is_ok() {
            report.images.push(image);
        }
    }
    Ok(report)
}
