//! One-offs (the prestart migration) as Swarm jobs: a `replicated-job` service per release
//! (`<project>_<service>-r<ID>`), awaited (bounded) to `complete`, its exit code and log tail
//! reported, then removed. A job that fails stops the deploy before the services that depend
//! on it change.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicatedJob, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::{ListTasksOptions, LogsOptions};
use bollard::Docker;
use futures::StreamExt;

use super::error::SwarmError;
use crate::deploy::{Halt, Halted};

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    /// Exit code of its task.
    pub exit_code: i64,
    /// Node it ran on (id).
    pub node: Option<String>,
    /// Last log lines.
    pub logs: Vec<String>,
}

/// The job form of a one-off's converted spec: one completion, no restarts, no update config.
pub fn job_spec(mut spec: ServiceSpec, release: &str) -> ServiceSpec {
    spec.name = spec.name.map(|n| format!("{n}-r{release}"));
    spec.mode = Some(ServiceSpecMode {
        replicated_job: Some(ServiceSpecModeReplicatedJob { max_concurrent: Some(1), total_completions: Some(1) }),
        ..Default::default()
    });
    spec.update_config = None;
    spec.rollback_config = None;
    if let Some(t) = spec.task_template.as_mut() {
        t.restart_policy = Some(TaskSpecRestartPolicy {
            condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
            ..Default::default()
        });
    }
    if let Some(e) = spec.endpoint_spec.as_mut() {
        e.ports = None;
    }
    spec
}

/// How a job run ended: it exited (or ran out of time, exit code -1), or the release was halted
/// while it ran (the job service is removed either way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// The job's task ended (or its bound ran out).
    Exited(JobOutcome),
    /// The release was cancelled or lost its lease while the job ran; the job was removed.
    Halted(Halted),
}

/// Run `spec` (already in job form) to completion within `timeout`, or until `halt`; the job
/// service is removed afterwards whatever happened.
pub async fn run_job(
    docker: &Docker,
    spec: ServiceSpec,
    auth: Option<bollard::auth::DockerCredentials>,
    timeout: Duration,
    halt: &Halt,
) -> Result<JobEnd, SwarmError> {
    let name = spec.name.clone().unwrap_or_default();
    let _ = docker.delete_service(&name).await; // a leftover of an interrupted deploy
    docker.create_service(spec, auth).await.map_err(|e| SwarmError::engine("create job", &name, e))?;
    let result = tokio::select! {
        r = tokio::time::timeout(timeout, wait_done(docker, &name)) => Some(r),
        _ = halt.wait() => None,
    };
    let logs = log_tail(docker, &name).await;
    let _ = docker.delete_service(&name).await;
    match result {
        None => Ok(JobEnd::Halted(halt.now().unwrap_or(Halted::Cancelled))),
        Some(Ok(Ok((exit_code, node)))) => Ok(JobEnd::Exited(JobOutcome { exit_code, node, logs })),
        Some(Ok(Err(e))) => Err(e),
        Some(Err(_)) => Ok(JobEnd::Exited(JobOutcome { exit_code: -1, node: None, logs })),
    }
}

async fn wait_done(docker: &Docker, name: &str) -> Result<(i64, Option<String>), SwarmError> {
    let filters = HashMap::from([("service".to_string(), vec![name.to_string()])]);
    loop {
        let tasks = docker
            .list_tasks(Some(ListTasksOptions { filters: Some(filters.clone()) }))
            .await
            .map_err(|e| SwarmError::engine("list tasks of job", name, e))?;
        for t in &tasks {
            let Some(st) = t.status.as_ref() else { continue };
            let code = st.container_status.as_ref().and_then(|c| c.exit_code);
            match st.state {
                Some(TaskState::COMPLETE) => return Ok((code.unwrap_or(0), t.node_id.clone())),
                Some(TaskState::FAILED | TaskState::REJECTED) => return Ok((code.unwrap_or(-1), t.node_id.clone())),
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The last 20 lines of a service's logs (empty when the engine cannot give them).
pub async fn log_tail(docker: &Docker, name: &str) -> Vec<String> {
    let opts = LogsOptions { stdout: true, stderr: true, tail: "20".into(), ..Default::default() };
    let read = async {
        let mut out = String::new();
        let mut stream = docker.service_logs(name, Some(opts));
        while let Some(Ok(chunk)) = stream.next().await {
            out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        out
    };
    let text = tokio::time::timeout(Duration::from_secs(10), read).await.unwrap_or_default();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[lines.len().saturating_sub(20)..].to_vec()
}
