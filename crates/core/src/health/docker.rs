//! Docker container probe: running / exited (exit code, OOM kill), restart count and the
//! container's own health status, read with one `inspect` through bollard. Also the engine
//! connection helper shared by the exec, log and memory probes.

use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{ContainerStateStatusEnum, HealthStatusEnum};
use bollard::Docker;
use std::sync::Arc;
use tokio::sync::OnceCell;

use crate::engine::Connection;

use super::{bounded, truncate, Finding, HealthProbe, Outcome, ProbeResult};

/// Where the Docker probes find the engine: a client given by the caller, or a
/// [`Connection`] (by default what the environment names: `DOCKER_HOST`, a context, else the local
/// socket) connected at the first attempt and kept, so every attempt shares one connection.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    docker: Option<Docker>,
    connection: Option<Connection>,
    connected: Arc<OnceCell<Docker>>,
}

impl Engine {
    /// The engine the environment names (`DOCKER_HOST`, `DOCKER_CONTEXT`, the current context,
    /// else `/var/run/docker.sock`).
    pub fn local() -> Self {
        Engine::default()
    }
    /// The engine `connection` reaches (`-H`, `--context`, TLS flags), local or remote.
    pub fn connection(connection: Connection) -> Self {
        Engine { connection: Some(connection), ..Engine::default() }
    }
    /// A client the caller already holds (version already negotiated).
    pub fn with_client(docker: Docker) -> Self {
        Engine { docker: Some(docker), ..Engine::default() }
    }
    /// The client, or `Unreachable` when no engine answers.
    pub(crate) async fn client(&self) -> Result<Docker, Outcome> {
        if let Some(d) = &self.docker {
            return Ok(d.clone());
        }
        let docker = self
            .connected
            .get_or_try_init(|| async {
                let connection = match &self.connection {
                    Some(c) => c.clone(),
                    None => Connection::from_host(None)?,
                };
                crate::engine::connect(&connection).await
            })
            .await
            .map_err(|e| Outcome::unreachable(e.to_string()))?;
        Ok(docker.clone())
    }
}

/// A bollard error as an outcome: 404 = no such container (unhealthy), 409 = not running
/// (unhealthy), anything else = engine unreachable.
pub(crate) fn engine_error(container: &str, e: bollard::errors::Error) -> Outcome {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code: 404, .. } => {
            Outcome::unhealthy(format!("no such container {container}"))
        }
        bollard::errors::Error::DockerResponseServerError { status_code: 409, message } => {
            Outcome::unhealthy(format!("container {container} is not running: {message}"))
        }
        other => Outcome::unreachable(format!("Docker engine error for {container}: {other}")),
    }
}

/// Container state probe. Healthy when running and, if it has a healthcheck, `healthy`.
#[derive(Debug, Clone)]
pub struct ContainerProbe {
    engine: Engine,
    container: String,
}

impl ContainerProbe {
    /// Probe container `name` (name or id) on `engine`.
    pub fn new(engine: Engine, name: impl Into<String>) -> Self {
        ContainerProbe { engine, container: name.into() }
    }

    async fn attempt(&self) -> Finding {
        let docker = match self.engine.client().await {
            Ok(d) => d,
            Err(o) => return Finding::from(o),
        };
        let info = match docker.inspect_container(&self.container, None).await {
            Ok(i) => i,
            Err(e) => return Finding::from(engine_error(&self.container, e)),
        };
        let restarts = info.restart_count.unwrap_or(0);
        let state = info.state.unwrap_or_default();
        let exit = state.exit_code.unwrap_or(0);
        let oom = state.oom_killed.unwrap_or(false);
        let oom_note = if oom { ", OOM killed" } else { "" };
        let status = state.status.unwrap_or(ContainerStateStatusEnum::EMPTY);
        let health = state.health.unwrap_or_default();
        let health_status = health.status.unwrap_or(HealthStatusEnum::NONE);
        let last_output = health
            .log
            .as_ref()
            .and_then(|l| l.last())
            .and_then(|r| r.output.as_deref())
            .map(|o| truncate(o.trim(), 512));
        let summary =
            format!("status={status} health={health_status} restarts={restarts} exit_code={exit} oom_killed={oom}");
        let (outcome, starting) = match status {
            ContainerStateStatusEnum::RUNNING => match health_status {
                HealthStatusEnum::HEALTHY | HealthStatusEnum::NONE | HealthStatusEnum::EMPTY => {
                    (Outcome::Healthy, false)
                }
                HealthStatusEnum::STARTING => (Outcome::unhealthy("running, health check still starting"), true),
                HealthStatusEnum::UNHEALTHY => (
                    Outcome::unhealthy(format!(
                        "running but unhealthy ({} consecutive failed health checks{})",
                        health.failing_streak.unwrap_or(0),
                        last_output.as_deref().map(|o| format!(", last output: {o}")).unwrap_or_default()
                    )),
                    false,
                ),
            },
            ContainerStateStatusEnum::RESTARTING => (
                Outcome::unhealthy(format!("restarting (restart count {restarts}, last exit code {exit}{oom_note})")),
                false,
            ),
            ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD => (
                Outcome::unhealthy(format!("{status} with exit code {exit}{oom_note} after {restarts} restarts")),
                false,
            ),
            other => (Outcome::unhealthy(format!("not running (status {other})")), false),
        };
        Finding::from(outcome).with_starting(starting).output(summary)
    }
}

#[async_trait]
impl HealthProbe for ContainerProbe {
    fn target(&self) -> String {
        format!("container://{}", self.container)
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        bounded(timeout, self.attempt()).await
    }
}
