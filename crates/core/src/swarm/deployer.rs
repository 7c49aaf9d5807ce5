//! `SwarmDeployer`: the `Deployer` for a Swarm manager. A deploy: policy -> findings (errors stop
//! it, nothing changed) -> lock -> digests (registry digests only: nodes pull) -> objects and
//! networks -> specs -> release (jobs, levels, health-gated, undo) -> record -> unlock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use serde::Serialize;

use super::convert::{self, ObjectNames, UpdateDefaults};
use super::error::SwarmError;
use super::job::job_spec;
use super::objects::{self, ObjectKind};
use super::records::{self, SwarmLock, SwarmRecord};
use super::release::{self, Bounds};
use super::rollout::{levels, spec_hash};
use super::status::{swarm_status, SwarmStatus};
use super::warnings::{findings, Severity};
use crate::deploy::{
    check_policy, is_oneoff, labels, resolve_images, ContainerStatus, DeployEvent, DeployOptions, DeployOutcome,
    Deployer, DesiredRelease, Plan, Release, ReleaseId, Status, Step,
};
use crate::events::{Event, Observer};
use crate::stack::StackSpec;

/// A Swarm lock older than this is taken over. Swarm configs cannot be renewed in place, so the
/// Swarm lock is not yet a lease like the Docker host's (`deploy::Lease`).
const SWARM_LOCK_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// A Swarm, through one of its managers.
#[derive(Debug, Clone)]
pub struct SwarmDeployer {
    docker: Docker,
    bounds: Bounds,
}

/// What `prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SwarmPruneReport {
    /// Release records removed (ids).
    pub releases: Vec<String>,
    /// Secrets and configs removed (names).
    pub objects: Vec<String>,
}

impl SwarmDeployer {
    /// A target on a connected manager.
    pub fn new(docker: Docker) -> Self {
        let bounds =
            Bounds { update: Duration::from_secs(180), job: Duration::from_secs(300), settle: Duration::from_secs(3) };
        Self { docker, bounds }
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
        let all = records::list(&self.docker, project).await?;
        let current = all.iter().rev().find(|(_, r)| r.release.outcome.is_success()).map(|(_, r)| r.release.id);
        let cut = all.len().saturating_sub(keep.max(1));
        let mut report = SwarmPruneReport::default();
        let mut kept_objects: BTreeSet<String> = BTreeSet::new();
        for (i, (id, r)) in all.iter().enumerate() {
            if i >= cut || Some(r.release.id) == current {
                kept_objects.extend(r.objects.iter().cloned());
                continue;
            }
            self.docker.delete_config(id).await.map_err(|e| SwarmError::engine("remove release record", id, e))?;
            report.releases.push(r.release.id.to_string());
        }
        for kind in [ObjectKind::Secret, ObjectKind::Config] {
            for (name, id) in objects::list_names(&self.docker, kind, project).await? {
                if kept_objects.contains(&name) {
                    continue;
                }
                let removed = match kind {
                    ObjectKind::Secret => self.docker.delete_secret(&id).await,
                    ObjectKind::Config => self.docker.delete_config(&id).await,
                };
                if removed.is_ok() {
                    report.objects.push(name);
                }
            }
        }
        Ok(report)
    }

    async fn node_count(&self) -> Result<usize, SwarmError> {
        let nodes = self
            .docker
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await
            .map_err(|e| SwarmError::NotManager { host: "the engine".into(), reason: e.to_string() })?;
        Ok(nodes.len())
    }

    /// The pinned stack, the long-running specs and the jobs of a release of `stack`.
    async fn specs(
        &self,
        stack: &StackSpec,
        opts: &DeployOptions,
        id: ReleaseId,
        observer: &dyn Observer,
    ) -> crate::Result<(
        DesiredRelease,
        BTreeMap<String, bollard::models::ServiceSpec>,
        BTreeMap<String, bollard::models::ServiceSpec>,
        ObjectNames,
    )> {
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
        let defaults = UpdateDefaults { nodes: self.node_count().await?, monitor: opts.min_running };
        let objects = objects::ensure_objects(&self.docker, &desired.stack).await?;
        objects::ensure_networks(&self.docker, &desired.stack).await?;
        let (mut specs, mut jobs) = (BTreeMap::new(), BTreeMap::new());
        for (name, svc) in &desired.stack.services {
            let image = pinned.get(name).cloned().unwrap_or_default();
            let mut spec = convert::service_spec(&desired.stack, svc, &image, &objects, &defaults);
            let l = spec.labels.get_or_insert_with(HashMap::new);
            l.insert(labels::PROJECT.into(), stack.name.clone());
            l.insert(labels::SERVICE.into(), name.clone());
            let hash = spec_hash(&spec);
            let l = spec.labels.get_or_insert_with(HashMap::new);
            l.insert(labels::CONFIG_HASH.into(), hash);
            l.insert(labels::RELEASE.into(), id.to_string());
            if is_oneoff(&desired.stack, name) {
                jobs.insert(name.clone(), job_spec(spec, &id.to_string()));
            } else {
                specs.insert(name.clone(), spec);
            }
        }
        Ok((desired, specs, jobs, objects))
    }

    async fn locked<T>(
        &self,
        project: &str,
        opts: &DeployOptions,
        body: impl std::future::Future<Output = crate::Result<T>>,
    ) -> crate::Result<T> {
        let lock = SwarmLock::acquire(&self.docker, project, opts.lock_wait, SWARM_LOCK_STALE_AFTER).await?;
        let result = body.await;
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
        SwarmRecord { release: desired.starting_record(parent), specs, objects }
    }
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
        let id = next_id(&history);
        let mut steps = Vec::new();
        for level in levels(stack)? {
            for name in level {
                steps.push(if is_oneoff(stack, &name) {
                    Step::RunOneOff { service: name }
                } else {
                    Step::StartReplica { service: name, replica: 1 }
                });
            }
        }
        steps.push(Step::RecordRelease { release: id });
        Ok(Plan { project: stack.name.clone(), release: id, steps, notes: Vec::new() })
    }

    async fn apply(
        &self,
        stack: &StackSpec,
        opts: &DeployOptions,
        observer: &dyn Observer,
    ) -> crate::Result<DeployOutcome> {
        check_policy(stack, &opts.env, opts.policy.as_ref())?;
        refuse_findings(stack, observer)?;
        self.locked(&stack.name, opts, async {
            let history = records::list(&self.docker, &stack.name).await?;
            let id = next_id(&history);
            let (desired, specs, jobs, objects) = self.specs(stack, opts, id, observer).await?;
            let parent = current(&history).map(|r| r.release.id);
            let plan = self.plan(stack, opts).await?;
            let record = self.record(&desired, parent, specs, object_list(&objects));
            let release =
                release::run(&self.docker, record, &levels(&desired.stack)?, jobs, self.bounds, observer).await?;
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
        self.locked(project, opts, async {
            let history = records::list(&self.docker, project).await?;
            let no = |what: String| SwarmError::NoRelease { project: project.into(), what };
            let cur = current(&history).map(|r| r.release.id);
            let target = match to {
                Some(id) => history
                    .iter()
                    .map(|(_, r)| r)
                    .find(|r| r.release.id == id)
                    .ok_or_else(|| no(format!("no release {id}")))?,
                None => history
                    .iter()
                    .rev()
                    .map(|(_, r)| r)
                    .find(|r| r.release.outcome.is_success() && cur.is_some_and(|c| r.release.id < c))
                    .ok_or_else(|| no("no earlier successful release to roll back to".into()))?,
            };
            let id = next_id(&history);
            let mut desired = DesiredRelease::from_record(id, &target.release);
            desired.rollback_of = Some(target.release.id);
            let mut specs = target.specs.clone();
            for spec in specs.values_mut() {
                spec.labels.get_or_insert_with(HashMap::new).insert(labels::RELEASE.into(), id.to_string());
            }
            say(observer, format!("rollback: re-applying the specs of release {}", target.release.id));
            let record = self.record(&desired, cur, specs, target.objects.clone());
            let plan = Plan {
                project: project.into(),
                release: id,
                steps: vec![Step::RecordRelease { release: id }],
                notes: Vec::new(),
            };
            let release =
                release::run(&self.docker, record, &levels(&desired.stack)?, BTreeMap::new(), self.bounds, observer)
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
