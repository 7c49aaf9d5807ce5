//! `KubernetesError`: what can go wrong rendering a stack for Kubernetes or applying it.

use crate::error::ErrorKind;

use super::warning::MappingWarning;

/// A failure of the kubernetes room.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubernetesError {
    /// `--strict`: some keys cannot map to Kubernetes.
    #[error("{} key(s) cannot map to Kubernetes (--strict):\n{}", warnings.len(), list(warnings))]
    Unmappable {
        /// Every key that did not map, with its reason.
        warnings: Vec<MappingWarning>,
    },
    /// A service has no `image:` (Kubernetes pulls images; it never builds).
    #[error("service {service}: no image; build and push it first (slipway build), then set image:")]
    MissingImage {
        /// The service.
        service: String,
    },
    /// A secret's or config's file could not be read.
    #[error("{what} {name}: cannot read {path}")]
    ReadSource {
        /// `secret` or `config`.
        what: &'static str,
        /// The key in the top-level section.
        name: String,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A secret from `environment:` names a variable that is not set.
    #[error("secret {name}: the variable {variable} is not set")]
    UnsetVariable {
        /// The secret's key.
        name: String,
        /// The variable.
        variable: String,
    },
    /// The Traefik labels of a service are not valid.
    #[error("service {service}: {source}")]
    Route {
        /// The service.
        service: String,
        /// The cause.
        #[source]
        source: Box<crate::route::RouteError>,
    },
    /// A dependency cycle between services.
    #[error(transparent)]
    Order(Box<crate::deploy::DeployError>),
    /// No cluster could be configured from the kubeconfig.
    #[error("cannot use {context} of the kubeconfig: {reason}")]
    Connect {
        /// The context (or "the current context").
        context: String,
        /// Why (the kubeconfig error, which holds no credentials).
        reason: String,
    },
    /// A request to the cluster failed.
    #[error("{action}: {source}")]
    Api {
        /// What was being done.
        action: String,
        /// The cause.
        #[source]
        source: Box<kube::Error>,
    },
    /// A Deployment did not roll out, or a Job failed.
    #[error("{kind} {name}: {reason}{}", describe(diagnosis))]
    WorkloadFailed {
        /// `Deployment` or `Job`.
        kind: String,
        /// The object.
        name: String,
        /// Why (kubectl's wording, or the bound that passed).
        reason: String,
        /// The pod, its events and log lines.
        diagnosis: Box<super::deploy::Diagnosis>,
    },
    /// The release failed and the previous one was applied again.
    #[error("{cause}; release {to} was applied again and {}", if *restored { "rolled out" } else { "did NOT roll out either: look at the cluster" })]
    RolledBack {
        /// Why the release failed.
        #[source]
        cause: Box<KubernetesError>,
        /// The release re-applied.
        to: u64,
        /// Whether it rolled out.
        restored: bool,
    },
    /// Another deploy holds the project's Lease.
    #[error("project {project} is being deployed by {holder} (Lease slipway-{project}); wait, or delete the Lease if that deploy died")]
    LockHeld {
        /// The project.
        project: String,
        /// The Lease's holder identity.
        holder: String,
    },
    /// The caller cancelled the deploy (Ctrl-C, SIGTERM, a cancelled token).
    #[error("cancelled during `{during}`")]
    Cancelled {
        /// The step that was running.
        during: String,
    },
    /// The deploy lock's Lease could not be renewed (renewals failed, or it is gone or held by
    /// another), so this deploy can no longer prove it holds the lock: it stopped.
    #[error("stopped during `{during}`: the deploy lock's Lease could not be renewed, so this deploy can no longer prove it holds the lock")]
    LeaseLost {
        /// The step that was running.
        during: String,
    },
    /// A pre-deploy backup Job failed before anything changed.
    #[error("the pre-deploy backup {job} failed, nothing was changed: {reason}")]
    BackupFailed {
        /// The backup Job.
        job: String,
        /// Why.
        reason: String,
    },
    /// No release to roll back to.
    #[error("project {project}: no recorded release {what}")]
    NoRelease {
        /// The project.
        project: String,
        /// Which one was asked for.
        what: String,
    },
    /// A recorded manifest stream cannot be read back.
    #[error("release record of {project}: manifests unreadable: {reason}")]
    BadRecord {
        /// The project.
        project: String,
        /// Why.
        reason: String,
    },
    /// An object could not be serialised.
    #[error("cannot serialise {kind} {name}: {source}")]
    Serialise {
        /// The object's kind.
        kind: String,
        /// The object's name.
        name: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

fn describe(d: &super::deploy::Diagnosis) -> String {
    let mut out = String::new();
    if let Some(pod) = &d.pod {
        out.push_str(&format!("; pod {pod}"));
    }
    if !d.events.is_empty() {
        out.push_str(&format!("; last events: {}", d.events.join(" | ")));
    }
    if !d.logs.is_empty() {
        out.push_str(&format!("; last log lines:\n    {}", d.logs.join("\n    ")));
    }
    out
}

fn list(warnings: &[MappingWarning]) -> String {
    warnings.iter().map(|w| format!("  - {w}")).collect::<Vec<_>>().join("\n")
}

impl KubernetesError {
    /// How faces report it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            KubernetesError::Serialise { .. }
            | KubernetesError::Api { .. }
            | KubernetesError::WorkloadFailed { .. }
            | KubernetesError::RolledBack { .. }
            | KubernetesError::LockHeld { .. }
            | KubernetesError::Cancelled { .. }
            | KubernetesError::LeaseLost { .. }
            | KubernetesError::BackupFailed { .. }
            | KubernetesError::BadRecord { .. } => ErrorKind::Failed,
            _ => ErrorKind::InvalidInput,
        }
    }
}
