//! The engine seam of the executor: the few engine operations a plan needs, as a small internal
//! trait. [`BollardEngine`] drives a Docker engine through bollard (the production path); the
//! in-memory fake in `fake.rs` stands in for it in unit tests of the executor, its state machine
//! and its undo. Nothing here is public API: bollard stays behind `DockerHost`.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;

use super::container_spec::ContainerPlan;
use super::engine;
use super::error::DeployError;
use super::hooks::container::{run_container_hook, ContainerHook};
use super::hooks::{HookEnv, HookRun};
use super::record::VolumeRecords;
use super::release::Release;
use super::state::DesiredRelease;
use crate::route::{backend_for_container, Backend, RouteError, RouteSpec};
use crate::stack::{NetworkSpec, VolumeSpec};

/// A container's state as the executor judges it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ContainerState {
    /// Running (not restarting).
    pub running: bool,
    /// Docker health status, when it has a healthcheck (`starting`, `healthy`, `unhealthy`).
    pub health: Option<String>,
    /// Exit code once it has exited.
    pub exit_code: Option<i64>,
}

/// What the executor asks of an engine. Every call is one request (bounded by the caller).
#[async_trait]
pub(crate) trait Engine: Send + Sync {
    /// Create a network (`labels` already include the project's).
    async fn create_network(
        &self,
        name: &str,
        spec: &NetworkSpec,
        labels: HashMap<String, String>,
    ) -> Result<(), DeployError>;
    /// Create a named volume.
    async fn create_volume(
        &self,
        name: &str,
        spec: &VolumeSpec,
        labels: HashMap<String, String>,
    ) -> Result<(), DeployError>;
    /// Pull an image by digest.
    async fn pull(&self, image: &str) -> Result<(), DeployError>;
    /// Remove a container (forced; a missing one is fine).
    async fn remove(&self, id: &str) -> Result<(), DeployError>;
    /// Create a container without starting it; its id.
    async fn create(&self, plan: &ContainerPlan) -> Result<String, DeployError>;
    /// Start a container.
    async fn start(&self, id: &str) -> Result<(), DeployError>;
    /// Stop a container with its stop signal and grace period.
    async fn stop(&self, id: &str) -> Result<(), DeployError>;
    /// A container's state.
    async fn state(&self, id: &str) -> Result<ContainerState, DeployError>;
    /// The last `n` log lines, best effort.
    async fn log_tail(&self, id: &str, n: usize) -> Vec<String>;
    /// Where the proxy reaches the container for `route`.
    async fn backend(&self, id: &str, route: &RouteSpec) -> Result<Backend, RouteError>;
    /// One round of `x-slipway.probes` against the container: `Ok(None)` all healthy,
    /// `Ok(Some(why))` not yet, `Err` the probes cannot be run.
    async fn probe_round(&self, id: &str, targets: &[String]) -> Result<Option<String>, String>;
    /// Write a release record on the host.
    async fn write_record(&self, release: &Release) -> Result<(), DeployError>;
    /// Remove containers and images beyond `keep` releases.
    async fn prune(&self, project: &str, keep: usize) -> Result<(), DeployError>;
    /// Run a container hook to completion (bounded by `timeout`).
    async fn run_container_hook(
        &self,
        desired: &DesiredRelease,
        hook: &ContainerHook<'_>,
        env: &HookEnv,
        timeout: Duration,
    ) -> Result<HookRun, String>;
}

/// The engine seam over a bollard client.
#[derive(Debug, Clone)]
pub(crate) struct BollardEngine {
    docker: Docker,
}

impl BollardEngine {
    pub(crate) fn new(docker: Docker) -> Self {
        Self { docker }
    }
}

#[async_trait]
impl Engine for BollardEngine {
    async fn create_network(
        &self,
        name: &str,
        spec: &NetworkSpec,
        labels: HashMap<String, String>,
    ) -> Result<(), DeployError> {
        let req = bollard::models::NetworkCreateRequest {
            name: name.to_string(),
            driver: spec.driver.clone(),
            internal: Some(spec.internal),
            labels: Some(labels),
            ..Default::default()
        };
        self.docker.create_network(req).await.map(|_| ()).map_err(|e| DeployError::engine("create network", name, e))
    }

    async fn create_volume(
        &self,
        name: &str,
        spec: &VolumeSpec,
        labels: HashMap<String, String>,
    ) -> Result<(), DeployError> {
        let req = bollard::models::VolumeCreateRequest {
            name: Some(name.to_string()),
            driver: spec.driver.clone(),
            labels: Some(labels),
            ..Default::default()
        };
        self.docker.create_volume(req).await.map(|_| ()).map_err(|e| DeployError::engine("create volume", name, e))
    }

    async fn pull(&self, image: &str) -> Result<(), DeployError> {
        engine::pull(&self.docker, image).await
    }

    async fn remove(&self, id: &str) -> Result<(), DeployError> {
        engine::remove(&self.docker, id).await
    }

    async fn create(&self, plan: &ContainerPlan) -> Result<String, DeployError> {
        engine::create(&self.docker, plan).await
    }

    async fn start(&self, id: &str) -> Result<(), DeployError> {
        match self.docker.start_container(id, None).await {
            // Already running (an undo restarting a container that never stopped).
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(DeployError::engine("start container", id, e)),
        }
    }

    async fn stop(&self, id: &str) -> Result<(), DeployError> {
        engine::stop(&self.docker, id).await
    }

    async fn state(&self, id: &str) -> Result<ContainerState, DeployError> {
        let (running, health, exit_code) = engine::container_state(&self.docker, id).await?;
        Ok(ContainerState { running, health, exit_code: if running { None } else { exit_code } })
    }

    async fn log_tail(&self, id: &str, n: usize) -> Vec<String> {
        engine::log_tail(&self.docker, id, n).await
    }

    async fn backend(&self, id: &str, route: &RouteSpec) -> Result<Backend, RouteError> {
        backend_for_container(&self.docker, id, route).await
    }

    async fn probe_round(&self, id: &str, targets: &[String]) -> Result<Option<String>, String> {
        use crate::health::{target, Outcome};
        let inspect = self.docker.inspect_container(id, None).await.map_err(|e| e.to_string())?;
        let name = inspect.name.unwrap_or_default().trim_start_matches('/').to_string();
        let ip = inspect
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|n| n.into_values().find_map(|e| e.ip_address.filter(|ip| !ip.is_empty())))
            .unwrap_or_default();
        let options =
            target::TargetOptions::default().engine(crate::health::docker::Engine::with_client(self.docker.clone()));
        for t in targets {
            let t = t.replace("{container}", &name).replace("{ip}", &ip);
            let probe = target::parse_target_with(&t, &options).map_err(|e| e.to_string())?;
            let r = probe.probe(Duration::from_secs(2)).await;
            if r.outcome != Outcome::Healthy {
                return Ok(Some(format!("{}: {:?}", probe.target(), r.outcome)));
            }
        }
        Ok(None)
    }

    async fn write_record(&self, release: &Release) -> Result<(), DeployError> {
        VolumeRecords::new(self.docker.clone()).write(release).await
    }

    async fn prune(&self, project: &str, keep: usize) -> Result<(), DeployError> {
        super::prune::prune(&self.docker, project, keep).await.map(|_| ())
    }

    async fn run_container_hook(
        &self,
        desired: &DesiredRelease,
        hook: &ContainerHook<'_>,
        env: &HookEnv,
        timeout: Duration,
    ) -> Result<HookRun, String> {
        run_container_hook(&self.docker, desired, hook, env, timeout).await
    }
}
