//! Why a deploy step failed, as typed causes (deploy room): [`StepFailure`] (the cause of a
//! failed step), [`GateFailure`] (a health gate, a monitor period, a one-off's exit),
//! [`HookFailure`] (a pre- or post-deploy hook), [`ResolveFailure`] and [`RegistryMiss`] (an
//! image that could not be pinned), [`RecordProblem`] (a release record that cannot be used),
//! [`FileObjectProblem`] (a secret or config that cannot be put into a container).
//! Each keeps the error it came from as its `source()`; the
//! `Display` texts are what users read.

use std::sync::Arc;
use std::time::Duration;

use super::error::DeployError;
use crate::wait::WaitTimeout;

/// Why a step of a deploy failed: the cause of [`DeployError::StepFailed`] (and of a failed
/// post-deploy hook), kept as the error it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepFailure {
    /// An engine call, a hook, a backup or a record write failed.
    #[error("{0}")]
    Deploy(#[source] Box<DeployError>),
    /// The traffic switch failed.
    #[error("{0}")]
    Route(#[from] crate::route::RouteError),
    /// The new container did not pass its health gate or its monitor period, or a one-off did not
    /// exit within its bound.
    #[error("{0}")]
    Gate(#[source] GateFailure),
    /// A one-off exited with a non-zero code.
    #[error("exited with code {code}")]
    Exited {
        /// The exit code.
        code: i64,
    },
    /// A step was given to the wrong runner (a bug, reported instead of a panic).
    #[error("not a {runner} step: {step}")]
    Misplaced {
        /// `plan-level` or `rollout`.
        runner: &'static str,
        /// The step.
        step: String,
    },
}

impl From<DeployError> for StepFailure {
    fn from(e: DeployError) -> Self {
        StepFailure::Deploy(Box::new(e))
    }
}

impl From<GateFailure> for StepFailure {
    fn from(e: GateFailure) -> Self {
        StepFailure::Gate(e)
    }
}

/// Why a new container did not pass its health gate or its monitor period, or a one-off did not
/// exit in time (`gate.rs`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateFailure {
    /// The container exited while its gate waited for it.
    #[error("the container exited (code {})", .code.unwrap_or(-1))]
    Exited {
        /// Its exit code, when the engine gave one.
        code: Option<i64>,
    },
    /// Docker's healthcheck reports the container unhealthy.
    #[error("the healthcheck reports unhealthy")]
    Unhealthy,
    /// The gate's bound passed before the container was healthy.
    #[error("not healthy: {waited}{}", .last.as_deref().map(|l| format!("; last: {l}")).unwrap_or_default())]
    NotHealthy {
        /// The wait that ran out.
        #[source]
        waited: WaitTimeout,
        /// The last probe round's finding (`x-slipway.probes`), when there was one.
        last: Option<String>,
    },
    /// The container exited within its monitor period, after passing its gate.
    #[error(
        "the container exited (code {}) {:.1}s after passing its health gate, within the {}s monitor period",
        .code.unwrap_or(-1), .after.as_secs_f64(), .period.as_secs_f64()
    )]
    ExitedInMonitor {
        /// Its exit code, when the engine gave one.
        code: Option<i64>,
        /// How long after the gate.
        after: Duration,
        /// The monitor period.
        period: Duration,
    },
    /// The healthcheck turned unhealthy within the monitor period.
    #[error("the healthcheck turned unhealthy within the {}s monitor period", .period.as_secs_f64())]
    UnhealthyInMonitor {
        /// The monitor period.
        period: Duration,
    },
    /// A one-off did not exit within its bound.
    #[error("{0}")]
    NotExited(#[source] WaitTimeout),
    /// The whole wait (requests included) gave no answer within its outer bound.
    #[error("{what}: no answer within {:.1}s", .bound.as_secs_f64())]
    NoAnswer {
        /// What was waited for.
        what: String,
        /// The outer bound.
        bound: Duration,
    },
    /// An engine call of the gate failed.
    #[error("{0}")]
    Engine(#[source] Box<DeployError>),
    /// The `x-slipway.probes` could not be run (a bad target).
    #[error("{0}")]
    Probe(#[source] crate::health::HealthError),
}

impl From<DeployError> for GateFailure {
    fn from(e: DeployError) -> Self {
        GateFailure::Engine(Box::new(e))
    }
}

/// Why a pre- or post-deploy hook failed (the cause of [`DeployError::HookFailed`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookFailure {
    /// The command list is empty.
    #[error("empty command")]
    EmptyCommand,
    /// The command could not be started on the operator machine.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The command exited with a non-zero code.
    #[error("exited with code {code}")]
    Exited {
        /// The exit code.
        code: i64,
    },
    /// The command was killed by a signal.
    #[error("killed by signal {signal}")]
    Killed {
        /// The signal number.
        signal: i32,
    },
    /// The command was still running when its timeout passed (it was killed).
    #[error("still running after {}", shown(.after))]
    TimedOut {
        /// The hook timeout.
        after: Duration,
    },
    /// A container hook exited with a non-zero code; its container is kept for inspection.
    #[error("exited with code {code}; container {container} kept for inspection")]
    ContainerExited {
        /// The exit code.
        code: i64,
        /// The kept container.
        container: String,
    },
    /// A container hook was still running when its timeout passed; stopped and kept.
    #[error("still running after {}; container {container} stopped and kept", shown(.after))]
    ContainerTimedOut {
        /// The hook timeout.
        after: Duration,
        /// The kept container.
        container: String,
    },
    /// A container hook names a service the stack does not have.
    #[error("no service `{service}` in the stack")]
    NoService {
        /// The service named.
        service: String,
    },
    /// An engine call of a container hook failed (pull, create, start, remove).
    #[error("{0}")]
    Engine(#[source] Box<DeployError>),
}

impl From<DeployError> for HookFailure {
    fn from(e: DeployError) -> Self {
        HookFailure::Engine(Box::new(e))
    }
}

/// A hook timeout as users write it: whole seconds, or milliseconds below one.
fn shown(d: &Duration) -> String {
    if d.as_secs() >= 1 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Why an image could not be pinned (see `resolve.rs`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveFailure {
    /// `pull_policy: never` and the engine has no such image.
    #[error("not in the engine, and its pull_policy is `never`")]
    NotInEngine,
    /// The image is not a valid reference.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    /// The caller's `DigestResolver` failed.
    #[error("resolver: {0}")]
    Resolver(#[source] crate::registry::RegistryError),
    /// Neither the registry nor an engine pull gave the image.
    #[error("registry: {registry}; engine pull: {pull}")]
    Unavailable {
        /// Why the registry did not answer (shared by the images of one registry).
        registry: RegistryMiss,
        /// The engine pull's error.
        #[source]
        pull: Box<DeployError>,
    },
    /// The engine pulled the image but does not list it.
    #[error("pulled, but the engine does not show it")]
    PulledNotShown,
    /// A target whose nodes pull (Kubernetes) needs a registry digest, and the registry did not
    /// give one.
    #[error("no registry digest (the target's nodes pull from the registry): {0}")]
    NotInRegistry(#[source] RegistryMiss),
}

/// Why an image's registry gave no digest for its tag. Cloned for the other images of the same
/// registry in one deploy (an unreachable registry is asked once).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryMiss {
    /// The image is not a valid reference.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    /// The registry answered with an error, or could not be reached.
    #[error("{0}")]
    Registry(#[source] Arc<crate::registry::RegistryError>),
    /// The lookup (retries included) did not finish within its bound.
    #[error("{host}: no answer within {}s", .bound.as_secs())]
    NoAnswer {
        /// The registry host.
        host: String,
        /// The bound.
        bound: Duration,
    },
}

/// What is wrong with a release record itself (the cause of [`DeployError::Record`]); failed
/// engine calls, JSON and archives have variants of their own that keep their errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordProblem {
    /// A record read back from the host without its environment values cannot be rewritten.
    #[error("release {release} was read without its environment values; unseal it first")]
    ReadWithoutValues {
        /// The release id.
        release: String,
    },
    /// The environment file of a record volume is larger than slipway reads.
    #[error("the environment file of {volume} is too large")]
    EnvFileTooLarge {
        /// The record volume.
        volume: String,
    },
    /// The environment file does not match the record's `env_sha256`.
    #[error("the environment file of {volume} does not match its record ({expected}); refusing to deploy it")]
    EnvFileMismatch {
        /// The record volume.
        volume: String,
        /// The record's `env_sha256`.
        expected: String,
    },
}

/// Why a secret's or config's content cannot be put into a container on a Docker host (the cause
/// of [`DeployError::FileObject`]; compose room semantics).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileObjectProblem {
    /// The object is `external` (a Swarm object), which a Docker host does not have.
    #[error(
        "it is `external` (the Swarm object `{engine_name}`), and a Docker host has no such objects; \
         use a `file:` or `environment:` source, or deploy with `--target swarm`"
    )]
    External {
        /// The Swarm object's name.
        engine_name: String,
    },
    /// Its `environment:` source variable is not set.
    #[error("its `environment:` variable `{variable}` is not set")]
    UnsetVariable {
        /// The variable.
        variable: String,
    },
    /// The service is `read_only: true`, and only a `file:` source can be mounted into it.
    #[error("the service is `read_only: true`, and only a `file:` source can be mounted into it")]
    ReadOnly,
}
