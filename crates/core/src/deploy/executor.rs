//! The executor of a `Plan`, through the engine seam (`seam.rs`) and the traffic router. Steps run
//! in the plan's order (lock -> policy -> backup -> pre-deploy hooks -> pulls -> one-offs and
//! per-replica rollouts -> record -> post-deploy hooks -> prune). Each replica moves through the
//! rollout state machine of `rollout.rs`; every transition that changes what serves journals
//! its [`Inverse`] *before* it acts (an inverse of a change that did not happen is harmless), so
//! a failure or a cancellation at any point undoes exactly what was done. The failure edge is
//! the same from every state: run the inverses in reverse and confirm them (`undo.rs`), record
//! the release as failed or cancelled, and return an error naming the service, the step, the
//! failing container's last log lines and the [`super::UndoReport`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::container_spec::container_plan;
use super::error::DeployError;
use super::event::DeployEvent;
use super::gate::{gate_bound, monitor, wait_exit, wait_healthy};
use super::hooks::{hook_specs, run_hook, BeforeChange, HookEnv, HookPoint, OnFailure};
use super::labels::ContainerIdentity;
use super::plan::{Plan, Step};
use super::release::{Release, ReleaseOutcome};
use super::rollout::{Inverse, ReplicaState};
use super::rules::{health_gate, HealthGate};
use super::seam::Engine;
use super::state::DesiredRelease;
use super::undo::undo;
use crate::events::{Event, Observer};
use crate::route::{RouteError, RouteSpec, TrafficRouter};
use crate::stack::StackSpec;

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

impl From<RouteError> for StepError {
    fn from(e: RouteError) -> Self {
        StepError { reason: e.to_string(), container: None }
    }
}

/// Why the run stopped early.
enum Stop {
    Failed(StepError),
    Cancelled,
}

/// Runs one plan.
pub(crate) struct Executor<'a> {
    engine: &'a dyn Engine,
    router: Option<&'a dyn TrafficRouter>,
    desired: &'a DesiredRelease,
    previous: Option<&'a StackSpec>,
    record: Release,
    observer: &'a dyn Observer,
    cancel: CancellationToken,
    before_change: &'a [Arc<dyn BeforeChange>],
    hook_env: HookEnv,
    started: BTreeMap<(String, u32), String>,
    journal: Vec<Inverse>,
    recorded: bool,
    changed: bool,
    post_hook_error: Option<DeployError>,
}

impl<'a> Executor<'a> {
    /// An executor for `desired`; `record` is written (with its final outcome) by `RecordRelease`
    /// or after a failure.
    pub(crate) fn new(
        engine: &'a dyn Engine,
        desired: &'a DesiredRelease,
        record: Release,
        observer: &'a dyn Observer,
        env: &str,
    ) -> Self {
        let hook_env = HookEnv::new(desired, env, record.parent);
        Self {
            engine,
            router: None,
            desired,
            previous: None,
            record,
            observer,
            cancel: CancellationToken::new(),
            before_change: &[],
            hook_env,
            started: BTreeMap::new(),
            journal: Vec::new(),
            recorded: false,
            changed: false,
            post_hook_error: None,
        }
    }

    /// Switch routed services through `router`.
    pub(crate) fn router(mut self, router: Option<&'a dyn TrafficRouter>) -> Self {
        self.router = router;
        self
    }

    /// The stack being replaced (routes of services the new stack drops).
    pub(crate) fn previous(mut self, stack: Option<&'a StackSpec>) -> Self {
        self.previous = stack;
        self
    }

    /// Stop, undo and record the release as cancelled when `token` is cancelled.
    pub(crate) fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    /// The before-change hooks the plan's `Backup` steps run.
    pub(crate) fn before_change(mut self, hooks: &'a [Arc<dyn BeforeChange>]) -> Self {
        self.before_change = hooks;
        self
    }

    fn emit(&self, e: DeployEvent) {
        self.observer.event(&Event::Deploy(e));
    }

    fn state(&self, service: &str, container: &str, state: ReplicaState) {
        self.emit(DeployEvent::Replica { service: service.into(), container: container.into(), state });
    }

    /// Execute every step; on failure or cancellation undo and record the release.
    pub(crate) async fn run(mut self, plan: &Plan) -> Result<Release, DeployError> {
        let total = plan.steps.len();
        let cancel = self.cancel.clone();
        for (i, step) in plan.steps.iter().enumerate() {
            let description = step.describe();
            self.emit(DeployEvent::StepStarted { index: i + 1, total, description: description.clone() });
            let t0 = Instant::now();
            self.changed |= plan.changes().any(|c| std::ptr::eq(c, step));
            let outcome = tokio::select! {
                biased;
                _ = cancel.cancelled() => Err(Stop::Cancelled),
                r = self.step(step, plan) => r.map_err(Stop::Failed),
            };
            match outcome {
                Ok(()) => {}
                Err(Stop::Cancelled) if self.recorded => {
                    // The release stands; what is skipped is said on it.
                    self.emit(DeployEvent::Cancelled { step: description.clone() });
                    self.record.hook_failures.push(format!("cancelled before `{description}`"));
                    let _ = self.engine.write_record(&self.record).await;
                    return Ok(self.record);
                }
                Err(stop) => return Err(self.fail(step, stop).await),
            }
            let millis = t0.elapsed().as_millis() as u64;
            self.emit(DeployEvent::StepDone { index: i + 1, description, millis });
        }
        match self.post_hook_error.take() {
            Some(e) => Err(e),
            None => Ok(self.record),
        }
    }

    async fn step(&mut self, step: &Step, plan: &Plan) -> Result<(), StepError> {
        let e = self.engine;
        match step {
            // Taken and checked before the plan was made (`DockerHost`); shown for the order.
            Step::Lock { .. } | Step::Policy { .. } => {}
            Step::Backup { index, .. } => {
                if let Some(hook) = self.before_change.get(*index) {
                    hook.before_change(self.desired, plan).await?;
                }
            }
            Step::PreDeployHook { index, .. } => self.hook(HookPoint::PreDeploy, *index).await?,
            Step::PostDeployHook { index, hook, on_failure } => {
                if self.post_hook_error.is_some() {
                    return Ok(()); // the first failing post-deploy hook stops the ones after it
                }
                if let Err(err) = self.hook(HookPoint::PostDeploy, *index).await {
                    if *on_failure == OnFailure::Rollback {
                        return Err(err);
                    }
                    let line = format!("post-deploy hook {} ({hook}): {}", index + 1, err.reason);
                    self.emit(DeployEvent::PostDeployHookFailed {
                        index: index + 1,
                        command: hook.clone(),
                        reason: err.reason.clone(),
                    });
                    self.record.hook_failures.push(line);
                    e.write_record(&self.record).await?;
                    self.post_hook_error = Some(DeployError::PostDeployHookFailed {
                        release: self.record.id.to_string(),
                        index: index + 1,
                        command: hook.clone(),
                        reason: err.reason,
                        output: Vec::new(),
                    });
                }
            }
            Step::CreateNetwork { key, name } => {
                let spec = self.desired.stack.networks.get(key).cloned().unwrap_or_default();
                let mut labels: std::collections::HashMap<String, String> = spec.labels.clone().into_iter().collect();
                labels.insert(super::labels::COMPOSE_PROJECT.into(), self.desired.project().into());
                labels.insert(super::labels::COMPOSE_NETWORK.into(), key.clone());
                labels.insert(super::labels::PROJECT.into(), self.desired.project().into());
                e.create_network(name, &spec, labels).await?;
            }
            Step::CreateVolume { key, name } => {
                let spec = self.desired.stack.volumes.get(key).cloned().unwrap_or_default();
                let mut labels: std::collections::HashMap<String, String> = spec.labels.clone().into_iter().collect();
                labels.insert(super::labels::COMPOSE_PROJECT.into(), self.desired.project().into());
                labels.insert(super::labels::COMPOSE_VOLUME.into(), key.clone());
                e.create_volume(name, &spec, labels).await?;
            }
            Step::Pull { image } => e.pull(image).await?,
            Step::RemoveOrphan { id, .. } => e.remove(id).await?,
            Step::RunOneOff { service } => self.run_oneoff(service).await?,
            Step::StartReplica { service, replica } => {
                // `deploy.update_config.delay`: a pause between the replicas of one service.
                let rolled_before = self.started.keys().any(|(s, _)| s == service);
                if let Some(delay) = self.update_config(service).and_then(|u| u.delay).filter(|_| rolled_before) {
                    tokio::time::sleep(delay).await;
                }
                let id = self.create(service, *replica, false).await?;
                self.journal.push(Inverse::StopNew { service: service.clone(), container: id.clone() });
                self.started.insert((service.clone(), *replica), id.clone());
                e.start(&id).await.map_err(|err| StepError { reason: err.to_string(), container: Some(id.clone()) })?;
                self.state(service, &id, ReplicaState::Started);
            }
            Step::WaitHealthy { service, replica, gate } => {
                let id = self.started.get(&(service.clone(), *replica)).cloned().unwrap_or_default();
                let failed = |reason| StepError { reason, container: Some(id.clone()) };
                wait_healthy(e, &id, gate).await.map_err(failed)?;
                // `deploy.update_config.monitor`: the new container must also stay up (and not
                // turn unhealthy) this long before it takes traffic or replaces the old one.
                if let Some(period) = self.update_config(service).and_then(|u| u.monitor).filter(|p| !p.is_zero()) {
                    monitor(e, &id, period).await.map_err(failed)?;
                }
                self.state(service, &id, ReplicaState::Healthy);
            }
            Step::RouteSwitch { service, replica } => {
                let id = self.started.get(&(service.clone(), *replica)).cloned().unwrap_or_default();
                if let (Some(router), Some(route)) = (self.router, self.route_of(service)?) {
                    let backend = e.backend(&id, &route).await?;
                    self.journal.push(Inverse::Unroute {
                        route: route.clone(),
                        container: id.clone(),
                        backend: backend.clone(),
                    });
                    router.add_backend(&route, &backend, self.observer).await?;
                    self.state(service, &id, ReplicaState::Routed);
                }
            }
            Step::StopOld { service, id, .. } => {
                if let (Some(router), Some(route)) = (self.router, self.route_of(service)?) {
                    self.take_out(router, route, service, id).await?;
                }
                let confirm = self.restart_bound(service);
                self.journal.push(Inverse::RestartOld { service: service.clone(), container: id.clone(), confirm });
                e.stop(id).await?;
                self.state(service, id, ReplicaState::OldRetired);
            }
            Step::RecordRelease { .. } => {
                self.record.outcome = ReleaseOutcome::Succeeded;
                e.write_record(&self.record).await?;
                self.recorded = true;
            }
            Step::Prune { keep } => {
                // From here on the release stands: nothing is undone any more.
                self.journal.clear();
                if let Err(err) = e.prune(self.desired.project(), *keep).await {
                    self.emit(DeployEvent::Message { text: format!("prune failed; the release stands: {err}") });
                }
            }
            #[allow(unreachable_patterns)]
            other => return Err(StepError { reason: format!("unknown step {other:?}"), container: None }),
        }
        Ok(())
    }

    /// Take an old container out of the rotation (the inverse journalled first), then drain.
    async fn take_out(
        &mut self,
        router: &dyn TrafficRouter,
        route: RouteSpec,
        service: &str,
        id: &str,
    ) -> Result<(), StepError> {
        let backend = match self.engine.backend(id, &route).await {
            Ok(b) => b,
            // An old container that already died has no address and takes no traffic.
            Err(err) if !self.engine.state(id).await?.running => {
                self.emit(DeployEvent::Message {
                    text: format!("old {service} container {id:.12} not drained: {err}"),
                });
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        };
        self.journal.push(Inverse::Reroute {
            route: route.clone(),
            container: id.to_string(),
            backend: backend.clone(),
        });
        match router.remove_backend(&route, &backend, self.observer).await {
            Ok(()) => {}
            // Stop-first: the old one is the last backend; the route goes until the new one is in.
            Err(RouteError::LastBackend { .. }) => router.retire(&route, self.observer).await?,
            Err(err) => return Err(err.into()),
        }
        self.state(service, id, ReplicaState::OldOut);
        if !route.drain.is_zero() {
            crate::route::emit(
                self.observer,
                crate::route::RouteEvent::Draining {
                    service: service.into(),
                    drain_ms: route.drain.as_millis() as u64,
                },
            );
            tokio::time::sleep(route.drain).await;
        }
        Ok(())
    }

    /// The route of a service of the new stack, else of the stack it replaces.
    fn route_of(&self, service: &str) -> Result<Option<RouteSpec>, RouteError> {
        if self.router.is_none() {
            return Ok(None);
        }
        let project = self.desired.project();
        match self.desired.stack.services.get(service).or_else(|| self.previous?.services.get(service)) {
            Some(svc) => RouteSpec::from_service(project, svc),
            None => Ok(None),
        }
    }

    /// How long an old container restarted by the undo gets to run (and be healthy) again.
    fn restart_bound(&self, service: &str) -> Duration {
        let svc = self.desired.stack.services.get(service).or_else(|| self.previous?.services.get(service));
        match svc.map(|s| health_gate(s, Duration::from_secs(1))) {
            Some(HealthGate::Healthcheck { timeout_ms }) => Duration::from_millis(timeout_ms),
            Some(gate) => gate_bound(&gate).min(Duration::from_secs(30)),
            None => Duration::from_secs(30),
        }
    }

    async fn hook(&self, point: HookPoint, index: usize) -> Result<(), StepError> {
        let specs = hook_specs(self.desired, point)?;
        let Some(spec) = specs.get(index) else { return Ok(()) };
        run_hook(self.engine, self.desired, point, index, &spec.hook, &self.hook_env, self.observer).await?;
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
        Ok(self.engine.create(&plan).await?)
    }

    fn update_config(&self, service: &str) -> Option<&crate::stack::UpdateConfig> {
        self.desired.stack.services.get(service).and_then(|s| s.deploy.update_config.as_ref())
    }

    async fn run_oneoff(&mut self, service: &str) -> Result<(), StepError> {
        let id = self.create(service, 1, true).await?;
        let failed = |reason: String| StepError { reason, container: Some(id.clone()) };
        self.engine.start(&id).await.map_err(|e| failed(e.to_string()))?;
        let svc = &self.desired.stack.services[service];
        let limit = super::rules::slipway_settings(svc)
            .get("timeout")
            .and_then(|v| v.as_str().and_then(|s| humantime::parse_duration(s).ok()))
            .unwrap_or(Duration::from_secs(600));
        let code = wait_exit(self.engine, &id, &format!("one-off {service} to exit"), limit).await.map_err(failed)?;
        let logs = self.engine.log_tail(&id, 20).await;
        self.emit(DeployEvent::OneOffDone { service: service.into(), exit_code: code, logs });
        if code != 0 {
            return Err(failed(format!("exited with code {code}")));
        }
        Ok(())
    }

    /// The failure edge: undo the journal backwards, record the outcome, build the error.
    async fn fail(mut self, step: &Step, stop: Stop) -> DeployError {
        let description = step.describe();
        let (reason, container) = match &stop {
            Stop::Failed(e) => (e.reason.clone(), e.container.clone()),
            Stop::Cancelled => ("cancelled".to_string(), None),
        };
        match &stop {
            Stop::Failed(_) => {
                self.emit(DeployEvent::StepFailed { description: description.clone(), reason: reason.clone() })
            }
            Stop::Cancelled => self.emit(DeployEvent::Cancelled { step: description.clone() }),
        }
        let logs = match &container {
            Some(id) => self.engine.log_tail(id, 20).await,
            None => Vec::new(),
        };
        let journal = std::mem::take(&mut self.journal);
        let report = undo(self.engine, self.router, journal, self.observer).await;
        // The failing container (a one-off, or a new replica) stays stopped for inspection.
        if let Some(id) = &container {
            let _ = self.engine.stop(id).await;
        }
        let service = step.service().unwrap_or_default().to_string();
        self.record.outcome = match stop {
            Stop::Failed(_) => {
                ReleaseOutcome::Failed { service: service.clone(), step: description.clone(), reason: reason.clone() }
            }
            Stop::Cancelled => ReleaseOutcome::Cancelled { step: description.clone() },
        };
        // A failure before the first change (a backup, a pre-deploy hook) leaves no record: nothing
        // happened on the host. A cancellation is always recorded.
        let record = self.changed || matches!(self.record.outcome, ReleaseOutcome::Cancelled { .. });
        if let Err(err) = if record { self.engine.write_record(&self.record).await } else { Ok(()) } {
            self.emit(DeployEvent::Message { text: format!("could not record the release's outcome: {err}") });
        }
        let release = self.record.id.to_string();
        match stop {
            Stop::Cancelled => DeployError::Cancelled { release, step: description, undo: Box::new(report) },
            Stop::Failed(_) => DeployError::StepFailed {
                release,
                service,
                step: description,
                reason,
                logs: logs.into(),
                undo: Box::new(report),
            },
        }
    }
}
