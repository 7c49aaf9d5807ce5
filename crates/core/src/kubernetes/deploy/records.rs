//! Release records as Secrets, as Helm keeps them: one `slipway-<project>-r<N>` Secret per
//! release (label `dev.slipway.record=true`), holding `release.json` (the deploy room's
//! [`Release`]: id, version, every image as written and pinned to its digest, the stack without
//! environment values, who, when, outcome, parent) and `manifests.yaml` (the rendered stream
//! with the pinned images, what a rollback applies again exactly).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

use super::super::error::KubernetesError;
use super::super::metadata::{label_value, PROJECT_LABEL};
use super::super::names::{dns_label, suffixed};
use super::cluster::Cluster;
use crate::deploy::labels::RECORD;
use crate::deploy::Release;

/// The Secret type of a record.
pub const RECORD_TYPE: &str = "slipway.dev/release.v1";

/// A record: the release and its manifests.
#[derive(Debug, Clone)]
pub struct Record {
    /// The release.
    pub release: Release,
    /// The rendered YAML stream that was applied.
    pub manifests: String,
}

fn api_err(action: String) -> impl FnOnce(kube::Error) -> KubernetesError {
    move |source| KubernetesError::Api { action, source: Box::new(source) }
}

/// Every record of a project, oldest first. A Secret that is not a readable record is an error
/// naming it (history is never shown with a hole in it).
pub async fn list(cluster: &Cluster, project: &str) -> Result<Vec<Record>, KubernetesError> {
    let api: Api<Secret> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let selector = format!("{RECORD}=true,{PROJECT_LABEL}={}", label_value(project));
    let list =
        api.list(&ListParams::default().labels(&selector)).await.map_err(api_err("list release records".into()))?;
    let mut out = Vec::new();
    for s in list.items {
        let name = s.metadata.name.clone().unwrap_or_default();
        let bad = |reason: String| KubernetesError::BadRecord { project: project.to_string(), reason };
        let data = s.data.unwrap_or_default();
        let json = data.get("release.json").ok_or_else(|| bad(format!("{name}: no release.json")))?;
        let release: Release = serde_json::from_slice(&json.0).map_err(|e| bad(format!("{name}: {e}")))?;
        let manifests =
            data.get("manifests.yaml").map(|b| String::from_utf8_lossy(&b.0).into_owned()).unwrap_or_default();
        out.push(Record { release, manifests });
    }
    out.sort_by_key(|r| r.release.id);
    Ok(out)
}

/// The Secret name of a project's release record.
pub fn record_name(project: &str, id: u64) -> String {
    suffixed(&format!("slipway-{}", dns_label(project)), &format!("r{id}"))
}

/// Write a record (its JSON holds no environment value: see [`Release`]).
pub async fn write(cluster: &Cluster, record: &Record) -> Result<(), KubernetesError> {
    let api: Api<Secret> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let r = &record.release;
    let name = record_name(&r.project, r.id.0);
    let json = serde_json::to_vec(r).map_err(|source| KubernetesError::Serialise {
        kind: "Secret".into(),
        name: name.clone(),
        source,
    })?;
    let mut labels = BTreeMap::new();
    labels.insert(RECORD.to_string(), "true".to_string());
    labels.insert(PROJECT_LABEL.to_string(), label_value(&r.project));
    let secret = Secret {
        metadata: kube::api::ObjectMeta { name: Some(name.clone()), labels: Some(labels), ..Default::default() },
        type_: Some(RECORD_TYPE.into()),
        data: Some(BTreeMap::from([
            ("release.json".to_string(), ByteString(json)),
            ("manifests.yaml".to_string(), ByteString(record.manifests.clone().into_bytes())),
        ])),
        ..Default::default()
    };
    api.create(&PostParams::default(), &secret).await.map_err(api_err(format!("write record {name}")))?;
    Ok(())
}

/// Delete the records beyond the last `retain` (never the current, last successful, one).
/// Returns the Secret names deleted.
pub async fn prune(cluster: &Cluster, project: &str, retain: usize) -> Result<Vec<String>, KubernetesError> {
    let history = list(cluster, project).await?;
    let current = history.iter().rev().find(|r| r.release.outcome.is_success()).map(|r| r.release.id);
    let keep_from = history.len().saturating_sub(retain.max(1));
    let api: Api<Secret> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let mut deleted = Vec::new();
    for r in history.iter().take(keep_from).filter(|r| Some(r.release.id) != current) {
        let name = record_name(project, r.release.id.0);
        api.delete(&name, &DeleteParams::default()).await.map_err(api_err(format!("delete {name}")))?;
        deleted.push(name);
    }
    Ok(deleted)
}
