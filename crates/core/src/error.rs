//! The crate-level `Error`: one variant per room, each wrapping that room's own error enum,
//! and the `ErrorKind` that faces map to exit codes and exception classes.

use crate::{
    backup, build, compose, deploy, digest, health, kubernetes, policy, proxy, reference, registry, route, swarm,
};

/// How a caller should treat an error: faces map this to exit codes (1, 2, 3) and exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was wrong (bad reference, bad file, bad flag): exit code 2.
    InvalidInput,
    /// A policy refused the request: exit code 3.
    PolicyRefused,
    /// The operation was valid but failed (network, engine, health): exit code 1.
    Failed,
}

impl ErrorKind {
    /// The documented CLI exit code: 1 failed, 2 bad input, 3 refused by policy.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Failed => 1,
            ErrorKind::InvalidInput => 2,
            ErrorKind::PolicyRefused => 3,
        }
    }
}

/// Every error the library returns. Room errors are boxed so that `Result<T, Error>` stays small
/// on every path; `?` converts a room error into this type through the `From` impls below.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An invalid image reference.
    #[error(transparent)]
    Reference(#[from] reference::ReferenceError),
    /// An invalid digest.
    #[error(transparent)]
    Digest(#[from] digest::DigestError),
    /// Tag and environment policies.
    #[error(transparent)]
    Policy(Box<policy::PolicyError>),
    /// Registry and image-store operations.
    #[error(transparent)]
    Registry(Box<registry::RegistryError>),
    /// Image builds.
    #[error(transparent)]
    Build(Box<build::BuildError>),
    /// Health probes and checks.
    #[error(transparent)]
    Health(Box<health::HealthError>),
    /// Compose files.
    #[error(transparent)]
    Compose(Box<compose::ComposeError>),
    /// Deploys, history and rollback.
    #[error(transparent)]
    Deploy(Box<deploy::DeployError>),
    /// Traffic routing.
    #[error(transparent)]
    Route(Box<route::RouteError>),
    /// Backups and restores.
    #[error(transparent)]
    Backup(Box<backup::BackupError>),
    /// Kubernetes room.
    #[error(transparent)]
    Kubernetes(Box<kubernetes::KubernetesError>),
    /// The Swarm target.
    #[error(transparent)]
    Swarm(Box<swarm::SwarmError>),
    /// The managed proxy.
    #[error(transparent)]
    Proxy(Box<proxy::ProxyError>),
}

impl From<proxy::ProxyError> for Error {
    fn from(e: proxy::ProxyError) -> Self {
        Error::Proxy(Box::new(e))
    }
}

impl From<kubernetes::KubernetesError> for Error {
    fn from(e: kubernetes::KubernetesError) -> Self {
        Error::Kubernetes(Box::new(e))
    }
}

impl From<swarm::SwarmError> for Error {
    fn from(e: swarm::SwarmError) -> Self {
        Error::Swarm(Box::new(e))
    }
}

impl From<policy::PolicyError> for Error {
    fn from(e: policy::PolicyError) -> Self {
        Error::Policy(Box::new(e))
    }
}

impl From<registry::RegistryError> for Error {
    fn from(e: registry::RegistryError) -> Self {
        Error::Registry(Box::new(e))
    }
}

impl From<build::BuildError> for Error {
    fn from(e: build::BuildError) -> Self {
        Error::Build(Box::new(e))
    }
}

impl From<health::HealthError> for Error {
    fn from(e: health::HealthError) -> Self {
        Error::Health(Box::new(e))
    }
}

impl From<compose::ComposeError> for Error {
    fn from(e: compose::ComposeError) -> Self {
        Error::Compose(Box::new(e))
    }
}

impl From<deploy::DeployError> for Error {
    fn from(e: deploy::DeployError) -> Self {
        Error::Deploy(Box::new(e))
    }
}

impl From<route::RouteError> for Error {
    fn from(e: route::RouteError) -> Self {
        Error::Route(Box::new(e))
    }
}

impl From<backup::BackupError> for Error {
    fn from(e: backup::BackupError) -> Self {
        Error::Backup(Box::new(e))
    }
}

impl Error {
    /// How to treat this error (exit code, exception class).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Reference(_) | Error::Digest(_) => ErrorKind::InvalidInput,
            Error::Policy(e) => e.kind(),
            Error::Registry(e) => e.kind(),
            Error::Build(e) => e.kind(),
            Error::Health(e) => e.kind(),
            Error::Compose(e) => e.kind(),
            Error::Deploy(e) => e.kind(),
            Error::Route(e) => e.kind(),
            Error::Backup(e) => e.kind(),
            Error::Kubernetes(e) => e.kind(),
            Error::Swarm(e) => e.kind(),
            Error::Proxy(e) => e.kind(),
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
