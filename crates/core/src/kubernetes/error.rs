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

fn list(warnings: &[MappingWarning]) -> String {
    warnings.iter().map(|w| format!("  - {w}")).collect::<Vec<_>>().join("\n")
}

impl KubernetesError {
    /// How faces report it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            KubernetesError::Serialise { .. } => ErrorKind::Failed,
            _ => ErrorKind::InvalidInput,
        }
    }
}
