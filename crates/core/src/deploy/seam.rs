//! The engine seam of the executor: the few engine operations a plan needs, as a small internal
//! trait. [`BollardEngine`] drives a Docker engine through bollard (the production path); the
//! in-memory fake in `fake.rs` stands in for it in unit tests of the executor, its state machine
//! and its undo. Nothing here is public API: bollard stays behind `DockerHost`.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;

use super::confirm::PortSilence;
use super::container_spec::ContainerPlan;
use super::engine;
use super::error::DeployError;
use super::failure::{GateFailure, HookFailure};
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

/// A TCP port a container publishes on its engine's host (undo confirms the old release answers
/// on it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PublishedPort {
    /// The host address it is bound to, when not every address (`0.0.0.0`, `::`).
    pub host_ip: Option<String>,
    /// The host port.
    pub port: u16,
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
    /// `Ok(Some(why))` not yet, `Err` the probes cannot be run (`GateFailure::Engine` when the
    /// container cannot be inspected, `GateFailure::Probe` for a bad target).
    async fn probe_round(&self, id: &str, targets: &[String]) -> Result<Option<String>, GateFailure>;
    /// The TCP ports `id` publishes on its host, as the engine reports them (one per port).
    async fn published_ports(&self, id: &str) -> Result<Vec<PublishedPort>, DeployError>;
    /// One TCP connect to a published port from the engine host's side (through the ssh
    /// tunnel for `ssh://` engines), bounded by `bound`: `Err` says why it did not answer.
    async fn port_answers(&self, port: &PublishedPort, bound: Duration) -> Result<(), PortSilence>;
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
    ) -> Result<HookRun, HookFailure>;
}

/// The engine seam over a bollard client.
#[derive(Debug, Clone)]
pub(crate) struct BollardEngine {
    docker: Docker,
    via: Option<crate::engine::Connection>,
}

impl BollardEngine {
    pub(crate) fn new(docker: Docker) -> Self {
        Self { docker, via: None }
    }

    /// remote room: probe network targets from `connection`'s host (ssh engines).
    pub(crate) fn via(mut self, connection: Option<crate::engine::Connection>) -> Self {
        self.via = connection;
        self
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
        let req = super::container_spec::network_request(name, spec, labels);
        self.docker.create_network(req).await.map(|_| ()).map_err(|e| DeployError::engine("create network", name, e))
    }

    async fn create_volume(
        &self,
        name: &str,
        spec: &VolumeSpec,
        labels: HashMap<String, String>,
    ) -> Result<(), DeployError> {
        let req = super::container_spec::volume_request(name, spec, labels);
        self.docker.create_volume(req).await.map(|_| ()).map_err(|e| DeployError::engine("create volume", name, e))
    }

    async fn pull(&self, image: &str) -> Result<(), DeployError> {
        engine::pull(&self.docker, image).await
    }

    async fn remove(&self, id: &str) -> Result<(), DeployError> {
        engine::remove(&self.docker, id).await
    }

    async fn create(&self, plan: &ContainerPlan) -> Result<String, DeployError> {
        release_fixed_name(&self.docker, plan).await?;
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

    async fn probe_round(&self, id: &str, targets: &[String]) -> Result<Option<String>, GateFailure> {
        use crate::health::{target, Outcome};
        let inspect = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| DeployError::engine("inspect container", id, e))?;
        let name = inspect.name.unwrap_or_default().trim_start_matches('/').to_string();
        let ip = inspect
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|n| n.into_values().find_map(|e| e.ip_address.filter(|ip| !ip.is_empty())))
            .unwrap_or_default();
        let options = target::TargetOptions::default()
            .engine(crate::health::docker::Engine::with_client(self.docker.clone()))
            .via(self.via.clone())
            .near(Some(id));
        for t in targets {
            let t = t.replace("{container}", &name).replace("{ip}", &ip);
            let probe = target::parse_target_with(&t, &options).map_err(GateFailure::Probe)?;
            let r = probe.probe(Duration::from_secs(2)).await;
            if r.outcome != Outcome::Healthy {
                return Ok(Some(format!("{}: {:?}", probe.target(), r.outcome)));
            }
        }
        Ok(None)
    }

    async fn published_ports(&self, id: &str) -> Result<Vec<PublishedPort>, DeployError> {
        let inspect = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| DeployError::engine("inspect container", id, e))?;
        let bindings = inspect.network_settings.and_then(|n| n.ports).unwrap_or_default();
        let mut ports: Vec<PublishedPort> = bindings
            .into_iter()
            .filter(|(key, _)| key.ends_with("/tcp"))
            .flat_map(|(_, b)| b.unwrap_or_default())
            .filter_map(|b| {
                let port = b.host_port.as_deref()?.parse().ok().filter(|p| *p != 0)?;
                let host_ip = b.host_ip.filter(|ip| !matches!(ip.as_str(), "" | "0.0.0.0" | "::"));
                Some(PublishedPort { host_ip, port })
            })
            .collect();
        ports.sort();
        ports.dedup_by(|a, b| a.port == b.port); // `0.0.0.0` and `::` bindings of one port
        Ok(ports)
    }

    async fn port_answers(&self, port: &PublishedPort, bound: Duration) -> Result<(), PortSilence> {
        use super::confirm::{tcp_answers, DIRECT_SETTLE, TUNNEL_SETTLE};
        let mut host = port.host_ip.clone().unwrap_or_else(|| "127.0.0.1".into());
        let answer = |host: String, port: u16, settle| tokio::time::timeout(bound, tcp_answers(host, port, settle));
        let late = |_| PortSilence::NoAnswer(bound);
        match self.via.as_ref() {
            // `ssh://`: dialled on the engine's host, through a tunnel of the connection.
            Some(c) if c.has_tunnels() => {
                let tunnel = c.tunnel(&host, port.port).map_err(PortSilence::Tunnel)?.ok_or(PortSilence::NoTunnel)?;
                let local = tunnel.local_addr();
                let r = answer(local.ip().to_string(), local.port(), TUNNEL_SETTLE).await.map_err(late)?;
                r.map_err(|why| PortSilence::From { host: c.host().to_string(), source: Box::new(why) })
            }
            // `tcp://`: the engine opens no connections for slipway; its host is dialled.
            Some(c) if c.is_remote() => {
                if port.host_ip.is_none() {
                    let url = url::Url::parse(c.host())
                        .map_err(|source| PortSilence::EngineAddress { host: c.host().to_string(), source })?;
                    host = url.host_str().unwrap_or_default().to_string();
                }
                answer(host, port.port, DIRECT_SETTLE).await.map_err(late)?
            }
            _ => answer(host, port.port, DIRECT_SETTLE).await.map_err(late)?,
        }
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
    ) -> Result<HookRun, HookFailure> {
        run_container_hook(&self.docker, desired, hook, env, timeout).await
    }
}

/// compose room: a fixed `container_name` is held by the previous (stopped, retained) container
/// of a stop-first service; it keeps its id and gets a name of its own. Only a container of the
/// same project and service is renamed; any other holder of the name makes the create fail with
/// the engine's conflict.
async fn release_fixed_name(docker: &bollard::Docker, plan: &ContainerPlan) -> Result<(), DeployError> {
    let wanted = plan.body.labels.as_ref();
    let label = |l: Option<&HashMap<String, String>>, k: &str| l.and_then(|l| l.get(k)).cloned();
    let Ok(old) = docker.inspect_container(&plan.name, None).await else { return Ok(()) };
    let theirs = old.config.as_ref().and_then(|c| c.labels.as_ref());
    let same = [super::labels::PROJECT, super::labels::SERVICE]
        .iter()
        .all(|k| label(theirs, k).is_some() && label(theirs, k) == label(wanted, k));
    if !same {
        return Ok(());
    }
    let id = old.id.unwrap_or_default();
    let name = format!("{}-{}", plan.name, id.get(..12).unwrap_or(&id));
    docker
        .rename_container(&id, bollard::query_parameters::RenameContainerOptions { name })
        .await
        .map_err(|e| DeployError::engine("rename container", &plan.name, e))
}
