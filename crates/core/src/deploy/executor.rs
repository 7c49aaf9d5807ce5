//! The executor of a `Plan` on one Docker engine. Steps run in order; each one that changes what
//! serves writes an entry in an undo journal. The per-replica rollout is the small state machine
//! encoded by the plan's step order (start-first: Start -> WaitHealthy -> RouteSwitch -> StopOld;
//! stop-first: StopOld -> Start -> WaitHealthy -> RouteSwitch); every wait is bounded, and the
//! failure edge of every state is the same: replay the journal backwards (stop and keep the new
//! containers, start the old ones again, route back), record the release as failed, and return
//! an error naming the service, the step and the failing container's last log lines.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bollard::Docker;

use crate::engine::Connection;

use super::container_spec::container_plan;
use super::engine;
use super::error::DeployError;
use super::event::DeployEvent;
use super::labels::ContainerIdentity;
use super::plan::{Plan, Step};
use super::record::VolumeRecords;
use super::release::{Release, ReleaseOutcome};
use super::rules::{is_routed, HealthGate};
use super::state::DesiredRelease;
use super::switch::TrafficSwitch;
use crate::events::{Event, Observer};
use crate::wait::wait_until;

/// What was done that a failure must undo.
#[derive(Debug, Clone)]
enum Undo {
    /// A new container was started: stop it (it is kept for inspection).
    StopNew { service: String, id: String },
    /// An old container was stopped: start it again.
    RestartOld { id: String },
    /// Traffic was switched to a new container.
    RouteBack { service: String, id: String },
}

/// A failure inside a step: why, and the container whose logs explain it.
struct StepError {
    reason: String,
    container: Option<String>,
}

impl From<DeployError> for StepError {
    fn from(e: DeployError) -> Self {
        StepError { reason: e.to_string(), container: None }
    }
}

/// Runs one plan against one engine.
pub struct Executor<'a> {
    docker: &'a Docker,
    desired: &'a DesiredRelease,
    record: Release,
    observer: &'a dyn Observer,
    router: &'a dyn TrafficSwitch,
    started: BTreeMap<(String, u32), String>,
    journal: Vec<Undo>,
    via: Option<crate::engine::Connection>,
}

impl<'a> Executor<'a> {
    /// An executor for `desired`; `record` is written (with its final outcome) by `RecordRelease`
    /// or after a failure.
    pub fn new(
        docker: &'a Docker,
        desired: &'a DesiredRelease,
        record: Release,
        observer: &'a dyn Observer,
        router: &'a dyn TrafficSwitch,
    ) -> Self {
        Self { docker, desired, record, observer, router, started: BTreeMap::new(), journal: Vec::new(), via: None }
    }

    /// remote room: probe network targets from `connection`'s host (ssh engines).
    pub fn via(mut self, connection: Option<crate::engine::Connection>) -> Self {
        self.via = connection;
        self
    }

    fn emit(&self, e: DeployEvent) {
        self.observer.event(&Event::Deploy(e));
    }

    /// Execute every step; on failure undo and record the release as failed.
    pub async fn run(mut self, plan: &Plan) -> Result<Release, DeployError> {
        let total = plan.steps.len();
        for (i, step) in plan.steps.iter().enumerate() {
            let description = step.describe();
            self.emit(DeployEvent::StepStarted { index: i + 1, total, description: description.clone() });
            let t0 = Instant::now();
            if let Err(e) = self.step(step).await {
                return Err(self.fail(step, e).await);
            }
            let millis = t0.elapsed().as_millis() as u64;
            self.emit(DeployEvent::StepDone { index: i + 1, description, millis });
        }
        Ok(self.record)
    }

    async fn step(&mut self, step: &Step) -> Result<(), StepError> {
        let d = self.docker;
        match step {
            Step::CreateNetwork { key, name } => {
                let spec = self.desired.stack.networks.get(key).cloned().unwrap_or_default();
                let mut labels: std::collections::HashMap<String, String> = spec.labels.into_iter().collect();
                labels.insert(super::labels::COMPOSE_PROJECT.into(), self.desired.project().into());
                labels.insert(super::labels::COMPOSE_NETWORK.into(), key.clone());
                labels.insert(super::labels::PROJECT.into(), self.desired.project().into());
                let req = bollard::models::NetworkCreateRequest {
                    name: name.clone(),
                    driver: spec.driver,
                    internal: Some(spec.internal),
                    labels: Some(labels),
                    ..Default::default()
                };
                d.create_network(req).await.map_err(|e| DeployError::engine("create network", name, e))?;
            }
            Step::CreateVolume { key, name } => {
                let spec = self.desired.stack.volumes.get(key).cloned().unwrap_or_default();
                let mut labels: std::collections::HashMap<String, String> = spec.labels.into_iter().collect();
                labels.insert(super::labels::COMPOSE_PROJECT.into(), self.desired.project().into());
                labels.insert(super::labels::COMPOSE_VOLUME.into(), key.clone());
                let req = bollard::models::VolumeCreateRequest {
                    name: Some(name.clone()),
                    driver: spec.driver,
                    labels: Some(labels),
                    ..Default::default()
                };
                d.create_volume(req).await.map_err(|e| DeployError::engine("create volume", name, e))?;
            }
            Step::Pull { image } => engine::pull(d, image).await?,
            Step::RemoveOrphan { id, .. } => engine::remove(d, id).await?,
            Step::RunOneOff { service } => self.run_oneoff(service).await?,
            Step::StartReplica { service, replica } => {
                // `deploy.update_config.delay`: a pause between the replicas of one service.
                let rolled_before = self.started.keys().any(|(s, _)| s == service);
                if let Some(delay) = self.update_config(service).and_then(|u| u.delay).filter(|_| rolled_before) {
                    tokio::time::sleep(delay).await;
                }
                let id = self.create(service, *replica, false).await?;
                self.journal.push(Undo::StopNew { service: service.clone(), id: id.clone() });
                self.started.insert((service.clone(), *replica), id.clone());
                engine::start(d, &id).await.map_err(|e| StepError { reason: e.to_string(), container: Some(id) })?;
            }
            Step::WaitHealthy { service, replica, gate } => {
                let id = self.started.get(&(service.clone(), *replica)).cloned().unwrap_or_default();
                wait_healthy(d, self.via.as_ref(), &id, gate)
                    .await
                    .map_err(|reason| StepError { reason, container: Some(id.clone()) })?;
                // `deploy.update_config.monitor`: the new container must also stay up (and not
                // turn unhealthy) this long before it takes traffic or replaces the old one.
                if let Some(period) = self.update_config(service).and_then(|u| u.monitor).filter(|p| !p.is_zero()) {
                    monitor(d, &id, period).await.map_err(|reason| StepError { reason, container: Some(id) })?;
                }
            }
            Step::RouteSwitch { service, replica } => {
                let id = self.started.get(&(service.clone(), *replica)).cloned().unwrap_or_default();
                self.router.switch_to(service, &id).await?;
                self.journal.push(Undo::RouteBack { service: service.clone(), id });
            }
            Step::StopOld { service, id, .. } => {
                // A service the new stack drops: the switch knows from the previous release
                // whether it was routed (and then retires its route).
                let routed = self.desired.stack.services.get(service).is_none_or(is_routed);
                if routed {
                    self.router.drain(service, id).await?;
                }
                engine::stop(d, id).await?;
                self.journal.push(Undo::RestartOld { id: id.clone() });
            }
            Step::RecordRelease { .. } => {
                self.record.outcome = ReleaseOutcome::Succeeded;
                VolumeRecords::new(d.clone()).write(&self.record).await?;
                // From here on the release stands: nothing is undone any more.
                self.journal.clear();
            }
            Step::Prune { keep } => {
                if let Err(e) = super::prune::prune(d, self.desired.project(), *keep).await {
                    tracing::warn!(error = %e, "prune failed; the release stands");
                }
            }
        }
        Ok(())
    }

    async fn create(&self, service: &str, replica: u32, oneoff: bool) -> Result<String, StepError> {
        let svc = &self.desired.stack.services[service];
        let hash = &self.desired.services[service].config_hash;
        let release = self.desired.id.to_string();
        let identity = ContainerIdentity {
            project: self.desired.project(),
            service,
            release: &release,
            config_hash: hash,
            replica,
            oneoff,
        };
        let plan = container_plan(&self.desired.stack, svc, &identity);
        Ok(engine::create(self.docker, &plan).await?)
    }

    fn update_config(&self, service: &str) -> Option<&crate::stack::UpdateConfig> {
        self.desired.stack.services.get(service).and_then(|s| s.deploy.update_config.as_ref())
    }

    async fn run_oneoff(&mut self, service: &str) -> Result<(), StepError> {
        let id = self.create(service, 1, true).await?;
        engine::start(self.docker, &id)
            .await
            .map_err(|e| StepError { reason: e.to_string(), container: Some(id.clone()) })?;
        let svc = &self.desired.stack.services[service];
        let limit = super::rules::slipway_settings(svc)
            .get("timeout")
            .and_then(|v| v.as_str().and_then(|s| humantime::parse_duration(s).ok()))
            .unwrap_or(Duration::from_secs(600));
        let code = engine::wait_exit(self.docker, &id, &format!("one-off {service} to exit"), limit)
            .await
            .map_err(|e| StepError { reason: e.to_string(), container: Some(id.clone()) })?;
        let logs = engine::log_tail(self.docker, &id, 20).await;
        self.emit(DeployEvent::OneOffDone { service: service.into(), exit_code: code, logs });
        if code != 0 {
            return Err(StepError { reason: format!("exited with code {code}"), container: Some(id) });
        }
        Ok(())
    }

    /// The failure edge: undo the journal backwards, record the failure, build the error.
    async fn fail(mut self, step: &Step, e: StepError) -> DeployError {
        self.emit(DeployEvent::StepFailed { description: step.describe(), reason: e.reason.clone() });
        let logs = match &e.container {
            Some(id) => engine::log_tail(self.docker, id, 20).await,
            None => Vec::new(),
        };
        let journal: Vec<Undo> = self.journal.drain(..).rev().collect();
        let mut restarted = BTreeSet::new();
        for undo in journal {
            let (what, result) = match &undo {
                Undo::StopNew { service, id } => {
                    (format!("stop new {service} container {id:.12} (kept)"), engine::stop(self.docker, id).await)
                }
                Undo::RestartOld { id } => {
                    restarted.insert(id.clone());
                    (format!("start old container {id:.12} again"), engine::start(self.docker, id).await)
                }
                Undo::RouteBack { service, id } => {
                    (format!("route {service} away from {id:.12}"), self.router.undo(service, id).await)
                }
            };
            self.emit(DeployEvent::Undo { description: what.clone() });
            if let Err(err) = result {
                tracing::warn!(error = %err, "undo step failed: {what}");
            }
        }
        // The failing container (a one-off, or a new replica) stays stopped for inspection.
        if let Some(id) = &e.container {
            let _ = engine::stop(self.docker, id).await;
        }
        let service = step.service().unwrap_or_default().to_string();
        self.record.outcome =
            ReleaseOutcome::Failed { service: service.clone(), step: step.describe(), reason: e.reason.clone() };
        if let Err(err) = VolumeRecords::new(self.docker.clone()).write(&self.record).await {
            tracing::warn!(error = %err, "could not record the failed release");
        }
        DeployError::StepFailed {
            release: self.record.id.to_string(),
            service,
            step: step.describe(),
            reason: e.reason,
            logs,
        }
    }
}

/// Wait (bounded) until a new container passes its gate; `Err(reason)` otherwise.
async fn wait_healthy(docker: &Docker, via: Option<&Connection>, id: &str, gate: &HealthGate) -> Result<(), String> {
    let start = Instant::now();
    let (bound, need) = match gate {
        HealthGate::Healthcheck { timeout_ms } => (Duration::from_millis(*timeout_ms), None),
        HealthGate::StillRunning { after_ms } => {
            (Duration::from_millis(*after_ms) + Duration::from_secs(5), Some(Duration::from_millis(*after_ms)))
        }
        HealthGate::Probes { targets, timeout_ms } => {
            return wait_probes(docker, via, id, targets, Duration::from_millis(*timeout_ms)).await;
        }
        #[allow(unreachable_patterns)]
        _ => (Duration::from_secs(60), Some(Duration::from_secs(5))),
    };
    let verdict =
        wait_until(&format!("container {id:.12} to become healthy"), bound, Duration::from_millis(200), || async {
            match engine::container_state(docker, id).await {
                Err(e) => Some(Err(e.to_string())),
                Ok((false, _, code)) => Some(Err(format!("the container exited (code {})", code.unwrap_or(-1)))),
                Ok((true, Some(h), _)) if need.is_none() && h == "healthy" => Some(Ok(())),
                Ok((true, Some(h), _)) if need.is_none() && h == "unhealthy" => {
                    Some(Err("the healthcheck reports unhealthy".into()))
                }
                Ok((true, _, _)) if need.is_some_and(|n| start.elapsed() >= n) => Some(Ok(())),
                Ok(_) => None,
            }
        })
        .await;
    match verdict {
        Ok(r) => r,
        Err(timeout) => Err(format!("not healthy: {timeout}")),
    }
}

/// Watch a container that passed its gate for `period`: it must keep running and must not turn
/// unhealthy. (The wait runs out when nothing went wrong: that is the good outcome here.)
async fn monitor(docker: &Docker, id: &str, period: Duration) -> Result<(), String> {
    let start = Instant::now();
    let what = format!("container {id:.12} through its monitor period");
    let went_wrong = wait_until(&what, period, Duration::from_millis(200), || async {
        match engine::container_state(docker, id).await {
            Err(e) => Some(e.to_string()),
            Ok((false, _, code)) => Some(format!(
                "the container exited (code {}) {:.1}s after passing its health gate, within the {}s monitor period",
                code.unwrap_or(-1),
                start.elapsed().as_secs_f64(),
                period.as_secs_f64()
            )),
            Ok((true, Some(h), _)) if h == "unhealthy" => {
                Some(format!("the healthcheck turned unhealthy within the {}s monitor period", period.as_secs_f64()))
            }
            Ok(_) => None,
        }
    })
    .await;
    match went_wrong {
        Ok(reason) => Err(reason),
        Err(_period_over) => Ok(()),
    }
}

/// The `x-slipway.probes` gate: the container keeps running and every probe answers healthy.
async fn wait_probes(
    docker: &Docker,
    via: Option<&Connection>,
    id: &str,
    targets: &[String],
    bound: Duration,
) -> Result<(), String> {
    use crate::health::{target, Outcome};
    let inspect = docker.inspect_container(id, None).await.map_err(|e| e.to_string())?;
    let name = inspect.name.unwrap_or_default().trim_start_matches('/').to_string();
    let ip = inspect
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|n| n.into_values().find_map(|e| e.ip_address.filter(|ip| !ip.is_empty())))
        .unwrap_or_default();
    let options = target::TargetOptions::default()
        .engine(crate::health::docker::Engine::with_client(docker.clone()))
        .via(via.cloned());
    let mut probes = Vec::new();
    for t in targets {
        let t = t.replace("{container}", &name).replace("{ip}", &ip);
        probes.push(target::parse_target_with(&t, &options).map_err(|e| e.to_string())?);
    }
    let last = std::sync::Mutex::new(String::new());
    let verdict = wait_until(&format!("probes of {name}"), bound, Duration::from_millis(300), || async {
        match engine::container_state(docker, id).await {
            Err(e) => return Some(Err(e.to_string())),
            Ok((false, _, code)) => return Some(Err(format!("the container exited (code {})", code.unwrap_or(-1)))),
            Ok(_) => {}
        }
        for p in &probes {
            let r = p.probe(Duration::from_secs(2)).await;
            if r.outcome != Outcome::Healthy {
                if let Ok(mut l) = last.lock() {
                    *l = format!("{}: {:?}", p.target(), r.outcome);
                }
                return None;
            }
        }
        Some(Ok(()))
    })
    .await;
    match verdict {
        Ok(r) => r,
        Err(timeout) => {
            Err(format!("not healthy: {timeout}; last: {}", last.lock().map(|l| l.clone()).unwrap_or_default()))
        }
    }
}
