//! Deployer: from a desired release to a running one (plan, apply, rollback, status, history).
//!
//! `plan()` (pure, in `plan.rs`) turns a [`DesiredRelease`] and the [`ActualState`] of a host into
//! typed steps; `DockerHost` (`docker_host.rs`) reads the state and executes plans through bollard.
//! Release records live on the host (`record.rs`), so any operator machine sees the history.

mod container_spec;
mod docker_host;
mod engine;
mod error;
mod event;
mod executor;
mod hook_container;
mod hooks;
pub mod labels;
mod lock;
mod options;
mod plan;
mod prune;
mod record;
mod release;
mod resolve;
mod rules;
mod state;
mod switch;

pub use container_spec::{container_plan, ContainerPlan};
pub use docker_host::DockerHost;
pub use error::DeployError;
pub use event::DeployEvent;
pub use executor::Executor;
pub use hooks::{check_hooks, hook_timeout, hooks_of, run_hooks, BeforeChange, Hook, HookPoint};
pub use lock::DeployLock;
pub use options::{ContainerStatus, DeployOptions, DeployOutcome, Status};
pub use plan::{plan, plan_with, Plan, PlanOptions, Step};
pub use prune::{prune, PruneReport};
pub use record::VolumeRecords;
pub use release::{canonical_json, config_hash, host_name, who, Release, ReleaseId, ReleaseOutcome, ReleasedService};
pub use resolve::{check_policy, resolve_images, DefaultImagePolicy, DigestResolver, ImagePolicy, MOVING_TAGS};
pub use rules::{dependency_order, health_gate, is_oneoff, is_routed, update_order, HealthGate};
pub use state::{ActualContainer, ActualState, DesiredRelease};

pub use switch::{NoRouter, TrafficSwitch};

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
