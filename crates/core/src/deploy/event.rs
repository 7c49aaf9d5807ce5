//! Progress events of the deploy room.

use serde::Serialize;

/// Something that happened in the deploy room.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeployEvent {
    /// A free-form progress message.
    Message {
        /// The message.
        text: String,
    },
    /// A service's image was pinned.
    Resolved {
        /// Service.
        service: String,
        /// The image as written.
        image: String,
        /// What the containers will run (`repo@sha256:...`, or a local image id).
        pinned: String,
        /// Where the pin came from: `written`, `registry`, `engine` or `pull`.
        from: String,
    },
    /// The plan is known.
    Planned {
        /// Release id.
        release: String,
        /// Number of steps.
        steps: usize,
    },
    /// A step started.
    StepStarted {
        /// Index from 1.
        index: usize,
        /// Of how many.
        total: usize,
        /// What it does.
        description: String,
    },
    /// A step finished.
    StepDone {
        /// Index from 1.
        index: usize,
        /// What it did.
        description: String,
        /// How long it took in milliseconds.
        millis: u64,
    },
    /// A step failed; the undo follows.
    StepFailed {
        /// What it did.
        description: String,
        /// Why.
        reason: String,
    },
    /// An undo action during a failed deploy.
    Undo {
        /// What is undone.
        description: String,
    },
    /// An undo action failed: what is left, and how to finish it by hand.
    UndoFailed {
        /// What was being undone.
        description: String,
        /// Why it failed.
        reason: String,
        /// The command or action that finishes it.
        finish: String,
    },
    /// The undo finished.
    UndoDone {
        /// Every undo action succeeded and was confirmed.
        restored: bool,
        /// The actions that failed.
        left: Vec<String>,
    },
    /// A replica (or the old container it replaces) reached a state of its rollout.
    Replica {
        /// Service.
        service: String,
        /// The container.
        container: String,
        /// The state reached.
        state: super::rollout::ReplicaState,
    },
    /// The deploy was cancelled (the caller's cancellation token); the undo follows.
    Cancelled {
        /// The step that was running.
        step: String,
    },
    /// A post-deploy hook failed; the release stands and the failure is recorded on it.
    PostDeployHookFailed {
        /// The hook's number (from 1).
        index: usize,
        /// The hook as configured.
        command: String,
        /// Why.
        reason: String,
    },
    /// Waiting for another deploy's lock.
    LockWaiting {
        /// Holder.
        holder: String,
    },
    /// A stale lock was found and taken over.
    StaleLock {
        /// Former holder.
        holder: String,
        /// Why it is stale.
        reason: String,
    },
    /// A pre- or post-deploy hook finished (successfully or not).
    HookDone {
        /// `pre-deploy` or `post-deploy`.
        hook: String,
        /// The hook as configured.
        command: String,
        /// Where it ran: the operator's machine (command hooks) or the target host (container hooks).
        ran_on: super::hooks::HookSite,
        /// Its exit code.
        exit_code: i64,
        /// Its last output lines.
        output: Vec<String>,
    },
    /// A one-off task finished.
    OneOffDone {
        /// Service.
        service: String,
        /// Exit code.
        exit_code: i64,
        /// Last log lines.
        logs: Vec<String>,
    },
}
