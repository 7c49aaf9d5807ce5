//! In-memory doubles of the executor's engine seam and of the traffic router, for unit tests of
//! the executor, its rollout state machine and its undo. Both share one [`World`], which can be
//! armed to fail the next engine or router call (failure injection at a chosen step), and which
//! takes a [`Snapshot`] of what serves: running containers and, per route, the containers behind
//! its backends (a restarted container gets a new address, as on a real engine).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use super::confirm::PortSilence;
use super::container_spec::ContainerPlan;
use super::error::DeployError;
use super::failure::{GateFailure, HookFailure};
use super::hooks::container::ContainerHook;
use super::hooks::{HookEnv, HookRun};
use super::labels;
use super::release::Release;
use super::seam::{ContainerState, Engine, PublishedPort};
use super::state::{ActualContainer, ActualState, DesiredRelease};
use crate::events::Observer;
use crate::route::{Backend, RouteError, RouteSpec, TrafficRouter};
use crate::stack::{NetworkSpec, VolumeSpec};

/// One fake container.
#[derive(Debug, Clone)]
pub(crate) struct FakeContainer {
    pub name: String,
    pub labels: HashMap<String, String>,
    pub running: bool,
    pub started_once: bool,
    pub healthcheck: bool,
    pub ip: Option<String>,
    /// Host ports it publishes (from its plan's port bindings).
    pub ports: Vec<u16>,
    /// It exits with this code as soon as it is started (injected: a crashing release).
    pub crashes: Option<i64>,
    /// Its exit code once it has run.
    pub exit_code: i64,
}

#[derive(Debug, Default)]
pub(crate) struct WorldState {
    pub containers: BTreeMap<String, FakeContainer>,
    pub networks: BTreeSet<String>,
    pub volumes: BTreeSet<String>,
    pub records: BTreeMap<u64, Release>,
    pub routes: BTreeMap<String, BTreeSet<Backend>>,
    pub calls: Vec<String>,
    /// Published host ports that never answer (injected: the old release does not serve there).
    pub silent_ports: BTreeSet<u16>,
    /// Services whose containers created from now on exit with this code when started.
    pub crashing: BTreeMap<String, i64>,
    next: u32,
}

/// What serves, comparable across a deploy: running containers by name, and per route the
/// names of the containers behind its backends.
pub(crate) type Snapshot = (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>);

/// The shared state of the fake engine and router.
#[derive(Debug, Default)]
pub(crate) struct World {
    state: Mutex<WorldState>,
    armed: AtomicBool,
    fail_on: Mutex<Option<String>>,
    /// Container hooks never finish (a cancellation must stop them).
    pub hang_hooks: AtomicBool,
}

impl World {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, WorldState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fail the next engine or router call.
    pub(crate) fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Stop failing (the armed step made no call).
    pub(crate) fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }

    /// Fail the first later call whose description starts with `prefix` (e.g. `route add`).
    pub(crate) fn fail_on(&self, prefix: &str) {
        if let Ok(mut f) = self.fail_on.lock() {
            *f = Some(prefix.to_string());
        }
    }

    pub(crate) fn check(&self, call: String) -> Result<(), String> {
        self.lock().calls.push(call.clone());
        let matched = self.fail_on.lock().map(|mut f| f.take_if(|p| call.starts_with(p.as_str())).is_some());
        if self.armed.swap(false, Ordering::SeqCst) || matched.unwrap_or(false) {
            return Err(format!("injected failure at {call}"));
        }
        Ok(())
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let s = self.lock();
        let running = s.containers.values().filter(|c| c.running).map(|c| c.name.clone()).collect();
        let by_ip: BTreeMap<String, String> = s
            .containers
            .values()
            .filter(|c| c.running)
            .filter_map(|c| c.ip.clone().map(|ip| (ip, c.name.clone())))
            .collect();
        let routes = s
            .routes
            .iter()
            .map(|(k, set)| {
                let names = set
                    .iter()
                    .map(|b| {
                        let host = b.url().trim_start_matches("http://").split(':').next().unwrap_or_default();
                        by_ip.get(host).cloned().unwrap_or_else(|| format!("dead {b}"))
                    })
                    .collect();
                (k.clone(), names)
            })
            .collect();
        (running, routes)
    }

    /// The state `plan()` sees.
    pub(crate) fn actual(&self, images: &BTreeSet<String>) -> ActualState {
        let s = self.lock();
        let mut actual = ActualState {
            networks: s.networks.clone(),
            volumes: s.volumes.clone(),
            images: images.clone(),
            history: s.records.values().cloned().collect(),
            ..Default::default()
        };
        for (id, c) in &s.containers {
            let Some(service) = c.labels.get(labels::SERVICE) else { continue };
            let release = c.labels.get(labels::RELEASE).and_then(|r| r.parse().ok()).unwrap_or(0);
            let hash = c.labels.get(labels::CONFIG_HASH).cloned().unwrap_or_default();
            let replica = c.labels.get(labels::REPLICA).and_then(|r| r.parse().ok()).unwrap_or(1);
            let mut a = ActualContainer::new(id, service, release, &hash, replica, c.running);
            a.name = c.name.clone();
            a.oneoff = c.labels.contains_key(labels::ONEOFF);
            a.exit_code = (!c.running && c.started_once).then_some(c.exit_code);
            actual.containers.push(a);
        }
        actual
    }
}

/// The host ports a container plan publishes.
fn published(plan: &ContainerPlan) -> Vec<u16> {
    let bindings = plan.body.host_config.as_ref().and_then(|h| h.port_bindings.as_ref());
    let mut ports: Vec<u16> = bindings
        .into_iter()
        .flat_map(|b| b.values().flatten().flatten())
        .filter_map(|b| b.host_port.as_deref()?.parse().ok())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// An injected (or a missing container's) failure, as the engine would report it.
pub(crate) fn engine_err(call: &str, reason: String) -> DeployError {
    let source = bollard::errors::Error::DockerResponseServerError { status_code: 500, message: reason };
    DeployError::engine("fake", call, source)
}

/// The fake engine seam.
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeEngine {
    pub world: Arc<World>,
}

impl FakeEngine {
    pub(crate) fn new(world: Arc<World>) -> Self {
        Self { world }
    }

    fn check(&self, call: String) -> Result<(), DeployError> {
        self.world.check(call.clone()).map_err(|r| engine_err(&call, r))
    }
}

#[async_trait]
impl Engine for FakeEngine {
    async fn create_network(&self, name: &str, _: &NetworkSpec, _: HashMap<String, String>) -> Result<(), DeployError> {
        self.check(format!("create network {name}"))?;
        self.world.lock().networks.insert(name.to_string());
        Ok(())
    }

    async fn create_volume(&self, name: &str, _: &VolumeSpec, _: HashMap<String, String>) -> Result<(), DeployError> {
        self.check(format!("create volume {name}"))?;
        self.world.lock().volumes.insert(name.to_string());
        Ok(())
    }

    async fn pull(&self, image: &str) -> Result<(), DeployError> {
        self.check(format!("pull {image}"))
    }

    async fn remove(&self, id: &str) -> Result<(), DeployError> {
        self.check(format!("remove {id}"))?;
        self.world.lock().containers.remove(id);
        Ok(())
    }

    async fn create(&self, plan: &ContainerPlan) -> Result<String, DeployError> {
        self.check(format!("create {}", plan.name))?;
        let mut s = self.world.lock();
        s.next += 1;
        let id = format!("c{:02}", s.next);
        let labels = plan.body.labels.clone().unwrap_or_default();
        let crashes = labels.get(labels::SERVICE).and_then(|svc| s.crashing.get(svc)).copied();
        let c = FakeContainer {
            name: plan.name.clone(),
            labels,
            running: false,
            started_once: false,
            healthcheck: plan.body.healthcheck.is_some(),
            ip: None,
            ports: published(plan),
            crashes,
            exit_code: 0,
        };
        s.containers.insert(id.clone(), c);
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<(), DeployError> {
        self.check(format!("start {id}"))?;
        let mut s = self.world.lock();
        s.next += 1;
        let ip = format!("10.0.0.{}", s.next);
        let c = s.containers.get_mut(id).ok_or_else(|| engine_err("start", format!("no container {id}")))?;
        if let Some(code) = c.crashes {
            c.started_once = true; // it exits at once
            c.exit_code = code;
        } else if c.labels.contains_key(labels::ONEOFF) {
            c.started_once = true; // a one-off task runs to completion at once (exit 0)
        } else if !c.running {
            c.running = true;
            c.started_once = true;
            c.ip = Some(ip); // a (re)started container gets a new address
        }
        Ok(())
    }

    async fn stop(&self, id: &str) -> Result<(), DeployError> {
        self.check(format!("stop {id}"))?;
        if let Some(c) = self.world.lock().containers.get_mut(id) {
            c.running = false;
            c.ip = None;
        }
        Ok(())
    }

    async fn state(&self, id: &str) -> Result<ContainerState, DeployError> {
        self.check(format!("state {id}"))?;
        let s = self.world.lock();
        let c = s.containers.get(id).ok_or_else(|| engine_err("state", format!("no container {id}")))?;
        Ok(ContainerState {
            running: c.running,
            health: (c.healthcheck && c.running).then(|| "healthy".to_string()),
            exit_code: (!c.running && c.started_once).then_some(c.exit_code),
        })
    }

    async fn log_tail(&self, _id: &str, _n: usize) -> Vec<String> {
        Vec::new()
    }

    async fn backend(&self, id: &str, route: &RouteSpec) -> Result<Backend, RouteError> {
        let err = |reason: String| RouteError::ContainerAddress {
            service: route.service.clone(),
            container: id.into(),
            reason,
        };
        self.world.check(format!("address {id}")).map_err(err)?;
        let s = self.world.lock();
        let ip = s.containers.get(id).and_then(|c| c.ip.clone()).ok_or_else(|| err("not running".into()))?;
        Ok(Backend::http(&ip, route.port))
    }

    async fn probe_round(&self, id: &str, _targets: &[String]) -> Result<Option<String>, GateFailure> {
        self.check(format!("probe {id}"))?;
        Ok(None)
    }

    async fn published_ports(&self, id: &str) -> Result<Vec<PublishedPort>, DeployError> {
        let s = self.world.lock();
        let c = s.containers.get(id).ok_or_else(|| engine_err("ports", format!("no container {id}")))?;
        Ok(c.ports.iter().map(|&port| PublishedPort { host_ip: None, port }).collect())
    }

    async fn port_answers(&self, port: &PublishedPort, bound: Duration) -> Result<(), PortSilence> {
        let answers = {
            let s = self.world.lock();
            let serving = s.containers.values().any(|c| c.running && c.ports.contains(&port.port));
            serving && !s.silent_ports.contains(&port.port)
        };
        if !answers {
            tokio::time::sleep(bound).await; // no answer within the bound
            return Err(PortSilence::NoAnswer(bound));
        }
        Ok(())
    }

    async fn write_record(&self, release: &Release) -> Result<(), DeployError> {
        self.check(format!("record {}", release.id))?;
        self.world.lock().records.insert(release.id.0, release.clone());
        Ok(())
    }

    async fn prune(&self, project: &str, _keep: usize) -> Result<(), DeployError> {
        self.check(format!("prune {project}"))
    }

    async fn run_container_hook(
        &self,
        desired: &DesiredRelease,
        hook: &ContainerHook<'_>,
        _env: &HookEnv,
        _timeout: Duration,
    ) -> Result<HookRun, HookFailure> {
        self.check(format!("hook {} {}", hook.point.key(), hook.index + 1))?;
        // The hook's container runs while the hook does (removed when it succeeds).
        let release = desired.id.to_string();
        let name = super::hooks::container::hook_container_name(desired.project(), hook.point, hook.index, &release);
        let c = FakeContainer {
            name: name.clone(),
            labels: HashMap::new(),
            running: true,
            started_once: true,
            healthcheck: false,
            ip: None,
            ports: Vec::new(),
            crashes: None,
            exit_code: 0,
        };
        self.world.lock().containers.insert(name.clone(), c);
        if self.world.hang_hooks.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.world.lock().containers.remove(&name);
        Ok(HookRun { exit_code: 0, output: Vec::new(), failure: None })
    }
}

/// The fake router: a server set per route, in the shared world.
#[derive(Debug, Clone, Default)]
pub(crate) struct FakeRouter {
    pub world: Arc<World>,
}

impl FakeRouter {
    pub(crate) fn new(world: Arc<World>) -> Self {
        Self { world }
    }

    fn check(&self, call: String, route: &RouteSpec) -> Result<(), RouteError> {
        self.world.check(call).map_err(|reason| RouteError::NotConfirmed {
            service: route.service.clone(),
            what: reason,
            expected: Vec::new(),
            seen: String::new(),
            waited: Duration::ZERO,
            previous: Box::new(crate::route::PreviousRoute::Untouched),
        })
    }
}

#[async_trait]
impl TrafficRouter for FakeRouter {
    async fn backends(&self, route: &RouteSpec) -> Result<Vec<Backend>, RouteError> {
        Ok(self.world.lock().routes.get(&route.key()).map(|s| s.iter().cloned().collect()).unwrap_or_default())
    }

    async fn add_backend(&self, route: &RouteSpec, backend: &Backend, _: &dyn Observer) -> Result<(), RouteError> {
        self.check(format!("route add {} {backend}", route.key()), route)?;
        self.world.lock().routes.entry(route.key()).or_default().insert(backend.clone());
        Ok(())
    }

    async fn remove_backend(&self, route: &RouteSpec, backend: &Backend, _: &dyn Observer) -> Result<(), RouteError> {
        self.check(format!("route remove {} {backend}", route.key()), route)?;
        let mut s = self.world.lock();
        let set = s.routes.entry(route.key()).or_default();
        if set.len() == 1 && set.contains(backend) {
            return Err(RouteError::LastBackend { service: route.service.clone(), backend: backend.to_string() });
        }
        set.remove(backend);
        if set.is_empty() {
            s.routes.remove(&route.key());
        }
        Ok(())
    }

    async fn retire(&self, route: &RouteSpec, _: &dyn Observer) -> Result<(), RouteError> {
        self.check(format!("route retire {}", route.key()), route)?;
        self.world.lock().routes.remove(&route.key());
        Ok(())
    }
}
