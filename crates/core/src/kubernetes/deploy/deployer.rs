//! `KubernetesDeployer`: the deploy room's [`Deployer`] for one namespace of a cluster, sharing
//! the policy, plan, records and hooks of the other targets. A deploy: the environment's pins
//! (`check_policy`) -> the project's Lease (waiting up to `lock_wait`) -> every image pinned to
//! its registry digest -> the stack rendered with those pins -> the plan -> the before-change
//! hooks (the policy's backup, the caller's) -> the objects applied and awaited in order -> the
//! record (a Secret) -> records beyond `retain` pruned. A failure re-applies the previous
//! release's recorded manifests and awaits them; the failed release is recorded too.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::super::error::KubernetesError;
use super::super::render::{render, Manifest, RenderOptions};
use super::backup::ClusterBackup;
use super::cluster::Cluster;
use super::lock::DeployLease;
use super::records::{self, Record};
use super::release::{self, Bounds, Stopped};
use crate::deploy::{
    backup_decision, check_cancelled, check_policy, check_release_policy, registry_pins, release_before, BeforeChange,
    DeployEvent, DeployOptions, DeployOutcome, Deployer, DesiredRelease, Halt, Halted, Plan, Release, ReleaseId,
    ReleaseOutcome, Status, Step,
};
use crate::events::{Event, Observer};
use crate::stack::StackSpec;

/// Bounds and rendering of a Kubernetes deploy.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KubeDeployOptions {
    /// How long one Job may run (default 10 min).
    pub job_timeout: Duration,
    /// Added to a Deployment's `progressDeadlineSeconds` to bound its wait (default 30 s).
    pub rollout_margin: Duration,
    /// How the stack is rendered (ingress kind and class, `--strict`); the namespace is the
    /// cluster's.
    pub render: RenderOptions,
}

impl Default for KubeDeployOptions {
    fn default() -> Self {
        KubeDeployOptions {
            job_timeout: Duration::from_secs(600),
            rollout_margin: Duration::from_secs(30),
            render: RenderOptions::new().environment(std::env::vars().collect()),
        }
    }
}

impl KubeDeployOptions {
    /// Set the Job bound.
    pub fn job_timeout(mut self, d: Duration) -> Self {
        self.job_timeout = d;
        self
    }
    /// Set the rollout margin.
    pub fn rollout_margin(mut self, d: Duration) -> Self {
        self.rollout_margin = d;
        self
    }
    /// Set the render options.
    pub fn render(mut self, r: RenderOptions) -> Self {
        self.render = r;
        self
    }
}

/// Deploys stacks to one namespace.
pub struct KubernetesDeployer {
    cluster: Cluster,
    opts: KubeDeployOptions,
}

pub(super) fn message(observer: &dyn Observer, text: String) {
    observer.event(&Event::Deploy(DeployEvent::Message { text }));
}

/// A YAML stream (as rendered) back into manifests.
pub fn parse_stream(project: &str, text: &str) -> Result<Vec<Manifest>, KubernetesError> {
    use serde::Deserialize;
    let bad = |reason: String| KubernetesError::BadRecord { project: project.to_string(), reason };
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let body = serde_json::Value::deserialize(doc).map_err(|e| bad(e.to_string()))?;
        if body.is_null() {
            continue;
        }
        let kind = body["kind"].as_str().ok_or_else(|| bad("an object without kind".into()))?.to_string();
        let name = body["metadata"]["name"].as_str().ok_or_else(|| bad("an object without name".into()))?.to_string();
        let service = body["metadata"]["labels"][crate::deploy::labels::SERVICE].as_str().map(String::from);
        out.push(Manifest::new(kind, name, service, body));
    }
    Ok(out)
}

/// A release ready to run: pinned, rendered.
struct Prepared {
    desired: DesiredRelease,
    objects: Vec<Manifest>,
    manifests: String,
}

fn next_id(history: &[Record]) -> ReleaseId {
    ReleaseId(history.last().map_or(0, |r| r.release.id.0) + 1)
}

fn current(history: &[Record]) -> Option<&Record> {
    history.iter().rev().find(|r| r.release.outcome.is_success())
}

impl KubernetesDeployer {
    /// A deployer for one namespace.
    pub fn new(cluster: Cluster, opts: KubeDeployOptions) -> Self {
        KubernetesDeployer { cluster, opts }
    }

    /// The namespace.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    fn bounds(&self) -> Bounds {
        Bounds { job: self.opts.job_timeout, rollout_margin: self.opts.rollout_margin }
    }

    /// Pin every image to its registry digest and render the pinned stack.
    async fn prepare(
        &self,
        stack: &StackSpec,
        opts: &DeployOptions,
        id: ReleaseId,
        observer: &dyn Observer,
    ) -> crate::Result<Prepared> {
        let pinned = registry_pins(stack, opts.resolver.as_deref(), observer).await?;
        let mut desired = DesiredRelease::new(id, stack, &pinned);
        desired.version = opts.version.clone();
        let ropts = self.opts.render.clone().namespace(self.cluster.namespace());
        let rendered = render(&desired.stack, &ropts)?;
        for w in &rendered.warnings {
            message(observer, format!("warning: {w}"));
        }
        let manifests = rendered.to_yaml();
        Ok(Prepared { desired, objects: rendered.objects, manifests })
    }

    /// The before-change hooks: the backup the environment's policy asks for, then the caller's.
    fn before_change(&self, opts: &DeployOptions) -> crate::Result<Vec<Arc<dyn BeforeChange>>> {
        let mut hooks: Vec<Arc<dyn BeforeChange>> = Vec::new();
        if backup_decision(opts)? {
            hooks.push(Arc::new(ClusterBackup::new(self.cluster.clone(), self.opts.job_timeout)));
        }
        hooks.extend(opts.before_change.iter().cloned());
        Ok(hooks)
    }

    fn plan_of(
        &self,
        project: &str,
        id: ReleaseId,
        opts: &DeployOptions,
        hooks: &[Arc<dyn BeforeChange>],
        objects: &[Manifest],
    ) -> Plan {
        let mut steps = vec![Step::Lock { project: project.into() }, Step::Policy { env: opts.env.clone() }];
        steps.extend(hooks.iter().enumerate().map(|(index, h)| Step::Backup { index, description: h.describe() }));
        steps.extend(release::steps(objects));
        steps.push(Step::RecordRelease { release: id });
        steps.push(Step::Prune { keep: opts.retain });
        Plan { project: project.into(), release: id, steps, notes: Vec::new() }
    }

    /// Hold the project's Lease around `body`, which is given what halts it: the caller's
    /// cancellation and the Lease's loss.
    async fn locked<T, F>(
        &self,
        project: &str,
        opts: &DeployOptions,
        observer: &dyn Observer,
        body: impl FnOnce(Halt) -> F,
    ) -> crate::Result<T>
    where
        F: std::future::Future<Output = crate::Result<T>>,
    {
        let who = crate::deploy::who();
        let lease = DeployLease::take(&self.cluster, project, &who, opts.lease, opts.lock_wait, observer).await?;
        let result = body(Halt::new(opts.cancel.clone(), lease.lost())).await;
        let released = lease.release().await;
        let value = result?;
        released?;
        Ok(value)
    }

    /// The before-change hooks (the backup first) of a prepared release, unless it was cancelled.
    async fn before_change_run(
        &self,
        prepared: &Prepared,
        plan: &Plan,
        hooks: &[Arc<dyn BeforeChange>],
        opts: &DeployOptions,
        observer: &dyn Observer,
    ) -> crate::Result<()> {
        check_cancelled(opts, prepared.desired.project(), "the backup", "nothing was changed")?;
        for hook in hooks {
            hook.before_change(&prepared.desired, plan, observer).await?;
        }
        Ok(())
    }

    /// Run a prepared release whose hooks ran: objects, record; on failure (or a halt) the
    /// previous release again.
    async fn release(
        &self,
        prepared: Prepared,
        history: &[Record],
        opts: &DeployOptions,
        halt: &Halt,
        observer: &dyn Observer,
    ) -> crate::Result<Release> {
        let project = prepared.desired.project().to_string();
        let previous = current(history).cloned();
        let mut release = prepared.desired.starting_record(previous.as_ref().map(|p| p.release.id));
        let id = release.id;
        message(observer, format!("release {id} of {project}: {} object(s)", prepared.objects.len()));
        let outcome = release::run(&self.cluster, &prepared.objects, id.0, self.bounds(), observer, halt).await;
        let Err(Stopped { step, service, error, halted }) = outcome else {
            records::write(&self.cluster, &Record { release: release.clone(), manifests: prepared.manifests }).await?;
            let pruned = records::prune(&self.cluster, &project, opts.retain).await?;
            if !pruned.is_empty() {
                message(observer, format!("pruned release records beyond {}: {}", opts.retain, pruned.join(", ")));
            }
            return Ok(release);
        };
        release.outcome = match halted {
            Some(Halted::Cancelled) => ReleaseOutcome::Cancelled { service, step },
            Some(Halted::LeaseLost) | None => ReleaseOutcome::Failed { service, step, reason: error.to_string() },
        };
        records::write(&self.cluster, &Record { release, manifests: prepared.manifests }).await?;
        let Some(prev) = previous else { return Err(error.into()) };
        message(observer, format!("release {id} failed; applying release {} again", prev.release.id));
        let prev_objects = parse_stream(&project, &prev.manifests)?;
        // The undo runs to its end even when the deploy was cancelled or lost its lease.
        let never = Halt::default();
        let restored = release::run(&self.cluster, &prev_objects, prev.release.id.0, self.bounds(), observer, &never)
            .await
            .is_ok();
        Err(KubernetesError::RolledBack { cause: Box::new(error), to: prev.release.id.0, restored }.into())
    }

    /// Delete release records beyond the last `retain` (the last successful one is always kept)
    /// and the finished Jobs of older releases. Returns the names deleted.
    pub async fn prune(&self, project: &str, retain: usize) -> crate::Result<Vec<String>> {
        let mut deleted = records::prune(&self.cluster, project, retain).await?;
        let history = records::list(&self.cluster, project).await?;
        let current = current(&history).map(|r| r.release.id.0);
        deleted.extend(super::status::prune_jobs(&self.cluster, project, current).await?);
        Ok(deleted)
    }

    /// The project's Deployments with their replica counts.
    pub async fn workloads(&self, project: &str) -> crate::Result<Vec<super::WorkloadStatus>> {
        Ok(super::status::workloads(&self.cluster, project).await?)
    }
}

#[async_trait]
impl Deployer for KubernetesDeployer {
    async fn plan(&self, stack: &StackSpec, opts: &DeployOptions) -> crate::Result<Plan> {
        check_policy(stack, &opts.env, opts.policy.as_ref())?;
        let hooks = self.before_change(opts)?;
        let history = records::list(&self.cluster, &stack.name).await?;
        let id = next_id(&history);
        let prepared = self.prepare(stack, opts, id, &crate::NoopObserver).await?;
        Ok(self.plan_of(&stack.name, id, opts, &hooks, &prepared.objects))
    }

    async fn apply(
        &self,
        stack: &StackSpec,
        opts: &DeployOptions,
        observer: &dyn Observer,
    ) -> crate::Result<DeployOutcome> {
        check_policy(stack, &opts.env, opts.policy.as_ref())?;
        let hooks = self.before_change(opts)?;
        self.locked(&stack.name, opts, observer, |halt| async move {
            let history = records::list(&self.cluster, &stack.name).await?;
            let id = next_id(&history);
            let prepared = self.prepare(stack, opts, id, observer).await?;
            let plan = self.plan_of(&stack.name, id, opts, &hooks, &prepared.objects);
            self.before_change_run(&prepared, &plan, &hooks, opts, observer).await?;
            let release = self.release(prepared, &history, opts, &halt, observer).await?;
            Ok(DeployOutcome { plan, release: Some(release) })
        })
        .await
    }

    async fn rollback(
        &self,
        project: &str,
        to: Option<ReleaseId>,
        opts: &DeployOptions,
        observer: &dyn Observer,
    ) -> crate::Result<DeployOutcome> {
        let hooks = self.before_change(opts)?;
        self.locked(project, opts, observer, |halt| async move {
            let history = records::list(&self.cluster, project).await?;
            let cur = current(&history).map(|r| r.release.id);
            let no = |what: String| KubernetesError::NoRelease { project: project.to_string(), what };
            let target = match to {
                Some(id) => history
                    .iter()
                    .find(|r| r.release.id == id && r.release.outcome.is_success())
                    .ok_or_else(|| no(format!("{id} that succeeded")))?,
                None => release_before(history.iter(), |r| &r.release, cur)
                    .ok_or_else(|| no("before the current one".into()))?,
            };
            check_release_policy(&target.release, opts)?;
            let id = next_id(&history);
            let desired = DesiredRelease::from_record(id, &target.release);
            let objects = parse_stream(project, &target.manifests)?;
            message(observer, format!("rollback: applying the manifests of release {} again", target.release.id));
            let prepared = Prepared { desired, objects, manifests: target.manifests.clone() };
            let plan = self.plan_of(project, id, opts, &hooks, &prepared.objects);
            self.before_change_run(&prepared, &plan, &hooks, opts, observer).await?;
            let release = self.release(prepared, &history, opts, &halt, observer).await?;
            Ok(DeployOutcome { plan, release: Some(release) })
        })
        .await
    }

    async fn status(&self, project: &str) -> crate::Result<Status> {
        let history = records::list(&self.cluster, project).await?;
        let containers = super::status::pods(&self.cluster, project).await?;
        Ok(Status { project: project.into(), current: current(&history).map(|r| r.release.clone()), containers })
    }

    async fn history(&self, project: &str) -> crate::Result<Vec<Release>> {
        Ok(records::list(&self.cluster, project).await?.into_iter().map(|r| r.release).collect())
    }
}
