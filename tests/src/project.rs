//! [`ProjectGuard`]: removes everything a deploy test's project left on the engine (containers
//! labelled with the project, its lock, its release-record and data volumes, its networks), on
//! drop and also when the test panics. Only names of that one project are touched.

use std::collections::HashMap;

use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, RemoveContainerOptions, RemoveVolumeOptions,
};

/// Removes a test project's resources when dropped.
#[derive(Debug)]
pub struct ProjectGuard {
    project: String,
}

impl ProjectGuard {
    /// Guard `project` (a `names::unique` name).
    pub fn new(project: &str) -> Self {
        Self { project: project.to_string() }
    }
}

impl Drop for ProjectGuard {
    fn drop(&mut self) {
        let project = self.project.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(remove_project(&project));
            }
        })
        .join();
    }
}

/// Remove the project's containers, lock, volumes and networks.
pub async fn remove_project(project: &str) {
    let Ok(docker) = crate::docker::connect().await else { return };
    let by_label = |key: &str| HashMap::from([("label".to_string(), vec![format!("{key}={project}")])]);
    let opts = RemoveContainerOptions { force: true, v: true, ..Default::default() };
    for key in ["dev.slipway.project", "dev.slipway.lock", "com.docker.compose.project"] {
        let list = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(by_label(key)),
                ..Default::default()
            }))
            .await
            .unwrap_or_default();
        for c in list.into_iter().filter_map(|c| c.id) {
            let _ = docker.remove_container(&c, Some(opts.clone())).await;
        }
    }
    for key in ["dev.slipway.project", "com.docker.compose.project"] {
        let vols = docker.list_volumes(Some(ListVolumesOptions { filters: Some(by_label(key)) })).await;
        for v in vols.ok().and_then(|v| v.volumes).unwrap_or_default() {
            let _ = docker.remove_volume(&v.name, Some(RemoveVolumeOptions { force: true })).await;
        }
    }
    let nets =
        docker.list_networks(Some(ListNetworksOptions { filters: Some(by_label("com.docker.compose.project")) })).await;
    for n in nets.unwrap_or_default().into_iter().filter_map(|n| n.name) {
        let _ = docker.remove_network(&n).await;
    }
}
