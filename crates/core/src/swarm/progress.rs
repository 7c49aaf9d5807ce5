//! Pure decisions about a service's rollout, from what the manager reports (the `Service` with
//! its `UpdateStatus`, and its tasks): pending, done, or failed with the state Swarm reached.
//! `paused`, `rollback_started`, `rollback_paused` and `rollback_completed` are failures: a
//! deploy is never reported as successful when Swarm rolled it back. Unit-tested on fixtures.

use std::time::Duration;

use bollard::models::{BollardDate, Service, ServiceUpdateStatusStateEnum as U, Task, TaskState};

/// Where a service's rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Not yet: what is awaited.
    Pending(String),
    /// Every task of the new spec runs (health-gated by Swarm: a task with a healthcheck runs
    /// only once healthy), and Swarm's update, if one started, reached `completed`.
    Done,
    /// Swarm paused or rolled back the update.
    Failed {
        /// Swarm's update state.
        state: String,
        /// Swarm's message.
        message: Option<String>,
    },
}

/// How many tasks the service wants running (`None` for global services: one per eligible node).
pub fn wanted_replicas(svc: &Service) -> Option<i64> {
    let mode = svc.spec.as_ref()?.mode.as_ref()?;
    mode.replicated.as_ref().map(|r| r.replicas.unwrap_or(1))
}

fn image_of(t: &Task) -> Option<&str> {
    t.spec.as_ref()?.container_spec.as_ref()?.image.as_deref()
}

/// The rollout of `svc` after slipway sent a spec running `image`. `before` is the update's
/// `StartedAt` before the change (an update status with the same start is an old one);
/// `since` is how long ago the change was sent (a change that starts no Swarm update, such as
/// a new replica count, is judged by its tasks once `settle` has passed).
pub fn progress(
    svc: &Service,
    before: Option<&BollardDate>,
    tasks: &[Task],
    image: &str,
    since: Duration,
    settle: Duration,
) -> Progress {
    let status = svc.update_status.as_ref().filter(|u| u.started_at.as_ref() != before);
    if let Some(state) = status.and_then(|u| u.state) {
        let message = status.and_then(|u| u.message.clone());
        match state {
            U::COMPLETED => {}
            U::UPDATING | U::EMPTY => return Progress::Pending(format!("Swarm update {state}")),
            other => return Progress::Failed { state: other.to_string(), message },
        }
    } else if since < settle {
        return Progress::Pending("Swarm to start the update".into());
    }
    let running: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.desired_state == Some(TaskState::RUNNING))
        .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING))
        .collect();
    let old = running.iter().filter(|t| image_of(t) != Some(image)).count();
    let new = running.len() - old;
    let wanted = wanted_replicas(svc);
    let desired = tasks.iter().filter(|t| t.desired_state == Some(TaskState::RUNNING)).count();
    match wanted {
        Some(n) if (new as i64) < n => Progress::Pending(format!("{new} of {n} tasks running the new image")),
        None if new < desired || new == 0 => {
            Progress::Pending(format!("{new} of {desired} tasks running the new image"))
        }
        _ if old > 0 => Progress::Pending(format!("{old} old tasks still running")),
        _ => Progress::Done,
    }
}

/// The task that explains a failure: the most recent one with an error (or a failed/rejected
/// state), as (error, node id).
pub fn failing_task(tasks: &[Task]) -> Option<(String, Option<String>)> {
    let mut failed: Vec<&Task> = tasks
        .iter()
        .filter(|t| {
            let s = t.status.as_ref();
            s.and_then(|s| s.err.as_ref()).is_some()
                || matches!(s.and_then(|s| s.state), Some(TaskState::FAILED | TaskState::REJECTED))
        })
        .collect();
    failed.sort_by_key(|t| format!("{:?}", t.status.as_ref().and_then(|s| s.timestamp.clone())));
    let t = failed.last()?;
    let s = t.status.as_ref()?;
    let err = s
        .err
        .clone()
        .or_else(|| s.message.clone())
        .unwrap_or_else(|| format!("task {}", s.state.map(|s| s.to_string()).unwrap_or_default()));
    Some((err, t.node_id.clone()))
}
