//! Release records as Secrets, as Helm keeps them: one `slipway-<project>-r<N>` Secret per
//! release (label `dev.slipway.record=true`), holding `release.json` (id, version, images,
//! who, when, outcome, parent) and `manifests.yaml` (the rendered stream, for rollback).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, ListParams, PostParams};
use serde::{Deserialize, Serialize};

use super::super::error::KubernetesError;
use super::super::metadata::{label_value, PROJECT_LABEL};
use super::super::names::{dns_label, suffixed};
use super::cluster::Cluster;
use crate::deploy::labels::RECORD;

/// One release on a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KubeRelease {
    /// Release number, from 1.
    pub id: u64,
    /// The project.
    pub project: String,
    /// `--version`, when given.
    pub version: Option<String>,
    /// Image per service, as applied.
    pub images: BTreeMap<String, String>,
    /// `user@host`.
    pub who: String,
    /// RFC 3339.
    pub when: String,
    /// `succeeded`, or `failed: <reason>`.
    pub outcome: String,
    /// The release this one replaced.
    pub parent: Option<u64>,
}

/// A record: the release and its manifests.
#[derive(Debug, Clone)]
pub struct Record {
    /// The release.
    pub release: KubeRelease,
    /// The rendered YAML stream that was applied.
    pub manifests: String,
}

fn api_err(action: String) -> impl FnOnce(kube::Error) -> KubernetesError {
    move |source| KubernetesError::Api { action, source: Box::new(source) }
}

/// Every record of a project, oldest first.
pub async fn list(cluster: &Cluster, project: &str) -> Result<Vec<Record>, KubernetesError> {
    let api: Api<Secret> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let selector = format!("{RECORD}=true,{PROJECT_LABEL}={}", label_value(project));
    let list =
        api.list(&ListParams::default().labels(&selector)).await.map_err(api_err("list release records".into()))?;
    let mut out = Vec::new();
    for s in list.items {
        let data = s.data.unwrap_or_default();
        let Some(release) = data.get("release.json").and_then(|b| serde_json::from_slice::<KubeRelease>(&b.0).ok())
        else {
            continue;
        };
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

/// Write a record.
pub async fn write(cluster: &Cluster, record: &Record) -> Result<(), KubernetesError> {
    let api: Api<Secret> = Api::namespaced(cluster.client().clone(), cluster.namespace());
    let r = &record.release;
    let name = record_name(&r.project, r.id);
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
        type_: Some("slipway.dev/release.v1".into()),
        data: Some(BTreeMap::from([
            ("release.json".to_string(), ByteString(json)),
            ("manifests.yaml".to_string(), ByteString(record.manifests.clone().into_bytes())),
        ])),
        ..Default::default()
    };
    api.create(&PostParams::default(), &secret).await.map_err(api_err(format!("write record {name}")))?;
    Ok(())
}
