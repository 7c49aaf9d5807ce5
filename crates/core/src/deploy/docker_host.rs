//! `DockerHost`: the `Deployer` for one Docker engine, driven through bollard. The order of a
//! deploy: policy -> lock -> digests -> read state -> plan -> execute the plan (backups, hooks,
//! pulls, one-offs, rollouts, record, post-deploy hooks, prune; undo on failure or
//! cancellation) -> unlock. Nothing changes before the plan executes.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use bollard::Docker;
use tokio_util::sync::CancellationToken;

use super::engine;
use super::error::DeployError;
use super::event::DeployEvent;
use super::executor::Executor;
use super::hooks::BeforeChange;
use super::lock::DeployLock;
use super::options::{ContainerStatus, DeployOptions, DeployOutcome, Status};
use super::plan::{plan_with, Plan, PlanOptions};
use super::prune::{prune, PruneReport};
use super::record::VolumeRecords;
use super::release::{Release, ReleaseId};
use super::resolve::{check_policy, resolve_images};
use super::seam::BollardEngine;
use super::state::{ActualState, DesiredRelease};
use super::Deployer;
use crate::events::{Event, Observer};
use crate::route::traefik::{ProxyContainer, TraefikRouter};
use crate::route::TrafficRouter;
use crate::stack::StackSpec;

/// One Docker engine as a deploy target.
#[derive(Debug, Clone)]
pub struct DockerHost {
    docker: Docker,
    /// remote room: the connection, for probes run from the engine's side.
    connection: Option<crate::engine::Connection>,
}

impl DockerHost {
    /// A target on an already connected engine.
    pub fn new(docker: Docker) -> Self {
        Self { docker, connection: None }
    }

    /// The engine `connection` names (see [`crate::engine::Connection`]), API version negotiated.
    pub async fn connect(connection: &crate::engine::Connection) -> Result<Self, DeployError> {
        Ok(Self { docker: crate::engine::connect(connection).await?, connection: Some(connection.clone()) })
    }

    /// remote room: a failed step whose engine connection failed meanwhile says so (typed).
    fn with_transport_failure(&self, e: DeployError, since: std::time::Instant) -> DeployError {
        match (e, &self.connection) {
            (DeployError::StepFailed { release, service, step, cause, logs, undo, transport: None }, Some(c)) => {
                let transport = c.transport_failure_since(since).map(Box::new);
                DeployError::StepFailed { release, service, step, cause, logs, undo, transport }
            }
            (DeployError::LeaseLost { release, step, undo, transport: None }, Some(c)) => {
                let transport = c.transport_failure_since(since).map(Box::new);
                DeployError::LeaseLost { release, step, undo, transport }
            }
            (e, _) => e,
        }
    }

    /// The engine.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Prune containers and images beyond `keep` releases.
    pub async fn prune(&self, project: &str, keep: usize) -> Result<PruneReport, DeployError> {
        prune(&self.docker, project, keep).await
    }

    async fn desired_and_state(
        &self,
        stack: &StackSpec,
        opts: &DeployOptions,
        observer: &dyn Observer,
    ) -> Result<(DesiredRelease, ActualState), DeployError> {
        check_policy(stack, &opts.env, opts.policy.as_ref())?;
        // compose room: secrets/configs copied in need their content (and a writable container).
        super::container_spec::check_file_copies(stack)?;
        // `--pull` applies one policy to every service, over the stack's own.
        let resolved_stack = match opts.pull {
            None => std::borrow::Cow::Borrowed(stack),
            Some(policy) => {
                let mut overridden = stack.clone();
                overridden.services.values_mut().for_each(|s| s.pull_policy = Some(policy));
                std::borrow::Cow::Owned(overridden)
            }
        };
        let pinned = resolve_images(&self.docker, &resolved_stack, opts.resolver.as_deref(), observer).await?;
        let images: BTreeSet<String> = pinned.values().cloned().collect();
        let actual = engine::read_state(&self.docker, &stack.name, &images).await?;
        let mut desired = DesiredRelease::new(actual.next_release_id(), stack, &pinned);
        desired.version = opts.version.clone().or_else(|| version_of(stack));
        Ok((desired, actual))
    }

    /// Execute `desired` under the lock already held: plan, then the executor (hooks, backups
    /// and rollouts are steps of the plan).
    async fn execute(
        &self,
        desired: DesiredRelease,
        actual: &ActualState,
        opts: &DeployOptions,
        observer: &dyn Observer,
        lease_lost: CancellationToken,
    ) -> Result<DeployOutcome, DeployError> {
        // Policy in core: the environment's backup is a step of the plan, before any change.
        let before_change = super::requirements::before_change_hooks(&self.docker, opts)?;
        let plan = plan_with(&desired, actual, plan_options(opts, &before_change))?;
        observer
            .event(&Event::Deploy(DeployEvent::Planned { release: desired.id.to_string(), steps: plan.steps.len() }));
        if plan.is_empty() {
            return Ok(DeployOutcome { plan, release: None });
        }
        let parent = actual.current().map(|r| r.id);
        // remote room: a bind source missing on the target host fails before anything changes.
        super::preflight::check_bind_sources(&self.docker, &desired.stack).await?;
        let record = desired.starting_record(parent);
        // A stack with `x-slipway.traefik` switches its routed services through that Traefik;
        // else the caller's router; else the managed proxy when it runs on this engine.
        let router: Option<Arc<dyn TrafficRouter>> = match TraefikRouter::from_stack(&desired.stack)? {
            Some(t) => Some(Arc::new(t)),
            None => match opts.router.clone() {
                Some(r) => Some(r),
                None => self.managed_router(&desired.stack, opts).await,
            },
        };
        let engine = BollardEngine::new(self.docker.clone()).via(self.connection.clone());
        let started = std::time::Instant::now();
        let release = Executor::new(&engine, &desired, record, observer, &opts.env)
            .router(router.as_deref())
            .previous(actual.current().map(|r| &r.stack))
            .cancel(opts.cancel.clone())
            .lease_lost(lease_lost)
            .before_change(&before_change)
            .run(&plan)
            .await
            .map_err(|e| self.with_transport_failure(e, started))?;
        Ok(DeployOutcome { plan, release: Some(release) })
    }

    /// proxy room: the managed proxy as router, when the stack has routed services and the
    /// proxy (`x-slipway.proxy`, else [`DeployOptions::proxy`]) runs on this engine.
    async fn managed_router(&self, stack: &StackSpec, opts: &DeployOptions) -> Option<Arc<dyn TrafficRouter>> {
        if !stack.services.values().any(super::rules::is_routed) {
            return None;
        }
        let name = stack.slipway.get("proxy").and_then(|v| v.as_str()).unwrap_or(&opts.proxy);
        let proxy = ProxyContainer::new(self.docker.clone(), name);
        if !proxy.is_running().await {
            tracing::debug!(proxy = name, "routed services but no managed proxy runs: no traffic switch");
            return None;
        }
        Some(Arc::new(TraefikRouter::through(Arc::new(proxy))))
    }

    /// Run `body` under the project's lock; `body` gets the token that says the lock's lease was
    /// lost (the executor stops and undoes).
    async fn locked<T, F>(
        &self,
        project: &str,
        opts: &DeployOptions,
        observer: &dyn Observer,
        body: impl FnOnce(CancellationToken) -> F,
    ) -> Result<T, DeployError>
    where
        F: std::future::Future<Output = Result<T, DeployError>>,
    {
        let lock = DeployLock::acquire_cancellable(
            &self.docker,
            project,
            opts.lock_wait,
            opts.lease,
            opts.cancel_token(),
            observer,
        )
        .await?;
        let result = body(lock.lost()).await;
        let released = lock.release().await;
        let value = result?;
        released?;
        Ok(value)
    }
}

fn plan_options(opts: &DeployOptions, before_change: &[Arc<dyn BeforeChange>]) -> PlanOptions {
    PlanOptions::default()
        .retain(opts.retain)
        .min_running(opts.min_running)
        .env(opts.env.clone())
        .hooks(opts.hooks)
        .backups(before_change.iter().map(|h| h.describe()).collect())
}

/// The first service image's tag (by service name), for people.
fn version_of(stack: &StackSpec) -> Option<String> {
    stack
        .services
        .values()
        .filter_map(|s| s.image.as_deref())
        .find_map(|i| crate::ImageRef::parse(i).ok().and_then(|r| r.tag().map(str::to_string)))
}

#[async_trait]
impl Deployer for DockerHost {
    async fn plan(&self, stack: &StackSpec, opts: &DeployOptions) -> crate::Result<Plan> {
        let (desired, actual) = self.desired_and_state(stack, opts, &crate::NoopObserver).await?;
        let before_change = super::requirements::before_change_hooks(&self.docker, opts)?;
        Ok(plan_with(&desired, &actual, plan_options(opts, &before_change))?)
    }

    async fn apply(
        &self,
        stack: &StackSpec,
        opts: &DeployOptions,
        observer: &dyn Observer,
    ) -> crate::Result<DeployOutcome> {
        // Policy and digests first: a refusal changes nothing (not even the lock).
        check_policy(stack, &opts.env, opts.policy.as_ref())?;
        super::requirements::backup_decision(opts)?;
        let out = self
            .locked(&stack.name, opts, observer, |lost| async {
                let (desired, actual) = self.desired_and_state(stack, opts, observer).await?;
                super::requirements::check_cancelled(
                    opts,
                    &stack.name,
                    "while resolving images",
                    "nothing was changed",
                )?;
                self.execute(desired, &actual, opts, observer, lost).await
            })
            .await?;
        Ok(out)
    }

    async fn rollback(
        &self,
        project: &str,
        to: Option<ReleaseId>,
        opts: &DeployOptions,
        observer: &dyn Observer,
    ) -> crate::Result<DeployOutcome> {
        // The same options as a deploy: the environment's requirements apply before the lock.
        super::requirements::backup_decision(opts)?;
        let out = self
            .locked(project, opts, observer, |lost| async {
                let records = VolumeRecords::new(self.docker.clone());
                let history = records.list(project).await?;
                let no = |what: String| DeployError::NoRelease { project: project.to_string(), what };
                let current = history.iter().rev().find(|r| r.outcome.in_service()).map(|r| r.id);
                let target = match to {
                    Some(id) => history.iter().find(|r| r.id == id).ok_or_else(|| no(format!("no release {id}")))?,
                    None => super::release_before(history.iter(), |r| r, current)
                        .ok_or_else(|| no("no earlier successful release to roll back to".into()))?,
                };
                let images: BTreeSet<String> = target.services.values().map(|s| s.pinned.clone()).collect();
                let actual = engine::read_state(&self.docker, project, &images).await?;
                // The environment's pins judge the images as that release wrote them.
                super::requirements::check_release_policy(target, opts)?;
                // The exact environment comes back from the record volume's root-only file.
                let target = records.unseal(target).await?;
                let desired = DesiredRelease::from_record(actual.next_release_id(), &target);
                self.execute(desired, &actual, opts, observer, lost).await
            })
            .await?;
        Ok(out)
    }

    async fn status(&self, project: &str) -> crate::Result<Status> {
        let actual = engine::read_state(&self.docker, project, &BTreeSet::new()).await?;
        let containers = actual
            .containers
            .iter()
            .map(|c| ContainerStatus {
                name: c.name.clone(),
                service: c.service.clone(),
                release: c.release,
                replica: c.replica,
                role: actual.role_of(c),
                running: c.running,
                health: c.health.clone(),
                image: c.image.clone(),
            })
            .collect();
        Ok(Status { project: project.to_string(), current: actual.current().cloned(), containers })
    }

    async fn history(&self, project: &str) -> crate::Result<Vec<Release>> {
        Ok(VolumeRecords::new(self.docker.clone()).list(project).await?)
    }
}
