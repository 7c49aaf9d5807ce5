//! Deployer: from a desired release to a running one (plan, apply, rollback, status, history).
//!
//! `plan()` (pure, in `plan.rs`) turns a [`DesiredRelease`] and the [`ActualState`] of a host into
//! typed steps; `DockerHost` (`docker_host.rs`) reads the state and executes plans through bollard.
//! Release records live on the host (`record.rs`), so any operator machine sees the history.

mod backup_step;
mod confirm;
pub(crate) mod container_spec;
mod docker_host;
mod engine;
// proxy room: the managed proxy's image is pulled (with Docker's credentials) as a deploy pulls.
pub(crate) use engine::{log_tail as container_log_tail, pull as pull_image};
mod env_store;
mod error;
#[cfg(test)]
mod error_chain_tests;
mod event;
mod executor;
mod failure;
#[cfg(test)]
mod failure_action_tests;
#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod fake_tests;
mod gate;
mod halt;
mod hooks;
pub mod labels;
mod lanes;
mod lock;
mod lock_holder;
mod options;
mod plan;
mod preflight;
mod prune;
mod record;
mod release;
mod replica;
mod request;
mod requirements;
mod resolve;
mod rollout;
mod rules;
mod seam;
mod state;
mod step;
mod undo;
#[cfg(test)]
mod undo_port_tests;

pub use backup_step::BackupBeforeDeploy;
pub use confirm::{Confirmation, SilentPort};
pub use container_spec::{container_plan, network_create, volume_create, ContainerPlan};
pub use docker_host::DockerHost;
pub(crate) use engine::credentials_for;
pub use env_store::{without_env_values, EnvValues};
pub use error::DeployError;
pub use event::DeployEvent;
pub use failure::{
    FileObjectProblem, GateFailure, HookFailure, RecordProblem, RegistryMiss, ResolveFailure, StepFailure,
};
pub use halt::{Halt, Halted};
pub use hooks::{
    check_hooks, hook_specs, hook_timeout, hooks_of, BeforeChange, Hook, HookPoint, HookSite, HookSpec, OnFailure,
};
pub use lock::{judge as judge_lease, margin_for, DeployLock, Lease, CLOCK_SKEW_MARGIN};
pub(crate) use lock::{lease_labels, renew_every};
pub use options::{ContainerStatus, DeployOptions, DeployOutcome, Status};
pub use plan::{plan, plan_with, Plan, PlanOptions, Step};
pub use prune::{prune, PruneReport};
pub use record::VolumeRecords;
pub(crate) use release::release_before;
pub use release::{
    canonical_json, config_hash, host_name, who, Release, ReleaseId, ReleaseOutcome, ReleasedService, ReplicaFailure,
};
pub use request::{load_for_deploy, with_image_tag, DeployRequest};
pub(crate) use requirements::before_change_hooks;
pub use requirements::{
    backup_decision, check_cancelled, check_release_policy, takes_backup, BackupChoice, Requirements,
};
pub use resolve::{check_policy, registry_pins, resolve_images, DigestResolver, ImagePolicy};
pub use rollout::ReplicaState;
pub use rules::{
    dependency_order, failure_action, health_gate, is_oneoff, is_routed, update_order, FailureAction, HealthGate,
};
pub use state::{ActualContainer, ActualState, DesiredRelease};
/// The token that cancels a deploy ([`DeployOptions::cancel`]), re-exported for the faces.
pub use tokio_util::sync::CancellationToken;
pub use undo::{UndoAction, UndoReport};

use async_trait::async_trait;

use crate::events::Observer;
use crate::stack::StackSpec;

/// From a desired release to a running one, on one kind of target.
#[async_trait]
pub trait Deployer: Send + Sync {
    /// What would change, as data (reads the target, changes nothing).
    async fn plan(&self, stack: &StackSpec, opts: &DeployOptions) -> crate::Result<Plan>;
    /// Deploy: health-gated, undone by itself on failure, recorded on the target.
    async fn apply(
        &self,
        stack: &StackSpec,
        opts: &DeployOptions,
        observer: &dyn Observer,
    ) -> crate::Result<DeployOutcome>;
    /// Deploy a recorded release again (the previous successful one when `to` is `None`).
    async fn rollback(
        &self,
        project: &str,
        to: Option<ReleaseId>,
        opts: &DeployOptions,
        observer: &dyn Observer,
    ) -> crate::Result<DeployOutcome>;
    /// What runs and its health.
    async fn status(&self, project: &str) -> crate::Result<Status>;
    /// Release records, oldest first.
    async fn history(&self, project: &str) -> crate::Result<Vec<Release>>;
}

#[cfg(test)]
mod plan_tests;
