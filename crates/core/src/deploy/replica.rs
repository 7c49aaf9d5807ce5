//! Running the rollout steps of a plan: units (one replica's steps, a one-off, a lone stop; see
//! `lanes.rs`) of one service in batches of its `update_config.parallelism`, independent
//! services at the same time. Each unit walks the replica state machine of `rollout.rs` in its
//! own [`Lane`], journalling the inverse of every transition before it acts; the lanes' journals
//! are merged for the executor's undo.

use std::time::Duration;

use futures::StreamExt;

use super::container_spec::container_plan;
use super::event::DeployEvent;
use super::executor::{Executor, StepError, Stop};
use super::failure::StepFailure;
use super::gate::{gate_bound, monitor, wait_exit, wait_healthy};
use super::labels::ContainerIdentity;
use super::lanes::{units, waves, Unit, MAX_SERVICES};
use super::plan::{Plan, Step};
use super::release::ReplicaFailure;
use super::rollout::{Inverse, ReplicaState};
use super::rules::{failure_action, health_gate, FailureAction, HealthGate};
use super::undo::undo;
use crate::route::{RouteError, RouteSpec, TrafficRouter};

/// One unit's progress: the inverses of what it did, and its new container.
#[derive(Debug, Default)]
pub(crate) struct Lane {
    pub journal: Vec<Inverse>,
    pub new: Option<String>,
}

/// What a group of units did: their inverses, and the first failure (plan index, why).
pub(crate) type Rolled = (Vec<Inverse>, Option<(usize, Stop)>);

fn first(a: Option<(usize, Stop)>, b: Option<(usize, Stop)>) -> Option<(usize, Stop)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.0 < x.0 { y } else { x }),
        (x, y) => x.or(y),
    }
}

/// Append the groups' inverses to `journal` (in order); the first failure among them.
fn merge(journal: &mut Vec<Inverse>, results: Vec<Rolled>) -> Option<(usize, Stop)> {
    let mut failure = None;
    for (j, f) in results {
        journal.extend(j);
        failure = first(failure, f);
    }
    failure
}

impl<'a> Executor<'a> {
    /// Run the rollout steps `plan.steps[from..to]`: services in waves, units in batches.
    pub(crate) async fn roll(&self, plan: &Plan, from: usize, to: usize) -> Rolled {
        let units = units(&self.desired.stack, &plan.steps, from, to);
        let mut journal = Vec::new();
        for wave in waves(&self.desired.stack, &units) {
            let mut lanes = Vec::new();
            for service in &wave {
                let mine: Vec<&Unit> = units.iter().filter(|u| u.service == *service).collect();
                lanes.push(self.roll_service(service, mine, plan));
            }
            let results: Vec<Rolled> = futures::stream::iter(lanes).buffered(MAX_SERVICES).collect().await;
            if let Some(failure) = merge(&mut journal, results) {
                return (journal, Some(failure));
            }
            if self.paused() {
                break; // `failure_action: pause`: what is done stays, nothing more rolls
            }
        }
        (journal, None)
    }

    fn paused(&self) -> bool {
        self.partial.lock().is_ok_and(|p| p.action == Some(FailureAction::Pause))
    }

    /// `failure_action: pause | continue`: undo one failed unit on its own and note it; the
    /// other units keep what they did.
    async fn keep_going(&self, action: FailureAction, plan: &Plan, k: usize, err: StepError, journal: Vec<Inverse>) {
        let step = &plan.steps[k];
        let description = step.describe();
        let reason = err.cause.to_string();
        self.emit(DeployEvent::StepFailed { description: description.clone(), reason: reason.clone() });
        let report = undo(self.engine, self.router, journal, self.observer).await;
        if let Some(id) = &err.container {
            let _ = self.engine.stop(id).await; // kept, stopped, for inspection
        }
        let service = step.service().unwrap_or_default().to_string();
        self.emit(DeployEvent::Message {
            text: format!(
                "failure_action {}: {service} keeps its previous container for `{description}`; {}",
                action.as_str(),
                if action == FailureAction::Pause { "the rollout pauses" } else { "the rollout goes on" }
            ),
        });
        if let Ok(mut p) = self.partial.lock() {
            // A pause anywhere pauses the whole rollout.
            if p.action != Some(FailureAction::Pause) {
                p.action = Some(action);
            }
            p.failures.push(ReplicaFailure { service, step: description, reason, restored: report.restored() });
            p.undo.actions.extend(report.actions);
        }
    }

    async fn roll_service(&self, service: &str, units: Vec<&Unit>, plan: &Plan) -> Rolled {
        let update = self.update_config(service);
        let batch = match update.and_then(|u| u.parallelism) {
            Some(0) => units.len().max(1),
            Some(n) => n as usize,
            None => 1,
        };
        let action = self.desired.stack.services.get(service).map_or(FailureAction::Rollback, failure_action);
        let mut journal = Vec::new();
        for (b, group) in units.chunks(batch).enumerate() {
            if self.paused() {
                break;
            }
            // `deploy.update_config.delay`: a pause between the batches of one service.
            if let Some(delay) = update.and_then(|u| u.delay).filter(|_| b > 0) {
                tokio::time::sleep(delay).await;
            }
            let mut runs = Vec::new();
            for unit in group {
                runs.push(self.roll_unit(unit, plan));
            }
            let mut results = futures::future::join_all(runs).await;
            if action != FailureAction::Rollback {
                let mut kept = Vec::new();
                for (lane, failure) in results {
                    match failure {
                        Some((k, Stop::Failed(err))) => self.keep_going(action, plan, k, err, lane).await,
                        other => kept.push((lane, other)),
                    }
                }
                results = kept;
            }
            if let Some(failure) = merge(&mut journal, results) {
                return (journal, Some(failure));
            }
        }
        (journal, None)
    }

    async fn roll_unit(&self, unit: &Unit, plan: &Plan) -> Rolled {
        let mut lane = Lane::default();
        let total = plan.steps.len();
        for &k in &unit.steps {
            let step = &plan.steps[k];
            let description = step.describe();
            self.emit(DeployEvent::StepStarted { index: k + 1, total, description: description.clone() });
            let t0 = std::time::Instant::now();
            let outcome = tokio::select! {
                biased;
                stop = self.interrupted() => Err(stop),
                r = self.rollout_step(&mut lane, step) => r.map_err(Stop::Failed),
            };
            if let Err(stop) = outcome {
                return (lane.journal, Some((k, stop)));
            }
            let millis = t0.elapsed().as_millis() as u64;
            self.emit(DeployEvent::StepDone { index: k + 1, description, millis });
        }
        (lane.journal, None)
    }

    async fn rollout_step(&self, lane: &mut Lane, step: &Step) -> Result<(), StepError> {
        let e = self.engine;
        match step {
            Step::RunOneOff { service } => self.run_oneoff(service).await?,
            Step::StartReplica { service, replica } => {
                let id = self.create(service, *replica, false).await?;
                lane.journal.push(Inverse::StopNew { service: service.clone(), container: id.clone() });
                lane.new = Some(id.clone());
                e.start(&id).await.map_err(|err| StepError { cause: err.into(), container: Some(id.clone()) })?;
                self.state(service, &id, ReplicaState::Started);
            }
            Step::WaitHealthy { service, gate, .. } => {
                let id = lane.new.clone().unwrap_or_default();
                let failed = |why| StepError { cause: StepFailure::Gate(why), container: Some(id.clone()) };
                wait_healthy(e, &id, gate).await.map_err(failed)?;
                // `deploy.update_config.monitor`: the new container must also stay up (and not
                // turn unhealthy) this long before it takes traffic or replaces the old one.
                if let Some(period) = self.update_config(service).and_then(|u| u.monitor).filter(|p| !p.is_zero()) {
                    monitor(e, &id, period).await.map_err(failed)?;
                }
                self.state(service, &id, ReplicaState::Healthy);
            }
            Step::RouteSwitch { service, .. } => {
                let id = lane.new.clone().unwrap_or_default();
                if let (Some(router), Some(route)) = (self.router, self.route_of(service)?) {
                    let backend = e.backend(&id, &route).await?;
                    lane.journal.push(Inverse::Unroute {
                        route: route.clone(),
                        container: id.clone(),
                        backend: backend.clone(),
                    });
                    router.add_backend(&route, &backend, self.observer).await?;
                    self.state(service, &id, ReplicaState::Routed);
                }
            }
            Step::StopOld { service, id, .. } => {
                let mut check_ports = true;
                if let (Some(router), Some(route)) = (self.router, self.route_of(service)?) {
                    check_ports = false; // its `Reroute` confirms it through the proxy
                    self.take_out(lane, router, route, service, id).await?;
                }
                let confirm = self.restart_bound(service);
                let container = id.clone();
                lane.journal.push(Inverse::RestartOld { service: service.clone(), container, confirm, check_ports });
                e.stop(id).await?;
                self.state(service, id, ReplicaState::OldRetired);
            }
            other => {
                let cause = StepFailure::Misplaced { runner: "rollout", step: other.describe() };
                return Err(StepError { cause, container: None });
            }
        }
        Ok(())
    }

    /// Take an old container out of the rotation (the inverse journalled first), then drain.
    async fn take_out(
        &self,
        lane: &mut Lane,
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
        lane.journal.push(Inverse::Reroute {
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

    async fn run_oneoff(&self, service: &str) -> Result<(), StepError> {
        let id = self.create(service, 1, true).await?;
        let gate = |why| StepError { cause: StepFailure::Gate(why), container: Some(id.clone()) };
        self.engine.start(&id).await.map_err(|e| StepError { cause: e.into(), container: Some(id.clone()) })?;
        let svc = &self.desired.stack.services[service];
        let limit = super::rules::slipway_settings(svc)
            .get("timeout")
            .and_then(|v| v.as_str().and_then(|s| crate::duration::parse(s).ok()))
            .unwrap_or(Duration::from_secs(600));
        let code = wait_exit(self.engine, &id, &format!("one-off {service} to exit"), limit).await.map_err(gate)?;
        let logs = self.engine.log_tail(&id, 20).await;
        self.emit(DeployEvent::OneOffDone { service: service.into(), exit_code: code, logs });
        if code != 0 {
            return Err(StepError { cause: StepFailure::Exited { code }, container: Some(id.clone()) });
        }
        Ok(())
    }
}
