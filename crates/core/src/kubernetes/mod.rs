//! The kubernetes room: the same `StackSpec` rendered as Kubernetes objects (k8s-openapi types),
//! one file per kind of resource, and (in `deploy/`) applied to a cluster with kube-rs.
//!
//! [`render`] is pure: from a stack and [`RenderOptions`] to a [`Rendered`] set of objects in a
//! fixed order, the warnings for keys that cannot map, and a deterministic multi-document YAML
//! stream that `kubectl apply -f` accepts.

mod config;
pub mod deploy;
mod error;
mod ingress;
mod jobs;
mod metadata;
mod names;
mod probes;
mod render;
mod security;
mod services;
mod storage;
mod unmapped;
mod warning;
mod workloads;
mod yaml;

pub use error::KubernetesError;
pub use ingress::IngressKind;
pub use metadata::{MANAGED_BY, PROJECT_LABEL, RELEASE_LABEL, SERVICE_LABEL};
pub use names::dns_label;
pub use render::{render, Manifest, RenderOptions, Rendered, DEFAULT_VOLUME_SIZE};
pub use warning::{MappingWarning, WarningKind};
pub use yaml::to_yaml_stream;
