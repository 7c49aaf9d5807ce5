//! The executor of a `Plan`, through the engine seam (`seam.rs`) and the traffic router. Steps run
//! in the plan's order (lock -> policy -> backup -> pre-deploy hooks -> pulls -> one-offs and
//! per-replica rollouts -> record -> post-deploy hooks -> prune). Each replica moves through the
//! rollout state machine of `rollout.rs`; every transition that changes what serves journals
//! its [`Inverse`] *before* it acts (an inverse of a change that did not happen is harmless), so
//! a failure or a cancellation at any point undoes exactly what was done. The failure edge is
//! the same from every state: run the inverses in reverse and confirm them (`undo.rs`), record
//! the release as failed or cancelled, and return an error naming the service, the step, the
//! failing container's last log lines and the [`super::UndoReport`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::error::DeployError;
use super::event::DeployEvent;
use super::failure::StepFailure;
use super::hooks::{hook_specs, run_hook, BeforeChange, HookEnv, HookPoint, OnFailure};
use super::lanes::is_rollout;
use super::plan::{Plan, Step};
use super::release::{Release, ReleaseOutcome};
use super::rollout::{Inverse, ReplicaState};
use super::seam::Engine;
use super::state::DesiredRelease;
use super::undo::undo;
use crate::events::{Event, Observer};
use crate::route::{RouteError, TrafficRouter};
use crate::stack::StackSpec;

/// Resolves when a run must stop: cancelled by the caller, or the lease lost.
async fn interrupted(cancel: &CancellationToken, lease_lost: &CancellationToken) -> Stop {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Stop::Cancelled,
        _ = lease_lost.cancelled() => Stop::LeaseLost,
    }
}

/// Why a deploy stopped when its lease was lost (recorded on the release).
const LEASE_LOST: &str = "the deploy lock's lease could not be renewed";

/// A failure inside a step: why, and the container whose logs explain it.
pub(crate) struct StepError {
    pub(crate) cause: StepFailure,
    pub(crate) container: Option<String>,
}

impl From<DeployError> for StepError {
    fn from(e: DeployError) -> Self {
        StepError { cause: e.into(), container: None }
    }
}

impl From<RouteError> for StepError {
    fn from(e: RouteError) -> Self {
        StepError { cause: e.into(), container: None }
    }
}

/// Why the run stopped early.
pub(crate) enum Stop {
    Failed(StepError),
    Cancelled,
    /// The deploy lock's lease could not be renewed: stop changing the host, undo.
    LeaseLost,
}

/// Runs one plan.
pub(crate) struct Executor<'a> {
    pub(super) engine: &'a dyn Engine,
    pub(super) router: Option<&'a dyn TrafficRouter>,
    pub(super) desired: &'a DesiredRelease,
    pub(super) previous: Option<&'a StackSpec>,
    pub(super) record: Release,
    pub(super) observer: &'a dyn Observer,
    pub(super) cancel: CancellationToken,
    pub(super) lease_lost: CancellationToken,
    pub(super) before_change: &'a [Arc<dyn BeforeChange>],
    pub(super) hook_env: HookEnv,
    pub(super) journal: Vec<Inverse>,
    pub(super) recorded: bool,
    pub(super) changed: bool,
    pub(super) post_hook_error: Option<DeployError>,
    /// Replicas that failed under `failure_action: pause | continue`, each already undone.
    pub(super) partial: std::sync::Mutex<Partial>,
}

/// What `failure_action: pause | continue` kept of a deploy: the replicas that failed (each
/// undone on its own), their undo actions, and whether the rollout was paused.
#[derive(Debug, Default)]
pub(crate) struct Partial {
    pub(crate) action: Option<super::rules::FailureAction>,
    pub(crate) failures: Vec<super::release::ReplicaFailure>,
    pub(crate) undo: super::undo::UndoReport,
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
            lease_lost: CancellationToken::new(),
            before_change: &[],
            hook_env,
            journal: Vec::new(),
            recorded: false,
            changed: false,
            post_hook_error: None,
            partial: std::sync::Mutex::new(Partial::default()),
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

    /// Stop and undo (`DeployError::LeaseLost`) when `token` says the deploy lock's lease is lost.
    pub(crate) fn lease_lost(mut self, token: CancellationToken) -> Self {
        self.lease_lost = token;
        self
    }

    /// Resolves when the run must stop: cancelled by the caller, or the lease lost.
    pub(super) async fn interrupted(&self) -> Stop {
        interrupted(&self.cancel, &self.lease_lost).await
    }

    /// The before-change hooks the plan's `Backup` steps run.
    pub(crate) fn before_change(mut self, hooks: &'a [Arc<dyn BeforeChange>]) -> Self {
        self.before_change = hooks;
        self
    }

    pub(super) fn emit(&self, e: DeployEvent) {
        self.observer.event(&Event::Deploy(e));
    }

    pub(super) fn state(&self, service: &str, container: &str, state: ReplicaState) {
        self.emit(DeployEvent::Replica { service: service.into(), container: container.into(), state });
    }

    /// Execute every step; on failure or cancellation undo and record the release.
    pub(crate) async fn run(mut self, plan: &Plan) -> Result<Release, DeployError> {
        let total = plan.steps.len();
        let (cancel, lost) = (self.cancel.clone(), self.lease_lost.clone());
        let mut i = 0;
        while i < total {
            let step = &plan.steps[i];
            if is_rollout(step) {
                // One-offs and replica rollouts: independent services at once (`replica.rs`).
                let end = (i..total).find(|j| !is_rollout(&plan.steps[*j])).unwrap_or(total);
                self.changed = true;
                let (journal, failure) = self.roll(plan, i, end).await;
                self.journal.extend(journal);
                if let Some((k, stop)) = failure {
                    return Err(self.fail(&plan.steps[k], stop).await);
                }
                i = end;
                continue;
            }
            let description = step.describe();
            self.emit(DeployEvent::StepStarted { index: i + 1, total, description: description.clone() });
            let t0 = Instant::now();
            self.changed |= plan.changes().any(|c| std::ptr::eq(c, step));
            let outcome = tokio::select! {
                biased;
                stop = interrupted(&cancel, &lost) => Err(stop),
                r = self.step(step, plan) => r.map_err(Stop::Failed),
            };
            match outcome {
                Ok(()) => {}
                Err(stop @ (Stop::Cancelled | Stop::LeaseLost)) if self.recorded => {
                    // The release stands; what is skipped is said on it.
                    self.emit(DeployEvent::Cancelled { step: description.clone() });
                    let why = if matches!(stop, Stop::LeaseLost) { "the lock's lease was lost" } else { "cancelled" };
                    self.record.hook_failures.push(format!("{why} before `{description}`"));
                    let _ = self.engine.write_record(&self.record).await;
                    return self.finish();
                }
                Err(stop) => return Err(self.fail(step, stop).await),
            }
            let millis = t0.elapsed().as_millis() as u64;
            self.emit(DeployEvent::StepDone { index: i + 1, description, millis });
            i += 1;
        }
        match self.post_hook_error.take() {
            Some(e) => Err(e),
            None => self.finish(),
        }
    }

    /// True when `failure_action: pause | continue` kept a failed replica out of this release.
    pub(super) fn is_partial(&self) -> bool {
        self.partial.lock().is_ok_and(|p| !p.failures.is_empty())
    }

    /// The release, or `PartlyDeployed` when replicas failed under `pause` / `continue`.
    fn finish(self) -> Result<Release, DeployError> {
        let partial = match self.partial.into_inner() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        match partial.action {
            Some(action) if !partial.failures.is_empty() => Err(DeployError::PartlyDeployed {
                release: self.record.id.to_string(),
                action: action.as_str().to_string(),
                failures: partial.failures,
                undo: Box::new(partial.undo),
            }),
            _ => Ok(self.record),
        }
    }

    async fn step(&mut self, step: &Step, plan: &Plan) -> Result<(), StepError> {
        let e = self.engine;
        match step {
            // Taken and checked before the plan was made (`DockerHost`); shown for the order.
            Step::Lock { .. } | Step::Policy { .. } => {}
            Step::Backup { index, .. } => {
                if let Some(hook) = self.before_change.get(*index) {
                    hook.before_change(self.desired, plan, self.observer).await?;
                }
            }
            Step::PreDeployHook { index, .. } => self.hook(HookPoint::PreDeploy, *index).await?,
            Step::PostDeployHook { index, hook, on_failure } => {
                if self.post_hook_error.is_some() || self.is_partial() {
                    // The first failing post-deploy hook stops the ones after it; a partly
                    // deployed release is not a finished deploy, so its post-deploy hooks wait.
                    return Ok(());
                }
                if let Err(err) = self.hook(HookPoint::PostDeploy, *index).await {
                    if *on_failure == OnFailure::Rollback {
                        return Err(err);
                    }
                    let line = format!("post-deploy hook {} ({hook}): {}", index + 1, err.cause);
                    self.emit(DeployEvent::PostDeployHookFailed {
                        index: index + 1,
                        command: hook.clone(),
                        reason: err.cause.to_string(),
                    });
                    self.record.hook_failures.push(line);
                    e.write_record(&self.record).await?;
                    self.post_hook_error = Some(DeployError::PostDeployHookFailed {
                        release: self.record.id.to_string(),
                        index: index + 1,
                        command: hook.clone(),
                        cause: Box::new(err.cause),
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
            Step::RecordRelease { .. } => {
                self.record.outcome = match self.partial.lock() {
                    Ok(p) if !p.failures.is_empty() => ReleaseOutcome::PartlyDeployed {
                        action: p.action.map(|a| a.as_str()).unwrap_or_default().to_string(),
                        failures: p.failures.clone(),
                    },
                    _ => ReleaseOutcome::Succeeded,
                };
                if self.is_partial() {
                    self.record.hook_failures.push("post-deploy hooks not run: the release is partly deployed".into());
                }
                e.write_record(&self.record).await?;
                self.recorded = true;
            }
            Step::Prune { keep } => {
                // From here on the release stands: nothing is undone any more.
                self.journal.clear();
                if self.is_partial() {
                    // The previous release's containers still serve some replicas: keep them all.
                    return Ok(());
                }
                if let Err(err) = e.prune(self.desired.project(), *keep).await {
                    self.emit(DeployEvent::Message { text: format!("prune failed; the release stands: {err}") });
                }
            }
            // Rollout steps run in lanes (`replica.rs`).
            other => {
                let cause = StepFailure::Misplaced { runner: "plan-level", step: other.describe() };
                return Err(StepError { cause, container: None });
            }
        }
        Ok(())
    }

    async fn hook(&self, point: HookPoint, index: usize) -> Result<(), StepError> {
        let specs = hook_specs(self.desired, point)?;
        let Some(spec) = specs.get(index) else { return Ok(()) };
        run_hook(self.engine, self.desired, point, index, &spec.hook, &self.hook_env, self.observer).await?;
        Ok(())
    }

    /// A cancellation dropped a container hook mid-run: remove its container (a failed hook's
    /// container is kept for inspection; a cancelled one is not a failure to inspect).
    async fn remove_dropped_hook(&self, step: &Step) {
        let (point, index) = match step {
            Step::PreDeployHook { index, .. } => (HookPoint::PreDeploy, *index),
            Step::PostDeployHook { index, .. } => (HookPoint::PostDeploy, *index),
            _ => return,
        };
        let container_hook = hook_specs(self.desired, point)
            .ok()
            .and_then(|specs| specs.get(index).map(|s| matches!(s.hook, super::hooks::Hook::Container { .. })));
        if container_hook != Some(true) {
            return;
        }
        let release = self.desired.id.to_string();
        let name = super::hooks::container::hook_container_name(self.desired.project(), point, index, &release);
        match self.remove_until_gone(&name).await {
            Ok(()) => {
                self.emit(DeployEvent::Message { text: format!("removed the cancelled hook's container {name}") })
            }
            Err(e) => self.emit(DeployEvent::Message {
                text: format!(
                    "could not remove the cancelled hook's container {name}: {e}; finish with: docker rm -f {name}"
                ),
            }),
        }
    }

    /// Remove `name`, then watch (bounded, 1 s) that it stays gone: a create request that the
    /// cancellation dropped in flight may still complete on the engine after the first removal
    /// (seen under load), and a second removal takes that container too.
    async fn remove_until_gone(&self, name: &str) -> Result<(), DeployError> {
        self.engine.remove(name).await?;
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if self.engine.state(name).await.is_ok() {
                self.engine.remove(name).await?;
            }
        }
        Ok(())
    }

    /// The failure edge: undo the journal backwards, record the outcome, build the error.
    async fn fail(mut self, step: &Step, stop: Stop) -> DeployError {
        let description = step.describe();
        let (reason, container) = match &stop {
            Stop::Failed(e) => (e.cause.to_string(), e.container.clone()),
            Stop::Cancelled => ("cancelled".to_string(), None),
            Stop::LeaseLost => (LEASE_LOST.to_string(), None),
        };
        match &stop {
            Stop::Failed(_) | Stop::LeaseLost => {
                self.emit(DeployEvent::StepFailed { description: description.clone(), reason: reason.clone() })
            }
            Stop::Cancelled => self.emit(DeployEvent::Cancelled { step: description.clone() }),
        }
        let logs = match &container {
            Some(id) => self.engine.log_tail(id, 20).await,
            None => Vec::new(),
        };
        if !matches!(stop, Stop::Failed(_)) {
            self.remove_dropped_hook(step).await;
        }
        let journal = std::mem::take(&mut self.journal);
        let report = undo(self.engine, self.router, journal, self.observer).await;
        // The failing container (a one-off, or a new replica) stays stopped for inspection.
        if let Some(id) = &container {
            let _ = self.engine.stop(id).await;
        }
        let service = step.service().unwrap_or_default().to_string();
        self.record.outcome = match stop {
            Stop::Failed(_) | Stop::LeaseLost => {
                ReleaseOutcome::Failed { service: service.clone(), step: description.clone(), reason: reason.clone() }
            }
            Stop::Cancelled => ReleaseOutcome::Cancelled { service: service.clone(), step: description.clone() },
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
            Stop::LeaseLost => {
                DeployError::LeaseLost { release, step: description, undo: Box::new(report), transport: None }
            }
            Stop::Failed(e) => DeployError::StepFailed {
                release,
                service,
                step: description,
                cause: Box::new(e.cause),
                logs: logs.into(),
                undo: Box::new(report),
                transport: None,
            },
        }
    }
}
