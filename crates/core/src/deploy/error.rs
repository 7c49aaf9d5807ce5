//! The deploy room's error enum.

use crate::error::ErrorKind;

/// Errors from the deploy room. Every variant names what it was working on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeployError {
    /// A service joins a network the stack does not declare.
    #[error("project {project}: a service joins network `{network}`, which the stack does not declare; add it under `networks:`")]
    UnknownNetwork {
        /// Project.
        project: String,
        /// Network key.
        network: String,
    },
    /// An external network or volume does not exist.
    #[error("project {project}: external {kind} `{name}` does not exist; create it (docker {kind} create {name}) or drop `external: true`; nothing was changed")]
    MissingExternal {
        /// Project.
        project: String,
        /// `network` or `volume`.
        kind: &'static str,
        /// Engine-side name.
        name: String,
    },
    /// `depends_on` forms a cycle.
    #[error("services depend on each other in a cycle: {services}")]
    DependencyCycle {
        /// Services in the cycle (and those waiting on it).
        services: String,
    },
    /// A service has no image.
    #[error("service {service} has no `image:`; slipway deploys images only: build and push it first (`slipway build -f COMPOSE_FILE {service} --push`) and set `image:`")]
    MissingImage {
        /// Service.
        service: String,
    },
    /// The environment policy refused an image.
    #[error("service {service}: image {image} refused by the {env} policy: {reason}; nothing was changed")]
    PolicyRefused {
        /// Service.
        service: String,
        /// Image as written.
        image: String,
        /// Environment.
        env: String,
        /// Why.
        reason: String,
    },
    /// An image could not be resolved to a digest.
    #[error("service {service}: cannot resolve image {image} to a digest: {reason}; nothing was changed")]
    Resolve {
        /// Service.
        service: String,
        /// Image.
        image: String,
        /// Why.
        reason: String,
    },
    /// An engine call failed.
    #[error("docker engine: {action} {target}: {source}")]
    Engine {
        /// What was being done.
        action: &'static str,
        /// On what.
        target: String,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// The engine could not be reached.
    #[error(transparent)]
    Connect(#[from] crate::engine::EngineError),
    /// A step failed; the previous release was put back in service.
    #[error("release {release} failed at `{step}` (service {service}): {reason}; the previous release was put back in service{}", tail(.logs))]
    StepFailed {
        /// Release id.
        release: String,
        /// Service.
        service: String,
        /// Step description.
        step: String,
        /// Why.
        reason: String,
        /// Last log lines of the failing container.
        logs: Vec<String>,
    },
    /// A pre- or post-deploy hook failed.
    #[error("{hook} hook `{command}` failed: {reason}{}", tail(.output))]
    HookFailed {
        /// `pre-deploy` or `post-deploy`.
        hook: String,
        /// The command.
        command: String,
        /// Why.
        reason: String,
        /// Last output lines.
        output: Vec<String>,
    },
    /// Another deploy holds the project's lock.
    #[error("project {project} is being deployed by {holder} since {since}; wait (--lock-wait) or retry later")]
    Locked {
        /// Project.
        project: String,
        /// Holder description.
        holder: String,
        /// Since when.
        since: String,
    },
    /// No such release, or no release to roll back to.
    #[error("project {project}: {what}; see `slipway history -p {project}`")]
    NoRelease {
        /// Project.
        project: String,
        /// What is missing.
        what: String,
    },
    /// A release record could not be read or written.
    #[error("project {project}: release record: {reason}")]
    Record {
        /// Project.
        project: String,
        /// Why.
        reason: String,
    },
    /// Docker's configuration gave no usable credentials for an image's registry.
    #[error("image {image}: cannot read registry credentials: {reason}")]
    Credentials {
        /// The image being pulled.
        image: String,
        /// Why (never the secret itself).
        reason: String,
    },
    /// Invalid input (flags, options).
    #[error("{0}")]
    Invalid(String),
    /// The traffic switch (route room) failed; it restored the previous route first.
    #[error(transparent)]
    Route(#[from] crate::route::RouteError),
}

fn tail(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("\nlast log lines:\n  {}", lines.join("\n  "))
    }
}

impl DeployError {
    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DeployError::UnknownNetwork { .. }
            | DeployError::MissingExternal { .. }
            | DeployError::DependencyCycle { .. }
            | DeployError::MissingImage { .. }
            | DeployError::NoRelease { .. }
            | DeployError::Invalid(_) => ErrorKind::InvalidInput,
            DeployError::PolicyRefused { .. } => ErrorKind::PolicyRefused,
            DeployError::Route(e) => e.kind(),
            _ => ErrorKind::Failed,
        }
    }

    pub(crate) fn engine(action: &'static str, target: impl Into<String>, source: bollard::errors::Error) -> Self {
        DeployError::Engine { action, target: target.into(), source }
    }
}
