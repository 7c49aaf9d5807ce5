//! The deploy room's error enum. The typed causes it carries (why a step, a gate, a hook or a
//! resolution failed) are in `failure.rs`.

use super::failure::{HookFailure, ResolveFailure, StepFailure};
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
    /// compose room: a secret or config whose content is copied into the container cannot be
    /// (its variable is unset, or the service is read-only). Names the object, never its value.
    #[error("service {service}: {object} cannot be put into the container: {problem}; nothing was changed")]
    FileObject {
        /// Service.
        service: String,
        /// `secret `NAME`` or `config `NAME``.
        object: String,
        /// Why.
        problem: super::failure::FileObjectProblem,
    },
    /// compose room: the archive of a container's secrets and configs could not be built.
    #[error("cannot build the archive of {targets} for container {container}: {source}")]
    FileCopy {
        /// Container name.
        container: String,
        /// The targets in the container.
        targets: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A service's image is not a valid reference.
    #[error("service {service}: image `{image}` is not a valid reference: {source}; nothing was changed")]
    InvalidImage {
        /// Service.
        service: String,
        /// The image as written.
        image: String,
        /// Why.
        #[source]
        source: crate::reference::ReferenceError,
    },
    /// The environment policy refused an image.
    #[error("service {service}: image {image} refused by the {env} policy: {source}; nothing was changed")]
    PolicyRefused {
        /// Service.
        service: String,
        /// Image as written.
        image: String,
        /// Environment.
        env: String,
        /// Why: the policy room's refusal (or its unknown environment).
        #[source]
        source: Box<crate::policy::PolicyError>,
    },
    /// An image could not be resolved to a digest.
    #[error("service {service}: cannot resolve image {image} to a digest: {source}; nothing was changed")]
    Resolve {
        /// Service.
        service: String,
        /// Image.
        image: String,
        /// Why (boxed: a registry error is large).
        #[source]
        source: Box<ResolveFailure>,
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
    /// A step failed and what was done was undone; `undo` says whether the previous release was
    /// restored (every inverse confirmed) or what is left and how to finish it.
    #[error("release {release} failed at `{step}` (service {service}): {cause}{}; {}{}", connection_note(.transport), .undo.summary(), tail(.logs))]
    StepFailed {
        /// Release id.
        release: String,
        /// Service.
        service: String,
        /// Step description.
        step: String,
        /// Why.
        #[source]
        cause: Box<StepFailure>,
        /// Last log lines of the failing container.
        logs: Box<[String]>,
        /// What the undo did.
        undo: Box<super::undo::UndoReport>,
        /// remote room: the engine connection failed during the deploy (dropped, unreachable),
        /// which is why the step failed; the next deploy converges from what the host holds.
        transport: Option<Box<crate::engine::TransportError>>,
    },
    /// The deploy lock's lease could not be renewed (the engine did not take the renewals), so the
    /// deploy could no longer prove it holds the lock: it stopped and undid what it did while
    /// the lease still kept other deploys off.
    #[error("release {release} stopped at `{step}`: the deploy lock's lease could not be renewed, so this deploy can no longer prove it holds the lock{}; {}", connection_note(.transport), .undo.summary())]
    LeaseLost {
        /// Release id.
        release: String,
        /// The step that was running.
        step: String,
        /// What the undo did.
        undo: Box<super::undo::UndoReport>,
        /// remote room: the engine connection failed meanwhile (why the renewals failed).
        transport: Option<Box<crate::engine::TransportError>>,
    },
    /// Replicas failed under `deploy.update_config.failure_action: pause | continue`: each failed
    /// replica was undone on its own, the others run the release, recorded as partly deployed.
    #[error("release {release} is partly deployed (failure_action: {action}): {}; {}; the other replicas run release {release}: deploy again to finish it, or `slipway rollback` to go back", failed_list(.failures), .undo.summary())]
    PartlyDeployed {
        /// Release id.
        release: String,
        /// `pause` or `continue`.
        action: String,
        /// The replicas that failed, each undone.
        failures: Vec<super::release::ReplicaFailure>,
        /// What the undo of the failed replicas did.
        undo: Box<super::undo::UndoReport>,
    },
    /// The caller cancelled the deploy; what was done was undone, the release recorded as
    /// cancelled and the lock released.
    #[error("release {release} cancelled during `{step}`; {}", .undo.summary())]
    Cancelled {
        /// Release id.
        release: String,
        /// The step that was running.
        step: String,
        /// What the undo did.
        undo: Box<super::undo::UndoReport>,
    },
    /// The release was deployed and recorded, but a post-deploy hook failed (recorded on it).
    #[error("deployed release {release}; post-deploy hook {index} failed: `{command}`: {cause}{}", tail(.output))]
    PostDeployHookFailed {
        /// Release id.
        release: String,
        /// The hook's number (from 1).
        index: usize,
        /// The hook.
        command: String,
        /// Why.
        #[source]
        cause: Box<StepFailure>,
        /// Last output lines.
        output: Vec<String>,
    },
    /// A pre- or post-deploy hook failed.
    #[error("{hook} hook `{command}` failed: {cause}{}", tail(.output))]
    HookFailed {
        /// `pre-deploy` or `post-deploy`.
        hook: String,
        /// The command.
        command: String,
        /// Why.
        #[source]
        cause: HookFailure,
        /// Last output lines.
        output: Vec<String>,
    },
    /// Another deploy holds the project's lock.
    #[error("project {project} is being deployed by {holder} since {since}; its lease runs until {until} (renewed while it deploys), and another deploy may take the lock over after {takeover} if it is not renewed; wait (--lock-wait) or retry later")]
    Locked {
        /// Project.
        project: String,
        /// Holder description (`user@host pid=N`).
        holder: String,
        /// Since when (RFC 3339).
        since: String,
        /// The lease's newest expiry (RFC 3339).
        until: String,
        /// When another deploy may take it over if it is not renewed (expiry plus the margin).
        takeover: String,
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
    #[error("project {project}: release record: {problem}")]
    Record {
        /// Project.
        project: String,
        /// What is wrong with it (the engine's, the serialiser's and the archive's errors are
        /// `Engine`, `RecordJson` and `RecordArchive`).
        problem: super::failure::RecordProblem,
    },
    /// The engine has no image to create a never-started helper container (the deploy lock, a
    /// record's carrier) from.
    #[error("the engine has no image at all to create a helper container from; pull one first")]
    NoHelperImage,
    /// The deploy lock's lease file could not be packed for its renewal.
    #[error("deploy lock {lock}: cannot pack the lease file: {source}")]
    LeaseArchive {
        /// The lock container.
        lock: String,
        /// The archive error.
        #[source]
        source: std::io::Error,
    },
    /// The pre-change backup the environment requires failed; nothing was changed.
    #[error("project {project}: the backup before the deploy failed, nothing was changed: {source}")]
    Backup {
        /// Project.
        project: String,
        /// The backup room's error.
        #[source]
        source: crate::backup::BackupError,
    },
    /// The environment's policy requires a backup and forbids skipping it.
    #[error("the {env} policy requires a database backup before every deploy and does not allow skipping it (drop --no-backup / backup=False)")]
    BackupRequired {
        /// Environment.
        env: String,
    },
    /// A release record (or its environment file) could not be turned into or read from JSON.
    #[error("project {project}: release record: {what}: {source}")]
    RecordJson {
        /// Project.
        project: String,
        /// What was being written or read.
        what: String,
        /// The serialiser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A release record's environment file could not be packed or unpacked.
    #[error("project {project}: release record: {what}: {source}")]
    RecordArchive {
        /// Project.
        project: String,
        /// What was being packed or unpacked.
        what: String,
        /// The archive error.
        #[source]
        source: std::io::Error,
    },
    /// The caller cancelled the deploy (Ctrl-C, SIGTERM, KeyboardInterrupt, a cancelled token)
    /// before its first change (waiting for the lock, resolving images): nothing to undo.
    #[error("project {project}: cancelled {during}; {outcome}")]
    CancelledBeforeChange {
        /// Project.
        project: String,
        /// What was going on (`while waiting for the deploy lock`, `at step 4/9 ...`).
        during: String,
        /// What the host was left with (`nothing was changed`, or the undo's report).
        outcome: String,
    },
    /// Docker's configuration gave no usable credentials for an image's registry.
    #[error("image {image}: cannot read registry credentials: {source}")]
    Credentials {
        /// The image being pulled.
        image: String,
        /// Why (the registry room's error; never the secret itself).
        #[source]
        source: Box<crate::registry::RegistryError>,
    },
    /// Invalid input (flags, options).
    #[error("{0}")]
    Invalid(String),
    /// The traffic switch (route room) failed; it restored the previous route first.
    #[error(transparent)]
    Route(#[from] crate::route::RouteError),
}

fn connection_note(transport: &Option<Box<crate::engine::TransportError>>) -> String {
    transport.as_ref().map(|t| format!(" (the engine connection failed: {t})")).unwrap_or_default()
}

fn failed_list(failures: &[super::release::ReplicaFailure]) -> String {
    let each: Vec<String> = failures.iter().map(|f| format!("`{}` failed: {}", f.step, f.reason)).collect();
    each.join("; ")
}

fn tail(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("\nlast log lines:\n  {}", lines.join("\n  "))
    }
}

impl DeployError {
    /// remote room: the engine connection's failure (dropped, unreachable, ...) when that is why
    /// the deploy failed.
    pub fn transport(&self) -> Option<&crate::engine::TransportError> {
        match self {
            DeployError::StepFailed { transport, .. } | DeployError::LeaseLost { transport, .. } => {
                transport.as_deref()
            }
            DeployError::Connect(crate::engine::EngineError::Transport(t)) => Some(t),
            _ => None,
        }
    }

    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DeployError::UnknownNetwork { .. }
            | DeployError::MissingExternal { .. }
            | DeployError::DependencyCycle { .. }
            | DeployError::MissingImage { .. }
            | DeployError::FileObject { .. }
            | DeployError::InvalidImage { .. }
            | DeployError::NoRelease { .. }
            | DeployError::Invalid(_) => ErrorKind::InvalidInput,
            DeployError::PolicyRefused { .. } | DeployError::BackupRequired { .. } => ErrorKind::PolicyRefused,
            DeployError::Route(e) => e.kind(),
            _ => ErrorKind::Failed,
        }
    }

    /// The service the error is about, when it is about one.
    pub fn service(&self) -> Option<&str> {
        match self {
            DeployError::MissingImage { service }
            | DeployError::FileObject { service, .. }
            | DeployError::InvalidImage { service, .. }
            | DeployError::PolicyRefused { service, .. }
            | DeployError::Resolve { service, .. }
            | DeployError::StepFailed { service, .. } => Some(service).filter(|s| !s.is_empty()).map(String::as_str),
            DeployError::PartlyDeployed { failures, .. } => failures.first().map(|f| f.service.as_str()),
            _ => None,
        }
    }

    /// The step that failed (a plan step's description, or the hook point of a failed hook).
    pub fn step(&self) -> Option<&str> {
        match self {
            DeployError::StepFailed { step, .. } | DeployError::LeaseLost { step, .. } => Some(step),
            DeployError::PartlyDeployed { failures, .. } => failures.first().map(|f| f.step.as_str()),
            DeployError::HookFailed { hook, .. } => Some(hook),
            _ => None,
        }
    }

    /// What the undo did, when this error ran one: a failed step, a cancellation, a lost lease,
    /// or the failed replicas of a partly deployed release. The same report every face shows
    /// (`--json`'s `undo`, Python's `.undo`).
    pub fn undo(&self) -> Option<&super::undo::UndoReport> {
        match self {
            DeployError::StepFailed { undo, .. }
            | DeployError::Cancelled { undo, .. }
            | DeployError::LeaseLost { undo, .. }
            | DeployError::PartlyDeployed { undo, .. } => Some(undo),
            _ => None,
        }
    }

    /// The failing container's (or hook's) last log lines.
    pub fn logs(&self) -> &[String] {
        match self {
            DeployError::StepFailed { logs, .. } => logs,
            DeployError::HookFailed { output, .. } => output,
            _ => &[],
        }
    }

    pub(crate) fn engine(action: &'static str, target: impl Into<String>, source: bollard::errors::Error) -> Self {
        DeployError::Engine { action, target: target.into(), source }
    }
}
