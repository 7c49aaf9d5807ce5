//! What runs for a project on a namespace: its Deployments (desired, ready and updated
//! replicas, release label) and its pods as the deploy room's [`ContainerStatus`] (running =
//! phase `Running`; health from the `Ready` condition: `healthy`, else `unhealthy` once a
//! container restarted or waits in a back-off, else `starting`). Also the pruning of old
//! releases' finished Jobs.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams};

use super::super::error::KubernetesError;
use super::super::metadata::{label_value, PROJECT_LABEL, RELEASE_LABEL, SERVICE_LABEL};
use super::cluster::Cluster;
use crate::deploy::labels::Role;
use crate::deploy::{ContainerStatus, ReleaseId};

/// A Deployment's state for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct WorkloadStatus {
    /// The Deployment.
    pub name: String,
    /// Desired replicas.
    pub replicas: i32,
    /// Ready replicas.
    pub ready: i32,
    /// Updated replicas.
    pub updated: i32,
    /// The release label on it.
    pub release: Option<String>,
}

fn api_err(action: String) -> impl FnOnce(kube::Error) -> KubernetesError {
    move |source| KubernetesError::Api { action, source: Box::new(source) }
}

fn selector(project: &str) -> ListParams {
    ListParams::default().labels(&format!("{PROJECT_LABEL}={}", label_value(project)))
}

/// The project's Deployments.
pub async fn workloads(cluster: &Cluster, project: &str) -> Result<Vec<WorkloadStatus>, KubernetesError> {
    let api: Api<Deployment> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let list = api.list(&selector(project)).await.map_err(api_err("list Deployments".into()))?;
    Ok(list
        .items
        .iter()
        .map(|d| {
            let s = d.status.clone().unwrap_or_default();
            WorkloadStatus {
                name: d.metadata.name.clone().unwrap_or_default(),
                replicas: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                ready: s.ready_replicas.unwrap_or(0),
                updated: s.updated_replicas.unwrap_or(0),
                release: d.metadata.labels.as_ref().and_then(|l| l.get(RELEASE_LABEL).cloned()),
            }
        })
        .collect())
}

fn health(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let ready = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
    if ready {
        return "healthy".into();
    }
    let troubled = status.container_statuses.iter().flatten().any(|c| {
        c.restart_count > 0
            || c.state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref())
                .is_some_and(|r| r.ends_with("BackOff") || r.starts_with("Err"))
    });
    if troubled { "unhealthy" } else { "starting" }.into()
}

/// The project's pods (one-off Job pods left out), a replica number per service in name order.
/// A pod's release is its Deployment's release label.
pub async fn pods(cluster: &Cluster, project: &str) -> Result<Vec<ContainerStatus>, KubernetesError> {
    let releases: BTreeMap<String, Option<ReleaseId>> = workloads(cluster, project)
        .await?
        .into_iter()
        .map(|w| (w.name, w.release.and_then(|r| r.parse().ok())))
        .collect();
    let api: Api<Pod> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let mut list = api.list(&selector(project)).await.map_err(api_err("list pods".into()))?.items;
    list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut replica: BTreeMap<String, u32> = BTreeMap::new();
    let mut out = Vec::new();
    for p in &list {
        let labels = p.metadata.labels.clone().unwrap_or_default();
        let Some(service) = labels.get(SERVICE_LABEL).cloned() else { continue };
        if labels.contains_key(crate::deploy::labels::ONEOFF) || labels.contains_key("job-name") {
            continue;
        }
        let n = replica.entry(service.clone()).or_default();
        *n += 1;
        let deployment = super::super::names::dns_label(&service);
        out.push(ContainerStatus {
            name: p.metadata.name.clone().unwrap_or_default(),
            service,
            release: releases.get(&deployment).copied().flatten(),
            replica: *n,
            role: Role::Current,
            running: p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"),
            health: Some(health(p)),
            image: p.spec.as_ref().and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Delete the finished one-off Jobs of releases before `current`. Returns their names.
pub async fn prune_jobs(
    cluster: &Cluster,
    project: &str,
    current: Option<u64>,
) -> Result<Vec<String>, KubernetesError> {
    let jobs: Api<Job> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let selector = format!("{PROJECT_LABEL}={},{}=true", label_value(project), crate::deploy::labels::ONEOFF);
    let list = jobs.list(&ListParams::default().labels(&selector)).await.map_err(api_err("list Jobs".into()))?;
    let mut deleted = Vec::new();
    for j in list.items {
        let release = j.metadata.labels.as_ref().and_then(|l| l.get(RELEASE_LABEL)).and_then(|v| v.parse::<u64>().ok());
        let finished = j.status.as_ref().is_some_and(|s| s.active.unwrap_or(0) == 0);
        let (Some(name), Some(release), Some(current)) = (j.metadata.name, release, current) else { continue };
        if release < current && finished {
            jobs.delete(&name, &DeleteParams::background()).await.map_err(api_err(format!("delete Job {name}")))?;
            deleted.push(name);
        }
    }
    Ok(deleted)
}
