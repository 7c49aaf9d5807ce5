//! `SwarmDeployer`: the `Deployer` for a Swarm manager. A deploy: policy -> findings (errors stop
//! it, nothing changed) -> lock -> digests (registry digests only: nodes pull) -> objects and
//! networks -> specs -> release (jobs, levels, health-gated, undo) -> record -> unlock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::prune::SwarmPruneReport;
use async_trait::async_trait;
use bollard::models::ServiceSpec;
use bollard::Docker;

use super::backup::run_before_change;
use super::convert::{self, ObjectNames};
use super::convert_update::UpdateDefaults;
use super::error::SwarmError;
use super::job::job_spec;
use super::lock::SwarmLock;
use super::objects;
use super::plan::{swarm_plan, PlanInput};
use super::records::{self, SwarmRecord};
use super::registry_auth::{image_of, RegistryAuth};
use super::release::{self, Bounds};
use super::rollout::{self, levels, spec_hash};
use super::status::{swarm_status, SwarmStatus};
use super::warnings::{findings, Severity};
use crate::deploy::{
    backup_decision, before_change_hooks, check_cancelled, check_policy, is_oneoff, labels, release_before,
    resolve_images, BeforeChange, ContainerStatus, DeployEvent, DeployOptions, DeployOutcome, Deployer, DesiredRelease,
    Halt, Plan, Release, ReleaseId, Status,
};
use crate::events::{Event, Observer};
use crate::stack::StackSpec;

/// A Swarm, through one of its managers.
#[derive(Debug, Clone)]
pub struct SwarmDeployer {
    docker: Docker,
    bounds: Bounds,
    registry_auth: bool,
}

impl SwarmDeployer {
    /// A target on a connected manager.
    pub fn new(docker: Docker) -> Self {
        let bounds =
            Bounds { update: Duration::from_secs(180), job: Duration::from_secs(300), settle: Duration::from_secs(3) };
        Self { docker, bounds, registry_auth: false }
    }

    /// Send the operator's registry credentials with every service (`--with-registry-auth`), so
    /// that every node can pull from a private registry (see `registry_auth`).
    pub fn with_registry_auth(mut self, yes: bool) -> Self {
        self.registry_auth = yes;
        self
    }

    /// The manager `connection` names, API version negotiated.
    pub async fn connect(connection: &crate::engine::Connection) -> crate::Result<Self> {
        let docker = crate::engine::connect(connection).await.map_err(crate::deploy::DeployError::from)?;
        Ok(Self::new(docker))
    }

    /// Bound each service's update (default 180 s).
    pub fn update_timeout(mut self, d: Duration) -> Self {
        self.bounds.update = d;
        self
    }

    /// Bound each one-off job (default 300 s).
    pub fn job_timeout(mut self, d: Duration) -> Self {
        self.bounds.job = d;
        self
    }

    /// The engine.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Tasks per node of the project's services.
    pub async fn swarm_status(&self, project: &str) -> Result<SwarmStatus, SwarmError> {
        let current = records::list(&self.docker, project)
            .await?
            .into_iter()
            .rev()
            .find(|(_, r)| r.release.outcome.is_success())
            .map(|(_, r)| r.release.id.to_string());
        swarm_status(&self.docker, project, current).await
    }

    /// Keep the last `keep` release records (and the current one); remove the older ones and the
    /// secrets and configs no kept record uses (Swarm refuses to remove those in use).
    pub async fn prune(&self, project: &str, keep: usize) -> Result<SwarmPruneReport, SwarmError> {
        super::prune::prune(&self.docker, project, keep).await
    }

    async fn node_count(&self) -> Result<usize, SwarmError> {
        let nodes = self
            .docker
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await
            .map_err(|e| SwarmError::NotManager { host: "the engine".into(), reason: e.to_string() })?;
        Ok(nodes.len())
    }

    /// The release of `stack` with every image pinned to a registry digest (nodes pull by digest).
    async fn resolve(
        &self,
        stack: &StackSpec,
        opts: &DeployOptions,
        id: ReleaseId,
        observer: &dyn Observer,
    ) -> crate::Result<DesiredRelease> {
        let mut resolved = stack.clone();
        if let Some(p) = opts.pull {
            resolved.services.values_mut().for_each(|s| s.pull_policy = Some(p));
        }
        let pinned = resolve_images(&self.docker, &resolved, opts.resolver.as_deref(), observer).await?;
        for (service, image) in &pinned {
            if !image.contains("@sha256:") {
                return Err(SwarmError::NotPullable { service: service.clone(), image: image.clone() }.into());
            }
        }
        let mut desired = DesiredRelease::new(id, stack, &pinned);
        desired.version = opts.version.clone();
        Ok(desired)
    }

    /// The long-running specs and the jobs of `desired`, with `objects`' names.
    async fn specs(
        &self,
        desired: &DesiredRelease,
        opts: &DeployOptions,
        objects: &ObjectNames,
    ) -> crate::Result<Specs> {
        let defaults = UpdateDefaults { nodes: self.node_count().await?, monitor: opts.min_running };
        let (mut specs, mut jobs) = (BTreeMap::new(), BTreeMap::new());
        for (name, svc) in &desired.stack.services {
            let image = desired.services.get(name).map(|s| s.image.clone()).unwrap_or_default();
            let mut spec = convert::service_spec(&desired.stack, svc, &image, objects, &defaults);
            let l = spec.labels.get_or_insert_with(HashMap::new);
            l.insert(labels::PROJECT.into(), desired.project().to_string());
            l.insert(labels::SERVICE.into(), name.clone());
            let hash = spec_hash(&spec);
            let l = spec.labels.get_or_insert_with(HashMap::new);
            l.insert(labels::CONFIG_HASH.into(), hash);
            l.insert(labels::RELEASE.into(), desired.id.to_string());
            if is_oneoff(&desired.stack, name) {
                jobs.insert(name.clone(), job_spec(spec, &desired.id.to_string()));
            } else {
                specs.insert(name.clone(), spec);
            }
        }
        Ok(Specs { services: specs, jobs })
    }

    /// The plan of a release of `specs`, against what the Swarm runs now.
    async fn plan_of(
        &self,
        desired: &DesiredRelease,
        opts: &DeployOptions,
        specs: &Specs,
        hooks: &[Arc<dyn BeforeChange>],
    ) -> crate::Result<Plan> {
        let running = rollout::running_specs(&self.docker, desired.project()).await?;
        let backups: Vec<String> = hooks.iter().map(|h| h.describe()).collect();
        let jobs: BTreeSet<String> = specs.jobs.keys().cloned().collect();
        Ok(swarm_plan(PlanInput {
            project: desired.project(),
            env: &opts.env,
            release: desired.id,
            backups: &backups,
            levels: &levels(&desired.stack)?,
            jobs: &jobs,
            specs: &specs.services,
            running: &running,
        }))
    }

    /// The credentials to send with `specs` (none unless `with_registry_auth`).
    async fn auth(&self, specs: &Specs, observer: &dyn Observer) -> crate::Result<RegistryAuth> {
        if !self.registry_auth {
            return Ok(RegistryAuth::default());
        }
        let images: Vec<String> = specs.services.values().chain(specs.jobs.values()).map(image_of).collect();
        let auth = RegistryAuth::for_images(images.iter().map(String::as_str)).await?;
        say(observer, format!("registry credentials sent with the services for: {}", auth.registries().join(", ")));
        Ok(auth)
    }

    /// Hold the project's lock around `body`, which is given what halts it: the caller's
    /// cancellation and the lock's lost lease.
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
        let lock =
            SwarmLock::acquire(&self.docker, project, opts.lock_wait, opts.lease, &opts.cancel, observer).await?;
        let result = body(Halt::new(opts.cancel.clone(), lock.lost())).await;
        let released = lock.release().await;
        let value = result?;
        released?;
        Ok(value)
    }

    fn record(
        &self,
        desired: &DesiredRelease,
        parent: Option<ReleaseId>,
        specs: BTreeMap<String, bollard::models::ServiceSpec>,
        objects: Vec<String>,
    ) -> SwarmRecord {
        SwarmRecord { release: desired.starting_record(parent), specs, objects, env_sha256: BTreeMap::new() }
    }
}

/// The long-running services' specs and the one-off jobs of a release, by compose name.
struct Specs {
    services: BTreeMap<String, ServiceSpec>,
    jobs: BTreeMap<String, ServiceSpec>,
}

fn say(observer: &dyn Observer, text: String) {
    observer.event(&Event::Deploy(DeployEvent::Message { text }));
}

fn refuse_findings(stack: &StackSpec, observer: &dyn Observer) -> Result<(), SwarmError> {
    let all = findings(stack);
    let errors: Vec<String> = all.iter().filter(|f| f.severity == Severity::Error).map(|f| f.to_string()).collect();
    if !errors.is_empty() {
        return Err(SwarmError::Unsupported { project: stack.name.clone(), problems: errors });
    }
    for f in all {
        say(observer, format!("warning: {f}"));
    }
    Ok(())
}

fn next_id(history: &[(String, SwarmRecord)]) -> ReleaseId {
    ReleaseId(history.iter().map(|(_, r)| r.release.id.0).max().unwrap_or(0) + 1)
}

fn current(history: &[(String, SwarmRecord)]) -> Option<&SwarmRecord> {
    history.iter().rev().map(|(_, r)| r).find(|r| r.release.outcome.is_success())
}

fn object_list(o: &ObjectNames) -> Vec<String> {
    o.secrets.values().chain(o.configs.values()).cloned().collect()
}

#[async_trait]
impl Deployer for SwarmDeployer {
    async fn plan(&self, stack: &StackSpec, opts: &DeployOptions) -> crate::Result<Plan> {
        check_policy(stack, &opts.env, opts.policy.as_ref())?;
        refuse_findings(stack, &crate::NoopObserver)?;
        let history = records::list(&self.docker, &stack.name).await?;
        let desired = self.resolve(stack, opts, next_id(&history), &crate::NoopObserver).await?;
        let objects = objects::object_names(&self.docker, &desired.stack).await?;
        let specs = self.specs(&desired, opts, &objects).await?;
        let hooks = before_change_hooks(&self.docker, opts)?;
        self.plan_of(&desired, opts, &specs, &hooks).await
    }

    async fn apply(
        &self,
        stack: &StackSpec,
        opts: &DeployOptions,
        observer: &dyn Observer,
    ) -> crate::Result<DeployOutcome> {
        check_policy(stack, &opts.env, opts.policy.as_ref())?;
        refuse_findings(stack, observer)?;
        let hooks = before_change_hooks(&self.docker, opts)?;
        self.locked(&stack.name, opts, observer, |halt| async move {
            let history = records::list(&self.docker, &stack.name).await?;
            let desired = self.resolve(stack, opts, next_id(&history), observer).await?;
            let draft = self.specs(&desired, opts, &objects::object_names(&self.docker, &desired.stack).await?).await?;
            let plan = self.plan_of(&desired, opts, &draft, &hooks).await?;
            check_cancelled(opts, &stack.name, "before the backup", "nothing was changed")?;
            run_before_change(&self.docker, &hooks, &desired, &plan, backup_decision(opts)?, observer).await?;
            let objects = objects::ensure_objects(&self.docker, &desired.stack).await?;
            objects::ensure_networks(&self.docker, &desired.stack).await?;
            let specs = self.specs(&desired, opts, &objects).await?;
            let auth = self.auth(&specs, observer).await?;
            let parent = current(&history).map(|r| r.release.id);
            let record = self.record(&desired, parent, specs.services, object_list(&objects));
            let release = release::run(
                &self.docker,
                record,
                &levels(&desired.stack)?,
                specs.jobs,
                self.bounds,
                &auth,
                &halt,
                observer,
            )
            .await?;
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
        self.locked(project, opts, observer, |halt| async move {
            let history = records::list(&self.docker, project).await?;
            let no = |what: String| SwarmError::NoRelease { project: project.into(), what };
            let cur = current(&history).map(|r| r.release.id);
            let target = match to {
                Some(id) => history
                    .iter()
                    .map(|(_, r)| r)
                    .find(|r| r.release.id == id)
                    .ok_or_else(|| no(format!("no release {id}")))?,
                None => release_before(history.iter().map(|(_, r)| r), |r| &r.release, cur)
                    .ok_or_else(|| no("no earlier successful release to roll back to".into()))?,
            };
            let id = next_id(&history);
            let mut desired = DesiredRelease::from_record(id, &target.release);
            desired.rollback_of = Some(target.release.id);
            let mut services = target.specs.clone();
            for (name, spec) in services.iter_mut() {
                spec.labels.get_or_insert_with(HashMap::new).insert(labels::RELEASE.into(), id.to_string());
                if let Some(want) = target.env_sha256.get(name) {
                    records::restore_env_from_swarm(&self.docker, name, spec, want, target.release.id).await?;
                }
            }
            let specs = Specs { services, jobs: BTreeMap::new() };
            let hooks = before_change_hooks(&self.docker, opts)?;
            let plan = self.plan_of(&desired, opts, &specs, &hooks).await?;
            run_before_change(&self.docker, &hooks, &desired, &plan, backup_decision(opts)?, observer).await?;
            let auth = self.auth(&specs, observer).await?;
            say(observer, format!("rollback: re-applying the specs of release {}", target.release.id));
            let record = self.record(&desired, cur, specs.services, target.objects.clone());
            let release = release::run(
                &self.docker,
                record,
                &levels(&desired.stack)?,
                BTreeMap::new(),
                self.bounds,
                &auth,
                &halt,
                observer,
            )
            .await?;
            Ok(DeployOutcome { plan, release: Some(release) })
        })
        .await
    }

    async fn status(&self, project: &str) -> crate::Result<Status> {
        let s = self.swarm_status(project).await?;
        let history = records::list(&self.docker, project).await?;
        let containers = s
            .services
            .iter()
            .flat_map(|svc| {
                svc.tasks.iter().map(move |t| ContainerStatus {
                    name: format!("{}.{}@{}", svc.name, t.slot.unwrap_or(0), t.node),
                    service: svc.service.clone(),
                    release: svc.release.as_deref().and_then(|r| r.parse().ok()),
                    replica: t.slot.unwrap_or(0) as u32,
                    role: labels::Role::Current,
                    running: t.state == "running",
                    health: Some(t.health.clone()),
                    image: t.image.clone(),
                })
            })
            .collect();
        Ok(Status { project: project.into(), current: current(&history).map(|r| r.release.clone()), containers })
    }

    async fn history(&self, project: &str) -> crate::Result<Vec<Release>> {
        Ok(records::list(&self.docker, project).await?.into_iter().map(|(_, r)| r.release).collect())
    }
}
