//! The environment's pre-deploy backup on a Swarm. The shared before-change hooks
//! (`deploy::before_change_hooks`: the policy's backup, then the caller's) run here as the plan's
//! `Backup` steps, after the lock and before anything changes. The backup reaches a database
//! through the manager's engine (`pg_dump` by exec, as on a Docker host), so every PostgreSQL
//! service that runs on the Swarm must have its running task on that manager's node (for a
//! stateful service, `placement: {constraints: [node.role == manager]}`); a task elsewhere
//! refuses the deploy, nothing changed, rather than skipping the backup.

use std::sync::Arc;

use bollard::Docker;

use super::error::SwarmError;
use super::status::SwarmStatus;
use crate::deploy::{BeforeChange, DesiredRelease, Plan};
use crate::events::Observer;

/// Refuse when a PostgreSQL service of the stack runs only on nodes other than `manager_node`.
/// Pure over the status.
pub fn backup_reach(
    stack: &crate::stack::StackSpec,
    status: &SwarmStatus,
    manager_node: &str,
) -> Result<(), SwarmError> {
    for service in crate::backup::postgres_services(stack) {
        let Some(s) = status.services.iter().find(|s| s.service == service) else { continue };
        let running: Vec<&str> = s.tasks.iter().filter(|t| t.state == "running").map(|t| t.node.as_str()).collect();
        if !running.is_empty() && !running.contains(&manager_node) {
            return Err(SwarmError::BackupOutOfReach {
                service,
                nodes: running.iter().map(|n| n.to_string()).collect(),
                manager: manager_node.to_string(),
            });
        }
    }
    Ok(())
}

/// Run the before-change `hooks` for `desired` (plan shown to them), after checking that the
/// databases are within the manager's reach.
pub async fn run_before_change(
    docker: &Docker,
    hooks: &[Arc<dyn BeforeChange>],
    desired: &DesiredRelease,
    plan: &Plan,
    backup: bool,
    observer: &dyn Observer,
) -> crate::Result<()> {
    if backup {
        let info = docker.info().await.map_err(|e| SwarmError::engine("read the manager's node", "the engine", e))?;
        let node = info.swarm.and_then(|s| s.node_id).unwrap_or_default();
        let status = super::status::swarm_status(docker, desired.project(), None).await?;
        backup_reach(&desired.stack, &status, &node)?;
    }
    for hook in hooks {
        hook.before_change(desired, plan, observer).await?;
    }
    Ok(())
}
