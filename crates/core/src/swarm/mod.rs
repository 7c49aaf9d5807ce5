//! The Swarm target: the same compose stack as services on a Docker Swarm, reached through a
//! manager like any engine (`-H`, `DOCKER_HOST`, `ssh://`). `convert` maps each service to a
//! Swarm `ServiceSpec` (after docker/cli's `cli/compose/convert`), `warnings` lists what Swarm
//! cannot honour before anything changes, `objects` creates networks and content-named secrets
//! and configs, `rollout`/`progress` apply specs health-gated in dependency order, `job` runs
//! one-offs as `replicated-job`s, `records` keeps history on the Swarm (configs), `lock` the lease of a deploy,
//! `status` shows tasks per node. `SwarmDeployer` implements [`crate::deploy::Deployer`].

mod backup;
mod convert;
mod convert_task;
mod convert_update;
mod deployer;
mod error;
mod job;
mod lock;
mod objects;
mod plan;
mod progress;
mod prune;
mod records;
mod registry_auth;
mod release;
mod rollout;
mod settings;
mod status;
mod warnings;

#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod tests;

pub use backup::backup_reach;
pub use convert::{service_name, service_spec, ObjectNames, STACK_IMAGE, STACK_NAMESPACE};
pub use convert_update::{update_order, UpdateDefaults};
pub use deployer::SwarmDeployer;
pub use error::{RolloutFailure, SwarmError};
pub use job::{job_spec, JobEnd, JobOutcome};
pub use lock::SwarmLock;
pub use objects::object_name;
pub use plan::{swarm_plan, update_step, PlanInput};
pub use progress::{failing_task, progress, Progress};
pub use prune::SwarmPruneReport;
pub use records::{env_sha256, restore_env, sealed, SwarmRecord};
pub use registry_auth::RegistryAuth;
pub use rollout::{levels, spec_hash};
pub use settings::SwarmMode;
pub use status::{task_health, ServiceStatus, SwarmStatus, TaskStatus};
pub use warnings::{findings, Finding, Severity};

/// The stack asks for the Swarm target (`x-slipway: {target: swarm}`).
pub fn wants_swarm(stack: &crate::stack::StackSpec) -> bool {
    stack.slipway.get("target").and_then(|t| t.as_str()) == Some("swarm")
}
