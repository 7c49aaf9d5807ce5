//! The Swarm target: the same compose stack as services on a Docker Swarm, reached through a
//! manager like any engine (`-H`, `DOCKER_HOST`, `ssh://`). `convert` maps each service to a
//! Swarm `ServiceSpec` (after docker/cli's `cli/compose/convert`), `warnings` lists what Swarm
//! cannot honour before anything changes, `objects` creates networks and content-named secrets
//! and configs, `rollout`/`progress` apply specs health-gated in dependency order, `job` runs
//! one-offs as `replicated-job`s, `records` keeps history and the lock on the Swarm (configs),
//! `status` shows tasks per node. `SwarmDeployer` implements [`crate::deploy::Deployer`].

mod convert;
mod deployer;
mod error;
mod job;
mod objects;
mod progress;
mod records;
mod release;
mod rollout;
mod settings;
mod status;
mod warnings;

#[cfg(test)]
mod tests;

pub use convert::{
    service_name, service_spec, update_order, ObjectNames, UpdateDefaults, STACK_IMAGE, STACK_NAMESPACE,
};
pub use deployer::{SwarmDeployer, SwarmPruneReport};
pub use error::{RolloutFailure, SwarmError};
pub use job::{job_spec, JobOutcome};
pub use objects::object_name;
pub use progress::{failing_task, progress, Progress};
pub use records::{SwarmLock, SwarmRecord};
pub use rollout::{levels, spec_hash};
pub use settings::SwarmMode;
pub use status::{task_health, ServiceStatus, SwarmStatus, TaskStatus};
pub use warnings::{findings, Finding, Severity};

/// The stack asks for the Swarm target (`x-slipway: {target: swarm}`).
pub fn wants_swarm(stack: &crate::stack::StackSpec) -> bool {
    stack.slipway.get("target").and_then(|t| t.as_str()) == Some("swarm")
}
