//! Storage: a PersistentVolumeClaim per named volume (`ReadWriteOnce`; the size and storage
//! class from top-level `x-slipway.kubernetes.volumes.<key>.{size,storage_class}`, else
//! [`DEFAULT_VOLUME_SIZE`] and the cluster's default class); external volumes are claimed by
//! name and not created; anonymous volumes and `tmpfs` become `emptyDir`; bind mounts cannot map
//! (a host path is not on the cluster's nodes) and are reported.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::metadata::Meta;
use super::names::dns_label;
use super::security::memory_quantity;
use super::warning::{MappingWarning, WarningKind};
use crate::stack::{MountKind, ServiceSpec, StackSpec};

/// The size of a PVC when `x-slipway.kubernetes.volumes.<key>.size` is not given.
pub const DEFAULT_VOLUME_SIZE: &str = "1Gi";

/// The volumes and mounts of one service, and the named volumes it claims.
#[derive(Default)]
pub struct ServiceStorage {
    /// Pod volumes.
    pub volumes: Vec<Volume>,
    /// Container mounts.
    pub mounts: Vec<VolumeMount>,
    /// Keys of the top-level volumes the service mounts.
    pub claimed: Vec<String>,
}

/// The claim name of a top-level volume: its engine-side name (`<project>_<key>`, or `name:`)
/// as a DNS label.
pub fn claim_name(stack: &StackSpec, key: &str) -> String {
    match stack.volumes.get(key) {
        Some(v) if !v.name.is_empty() => dns_label(&v.name),
        _ => dns_label(&format!("{}-{key}", stack.name)),
    }
}

/// A service's mounts as pod volumes.
pub fn service_storage(stack: &StackSpec, svc: &ServiceSpec, warnings: &mut Vec<MappingWarning>) -> ServiceStorage {
    let mut out = ServiceStorage::default();
    for (i, m) in svc.volumes.iter().enumerate() {
        let name = format!("vol-{i}");
        let source = match (m.kind, &m.source) {
            (MountKind::Volume, Some(key)) => {
                out.claimed.push(key.clone());
                Volume {
                    name: name.clone(),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: claim_name(stack, key),
                        read_only: m.read_only.then_some(true),
                    }),
                    ..Default::default()
                }
            }
            (MountKind::Volume, None) => {
                Volume { name: name.clone(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() }
            }
            (MountKind::Tmpfs, _) => {
                let size =
                    svc.mount_options.get(&m.target).and_then(|o| o.tmpfs_size).and_then(|s| u64::try_from(s).ok());
                Volume {
                    name: name.clone(),
                    empty_dir: Some(EmptyDirVolumeSource {
                        medium: Some("Memory".into()),
                        size_limit: size.map(memory_quantity),
                    }),
                    ..Default::default()
                }
            }
            (MountKind::Bind, src) => {
                warnings.push(MappingWarning::service(
                    &svc.name,
                    format!("volumes[{}:{}]", src.as_deref().unwrap_or(""), m.target),
                    WarningKind::Dropped,
                    "a bind mount names a path on one host, not on the cluster's nodes; use a named volume, or a config for a file",
                ));
                continue;
            }
        };
        out.volumes.push(source);
        let sub_path = svc.mount_options.get(&m.target).and_then(|o| o.subpath.clone());
        out.mounts.push(VolumeMount {
            name,
            mount_path: m.target.clone(),
            read_only: m.read_only.then_some(true),
            sub_path,
            ..Default::default()
        });
    }
    for t in &svc.host.tmpfs {
        let path = t.split(':').next().unwrap_or(t).to_string();
        let name = format!("tmpfs-{}", out.mounts.len());
        out.volumes.push(Volume {
            name: name.clone(),
            empty_dir: Some(EmptyDirVolumeSource { medium: Some("Memory".into()), size_limit: None }),
            ..Default::default()
        });
        out.mounts.push(VolumeMount { name, mount_path: path, ..Default::default() });
    }
    out
}

/// The PVC of a top-level volume, `None` when it is external (claimed by name, must exist).
pub fn claim(
    meta: &Meta,
    stack: &StackSpec,
    key: &str,
    warnings: &mut Vec<MappingWarning>,
) -> Option<PersistentVolumeClaim> {
    let spec = stack.volumes.get(key);
    if spec.is_some_and(|v| v.external) {
        return None;
    }
    if let Some(d) = spec.and_then(|v| v.driver.as_deref()).filter(|d| *d != "local") {
        warnings.push(MappingWarning::top(
            format!("volumes.{key}.driver"),
            WarningKind::Dropped,
            format!("{d}: volume drivers are Docker's; set x-slipway.kubernetes.volumes.{key}.storage_class"),
        ));
    }
    let settings = stack.slipway.get("kubernetes").and_then(|k| k.get("volumes")).and_then(|v| v.get(key));
    let size = settings.and_then(|s| s.get("size")).and_then(|s| s.as_str()).unwrap_or(DEFAULT_VOLUME_SIZE);
    let class = settings.and_then(|s| s.get("storage_class")).and_then(|s| s.as_str()).map(String::from);
    let mut labels = meta.labels(None, None);
    labels.insert("dev.slipway.volume".into(), super::metadata::label_value(key));
    Some(PersistentVolumeClaim {
        metadata: meta.object(&claim_name(stack, key), labels),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size.to_string()))])),
                ..Default::default()
            }),
            storage_class_name: class,
            ..Default::default()
        }),
        ..Default::default()
    })
}
