//! Retention: keep the containers (stopped) and images of the last N releases, remove the rest.
//! Images are removed only when pinned by registry digest (`repo@sha256:...`), unused by any
//! remaining container and by any retained release: an image that exists only in this engine
//! (pinned by id) is never removed by slipway, since it could not be pulled back. A network of
//! the project that no remaining container of it is attached to (running or stopped) is removed
//! too, after any managed proxy still on it is disconnected (through the engine); a network a
//! later deploy needs again is created again by its plan. Probe relay helpers (engine room) left
//! over are removed, and live ones leave a network before it is removed.

use std::collections::BTreeSet;

use std::collections::HashMap;

use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions, RemoveImageOptions};
use bollard::Docker;
use serde::Serialize;

use super::error::DeployError;
use super::record::VolumeRecords;
use super::{engine, labels};

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PruneReport {
    /// Container names removed.
    pub containers: Vec<String>,
    /// Image references removed.
    pub images: Vec<String>,
    /// Networks of the project removed (no container of it was attached any more).
    pub networks: Vec<String>,
}

/// Remove stopped containers of releases beyond the last `keep` (and of releases never recorded),
/// then the images only they used.
pub async fn prune(docker: &Docker, project: &str, keep: usize) -> Result<PruneReport, DeployError> {
    // Relay helpers left over by commands that could not remove theirs (best effort: they end
    // by themselves after their idle bound anyway).
    let _ = crate::engine::remove_left_over_relays(docker).await;
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
    report.networks = remove_unused_networks(docker, project).await?;
    Ok(report)
}

/// Remove the project's networks that no container of the project is attached to; a managed
/// proxy still on one leaves it first.
async fn remove_unused_networks(docker: &Docker, project: &str) -> Result<Vec<String>, DeployError> {
    let label = vec![labels::filter(labels::PROJECT, project)];
    let nets = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(HashMap::from([("label".to_string(), label.clone())])),
        }))
        .await
        .map_err(|e| DeployError::engine("list networks of", project, e))?;
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([("label".to_string(), label)])),
        ..Default::default()
    };
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| DeployError::engine("list containers of", project, e))?;
    let attached: BTreeSet<String> = containers
        .into_iter()
        .filter_map(|c| c.network_settings.and_then(|n| n.networks))
        .flat_map(|n| n.into_keys())
        .collect();
    let mut removed = Vec::new();
    for name in nets.into_iter().filter_map(|n| n.name).filter(|n| !attached.contains(n)) {
        crate::route::traefik::detach_managed_proxies(docker, &name)
            .await
            .map_err(|e| DeployError::engine("disconnect the managed proxy from network", &name, e))?;
        let _ = crate::engine::detach_relays(docker, &name).await;
        match docker.remove_network(&name).await {
            Ok(()) => removed.push(name),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
            Err(e) => return Err(DeployError::engine("remove network", name, e)),
        }
    }
    removed.sort();
    Ok(removed)
}
