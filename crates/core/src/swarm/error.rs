//! The swarm room's error enum.

use crate::error::ErrorKind;

/// Errors from the swarm room. Every variant names the service, node or object it was about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SwarmError {
    /// The stack uses keys Swarm cannot honour (listed before anything changed).
    #[error("project {project}: Swarm cannot deploy this stack; nothing was changed:\n  {}", .problems.join("\n  "))]
    Unsupported {
        /// Project.
        project: String,
        /// One line per problem: `service NAME: key: reason`.
        problems: Vec<String>,
    },
    /// A service's image is not pinned to a registry digest the nodes can pull.
    #[error("service {service}: image {image} has no registry digest; Swarm nodes pull by digest, so push it to a registry the nodes reach; nothing was changed")]
    NotPullable {
        /// Service.
        service: String,
        /// What the resolver gave.
        image: String,
    },
    /// A secret or config's content could not be read.
    #[error("{kind} {key}: cannot read its content from {from}: {reason}; nothing was changed")]
    ObjectContent {
        /// `secret` or `config`.
        kind: &'static str,
        /// Key in the compose file.
        key: String,
        /// Where it was read from (a path or variable name, never the value).
        from: String,
        /// Why.
        reason: String,
    },
    /// The engine is not a Swarm manager.
    #[error("{host}: not a Swarm manager ({reason}); run `docker swarm init` or point -H at a manager")]
    NotManager {
        /// The engine.
        host: String,
        /// What the engine said.
        reason: String,
    },
    /// A Swarm API call failed.
    #[error("swarm: {action} {target}: {source}")]
    Engine {
        /// What was being done.
        action: &'static str,
        /// On what.
        target: String,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// A service update did not complete: Swarm paused or rolled it back.
    #[error("release {}: service {} update ended `{}`{}{}; {}", .0.release, .0.service, .0.state, task_part(&.0.task_error, &.0.node), message_part(&.0.message), .0.undo)]
    UpdateFailed(Box<RolloutFailure>),
    /// A bounded wait ran out (`state` says what was awaited).
    #[error("release {}: service {}: {} did not finish within the bound{}; {}", .0.release, .0.service, .0.state, task_part(&.0.task_error, &.0.node), .0.undo)]
    Timeout(Box<RolloutFailure>),
    /// A one-off job exited non-zero.
    #[error("release {release}: one-off {service} failed (exit code {exit_code}){}; nothing else was changed{}", task_part(&None, .node), tail(.logs))]
    JobFailed {
        /// Release id.
        release: String,
        /// Service.
        service: String,
        /// Exit code (-1 when unknown).
        exit_code: i64,
        /// Node it ran on.
        node: Option<String>,
        /// Last log lines.
        logs: Vec<String>,
    },
    /// The caller cancelled the deploy while it changed the Swarm; what it changed was undone
    /// (`undo` says whether completely) and the release recorded as cancelled.
    #[error("release {release} cancelled during `{step}` (service {service}); {undo}")]
    Cancelled {
        /// Release id.
        release: String,
        /// Service whose step was running.
        service: String,
        /// The step that was running.
        step: String,
        /// What the undo did.
        undo: String,
    },
    /// The deploy lock's lease could not be renewed (the renewals failed, or the lock config is
    /// gone), so this deploy could no longer prove it holds the lock: it stopped and undid what
    /// it changed.
    #[error("release {release} stopped at `{step}` (service {service}): the Swarm deploy lock's lease could not be renewed, so this deploy can no longer prove it holds the lock; {undo}")]
    LeaseLost {
        /// Release id.
        release: String,
        /// Service whose step was running.
        service: String,
        /// The step that was running.
        step: String,
        /// What the undo did.
        undo: String,
    },
    /// Another deploy holds the project's Swarm lock.
    #[error("project {project} is being deployed on this Swarm by {holder} since {since}; its lease runs until {expires} (renewed while the deploy runs); wait (--lock-wait) or retry later")]
    Locked {
        /// Project.
        project: String,
        /// Holder (`user@host pid=N`).
        holder: String,
        /// Since when (RFC 3339).
        since: String,
        /// When its lease expires unless renewed (RFC 3339).
        expires: String,
    },
    /// The environment's backup cannot reach a database: its task runs on another node.
    #[error("service {service}: the pre-deploy backup runs through the manager ({manager}), but its task runs on node {}; pin it with `placement: {{constraints: [node.role == manager]}}` or deploy with --no-backup where the policy allows; nothing was changed", .nodes.join(", "))]
    BackupOutOfReach {
        /// Service (compose name).
        service: String,
        /// Nodes its running tasks are on.
        nodes: Vec<String>,
        /// The manager's node id.
        manager: String,
    },
    /// A rollback target's environment is not kept on the Swarm any more.
    #[error("release {release}, service {service}: its environment values are not kept on the Swarm (records hold only names and a hash; the service's current and previous specs differ from it); deploy that version's compose file instead; nothing was changed")]
    EnvNotKept {
        /// Release rolled back to.
        release: String,
        /// Service (compose name).
        service: String,
    },
    /// No such release.
    #[error("project {project}: {what}; see `slipway history --target swarm -p {project}`")]
    NoRelease {
        /// Project.
        project: String,
        /// What is missing.
        what: String,
    },
    /// A record could not be written or read.
    #[error("project {project}: Swarm release record: {reason}")]
    Record {
        /// Project.
        project: String,
        /// Why.
        reason: String,
    },
}

/// What went wrong with one service's rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RolloutFailure {
    /// Release id.
    pub release: String,
    /// Service (compose name).
    pub service: String,
    /// Swarm's update state (`rollback_completed`, `paused`, ...), or what was awaited.
    pub state: String,
    /// Swarm's update message.
    pub message: Option<String>,
    /// The failing task's error.
    pub task_error: Option<String>,
    /// The failing task's node (`ID (address)`).
    pub node: Option<String>,
    /// What slipway did about the release as a whole.
    pub undo: String,
}

fn task_part(err: &Option<String>, node: &Option<String>) -> String {
    match (err, node) {
        (Some(e), Some(n)) => format!(": task on node {n}: {e}"),
        (Some(e), None) => format!(": task: {e}"),
        (None, Some(n)) => format!(" on node {n}"),
        (None, None) => String::new(),
    }
}

fn message_part(m: &Option<String>) -> String {
    m.as_ref().map(|m| format!(" ({m})")).unwrap_or_default()
}

fn tail(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("\nlast log lines:\n  {}", lines.join("\n  "))
    }
}

impl SwarmError {
    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SwarmError::Unsupported { .. }
            | SwarmError::NotPullable { .. }
            | SwarmError::ObjectContent { .. }
            | SwarmError::NoRelease { .. }
            | SwarmError::NotManager { .. } => ErrorKind::InvalidInput,
            SwarmError::BackupOutOfReach { .. } => ErrorKind::PolicyRefused,
            _ => ErrorKind::Failed,
        }
    }

    pub(crate) fn engine(action: &'static str, target: impl Into<String>, source: bollard::errors::Error) -> Self {
        SwarmError::Engine { action, target: target.into(), source }
    }
}
