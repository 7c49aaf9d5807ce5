//! `status` on a Swarm: every service of the project with its update state and its tasks per
//! node (node id and address, state, health, error). `task_health` is a pure decision.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{Task, TaskState};
use bollard::query_parameters::{ListNodesOptions, ListServicesOptions, ListTasksOptions};
use bollard::Docker;
use serde::Serialize;

use super::error::SwarmError;
use crate::deploy::labels;

/// One task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TaskStatus {
    /// Task id.
    pub id: String,
    /// Slot (replicated services).
    pub slot: Option<i64>,
    /// Node id (nodes may share a hostname).
    pub node: String,
    /// The node's address.
    pub node_addr: Option<String>,
    /// Swarm's task state (`running`, `starting`, `failed`, ...).
    pub state: String,
    /// `healthy`, `starting` or `unhealthy` (see [`task_health`]).
    pub health: String,
    /// The task's error, when it has one.
    pub error: Option<String>,
    /// Image it runs.
    pub image: String,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ServiceStatus {
    /// Compose name.
    pub service: String,
    /// Swarm name.
    pub name: String,
    /// Release that last changed it.
    pub release: Option<String>,
    /// Wanted replicas (`None` = global).
    pub replicas: Option<i64>,
    /// Swarm's update state, when an update ran.
    pub update_state: Option<String>,
    /// Tasks that should run, by node.
    pub tasks: Vec<TaskStatus>,
}

/// What runs for a project on a Swarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SwarmStatus {
    /// Project.
    pub project: String,
    /// The current release record's id.
    pub current: Option<String>,
    /// Services by name.
    pub services: Vec<ServiceStatus>,
}

/// Health of a task from its state: `running` is healthy (Swarm holds a task with a healthcheck
/// in `starting` until it is healthy); states before it are `starting`; others `unhealthy`.
pub fn task_health(t: &Task) -> &'static str {
    match t.status.as_ref().and_then(|s| s.state) {
        Some(TaskState::RUNNING) | Some(TaskState::COMPLETE) => "healthy",
        Some(
            TaskState::NEW
            | TaskState::ALLOCATED
            | TaskState::PENDING
            | TaskState::ASSIGNED
            | TaskState::ACCEPTED
            | TaskState::PREPARING
            | TaskState::READY
            | TaskState::STARTING,
        ) => "starting",
        _ => "unhealthy",
    }
}

/// Node id -> address.
pub async fn node_addresses(docker: &Docker) -> Result<HashMap<String, Option<String>>, SwarmError> {
    let nodes =
        docker.list_nodes(None::<ListNodesOptions>).await.map_err(|e| SwarmError::engine("list nodes", "swarm", e))?;
    Ok(nodes.into_iter().filter_map(|n| Some((n.id?, n.status.and_then(|s| s.addr)))).collect())
}

/// The project's services and their tasks.
pub async fn swarm_status(docker: &Docker, project: &str, current: Option<String>) -> Result<SwarmStatus, SwarmError> {
    let nodes = node_addresses(docker).await?;
    let filters = HashMap::from([("label".to_string(), vec![format!("{}={project}", labels::PROJECT)])]);
    let services = docker
        .list_services(Some(ListServicesOptions { filters: Some(filters), ..Default::default() }))
        .await
        .map_err(|e| SwarmError::engine("list services of", project, e))?;
    let mut out = BTreeMap::new();
    for s in services {
        let spec = s.spec.clone().unwrap_or_default();
        let name = spec.name.clone().unwrap_or_default();
        let l = spec.labels.clone().unwrap_or_default();
        let tf = HashMap::from([
            ("service".to_string(), vec![name.clone()]),
            ("desired-state".to_string(), vec!["running".to_string()]),
        ]);
        let tasks = docker
            .list_tasks(Some(ListTasksOptions { filters: Some(tf) }))
            .await
            .map_err(|e| SwarmError::engine("list tasks of", &name, e))?;
        let mut ts: Vec<TaskStatus> = tasks
            .iter()
            .map(|t| {
                let node = t.node_id.clone().unwrap_or_default();
                TaskStatus {
                    id: t.id.clone().unwrap_or_default(),
                    slot: t.slot,
                    node_addr: nodes.get(&node).cloned().flatten(),
                    node,
                    state: t.status.as_ref().and_then(|s| s.state).map(|s| s.to_string()).unwrap_or_default(),
                    health: task_health(t).into(),
                    error: t.status.as_ref().and_then(|s| s.err.clone()),
                    image: t
                        .spec
                        .as_ref()
                        .and_then(|s| s.container_spec.as_ref())
                        .and_then(|c| c.image.clone())
                        .unwrap_or_default(),
                }
            })
            .collect();
        ts.sort_by(|a, b| (&a.node, a.slot).cmp(&(&b.node, b.slot)));
        out.insert(
            name.clone(),
            ServiceStatus {
                service: l.get(labels::SERVICE).cloned().unwrap_or_else(|| name.clone()),
                name,
                release: l.get(labels::RELEASE).cloned(),
                replicas: super::progress::wanted_replicas(&s),
                update_state: s.update_status.and_then(|u| u.state).map(|s| s.to_string()),
                tasks: ts,
            },
        );
    }
    Ok(SwarmStatus { project: project.into(), current, services: out.into_values().collect() })
}
