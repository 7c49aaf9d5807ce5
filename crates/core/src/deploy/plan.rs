//! `plan()`: a pure function from (desired release, actual state) to an ordered list of typed
//! `Step`s. Nothing here touches an engine: `--dry-run` prints the plan, unit tests assert it,
//! and one executor per engine runs it. An unchanged stack plans zero steps.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use super::error::DeployError;
use super::hooks::{check_hooks, hook_specs, HookPoint};
use super::release::ReleaseId;
use super::rules::{dependency_order, health_gate, is_oneoff, is_routed, stop_first_reason, update_order};
use super::state::{ActualContainer, ActualState, DesiredRelease};
pub use super::step::Step;
use crate::stack::UpdateOrder;

/// An ordered list of steps for one release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// The project.
    pub project: String,
    /// The release these steps produce.
    pub release: ReleaseId,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Why the plan does what it does where that is not plain from the steps (a service that
    /// stops its old container first, and why); `--dry-run` prints them after the steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Plan {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The steps that change the host (without lock, policy, hooks, backups and prune).
    pub fn changes(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| {
            !matches!(
                s,
                Step::Lock { .. }
                    | Step::Policy { .. }
                    | Step::Backup { .. }
                    | Step::PreDeployHook { .. }
                    | Step::PostDeployHook { .. }
                    | Step::Prune { .. }
            )
        })
    }
}

/// Options of a plan that do not come from the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanOptions {
    /// Releases whose containers and images are kept (default 5).
    pub retain: usize,
    /// "Still running after" duration for services without a healthcheck (default 5 s).
    pub min_running: Duration,
    /// The environment whose policy was checked (default `default`).
    pub env: String,
    /// Run the stack's pre-/post-deploy hooks (default true).
    pub hooks: bool,
    /// The before-change hooks (backups), as described by each.
    pub backups: Vec<String>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self { retain: 5, min_running: Duration::from_secs(5), env: "default".into(), hooks: true, backups: Vec::new() }
    }
}

impl PlanOptions {
    /// Set the retention.
    pub fn retain(mut self, n: usize) -> Self {
        self.retain = n;
        self
    }
    /// Set the default "still running after" duration.
    pub fn min_running(mut self, d: Duration) -> Self {
        self.min_running = d;
        self
    }
    /// Set the environment.
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = env.into();
        self
    }
    /// Plan the stack's hooks or not.
    pub fn hooks(mut self, on: bool) -> Self {
        self.hooks = on;
        self
    }
    /// The before-change hooks (backups) by description.
    pub fn backups(mut self, backups: Vec<String>) -> Self {
        self.backups = backups;
        self
    }
}

/// Compute the steps that turn `actual` into `desired`, with default options.
pub fn plan(desired: &DesiredRelease, actual: &ActualState) -> Result<Plan, DeployError> {
    plan_with(desired, actual, PlanOptions::default())
}

/// Compute the steps that turn `actual` into `desired`. Fails (before any change) when the stack
/// names an external network or volume that does not exist, or its dependencies form a cycle.
pub fn plan_with(desired: &DesiredRelease, actual: &ActualState, opts: PlanOptions) -> Result<Plan, DeployError> {
    let stack = &desired.stack;
    let project = stack.name.clone();
    let mut steps = Vec::new();

    // Networks and volumes the services use.
    let used_networks: BTreeSet<&String> = stack.services.values().flat_map(|s| s.networks.keys()).collect();
    for key in used_networks {
        let net = stack
            .networks
            .get(key)
            .ok_or_else(|| DeployError::UnknownNetwork { project: project.clone(), network: key.clone() })?;
        if actual.networks.contains(&net.name) {
            continue;
        }
        if net.external {
            return Err(DeployError::MissingExternal { project, kind: "network", name: net.name.clone() });
        }
        steps.push(Step::CreateNetwork { key: key.clone(), name: net.name.clone() });
    }
    for (key, vol) in &stack.volumes {
        if actual.volumes.contains(&vol.name) {
            continue;
        }
        if vol.external {
            return Err(DeployError::MissingExternal { project, kind: "volume", name: vol.name.clone() });
        }
        steps.push(Step::CreateVolume { key: key.clone(), name: vol.name.clone() });
    }

    let order = dependency_order(stack)?;
    let recorded = actual.recorded();
    let mut pulls = BTreeSet::new();
    let mut service_steps = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut kept: BTreeSet<&str> = BTreeSet::new();

    for name in &order {
        let svc = &stack.services[name];
        let want = &desired.services[name];
        let mine: Vec<&ActualContainer> = actual.containers.iter().filter(|c| &c.service == name).collect();
        if is_oneoff(stack, name) {
            let done = mine.iter().find(|c| c.oneoff && c.config_hash == want.config_hash && c.exit_code == Some(0));
            let ran_in_current =
                actual.current().and_then(|r| r.services.get(name)).is_some_and(|s| s.config_hash == want.config_hash);
            if let Some(c) = done {
                kept.insert(c.id.as_str());
            } else if !ran_in_current {
                pulls.insert(want.pinned.clone());
                service_steps.push(Step::RunOneOff { service: name.clone() });
            }
            continue;
        }
        let replicas = svc.deploy.replicas.unwrap_or(1);
        let running: Vec<&ActualContainer> = mine.iter().copied().filter(|c| c.running && !c.oneoff).collect();
        let mut satisfied: Vec<&ActualContainer> =
            running.iter().copied().filter(|c| c.config_hash == want.config_hash).collect();
        satisfied.sort_by_key(|c| (c.replica, c.release));
        satisfied.truncate(replicas as usize);
        kept.extend(satisfied.iter().map(|c| c.id.as_str()));
        let taken: BTreeSet<u32> = satisfied.iter().map(|c| c.replica).collect();
        let mut old: Vec<&ActualContainer> =
            running.iter().copied().filter(|c| !satisfied.iter().any(|s| s.id == c.id)).collect();
        old.sort_by_key(|c| (c.replica, c.release));
        let missing: Vec<u32> = (1..=replicas).filter(|r| !taken.contains(r)).take(replicas as usize).collect();
        let order = update_order(svc, replicas);
        let gate = health_gate(svc, opts.min_running);
        let routed = is_routed(svc);
        for replica in missing {
            pulls.insert(want.pinned.clone());
            let pos = old.iter().position(|c| c.replica == replica).unwrap_or(0);
            let predecessor = (!old.is_empty()).then(|| old.remove(pos));
            let stop =
                predecessor.map(|c| Step::StopOld { service: name.clone(), id: c.id.clone(), name: c.name.clone() });
            let start = [
                Step::StartReplica { service: name.clone(), replica },
                Step::WaitHealthy { service: name.clone(), replica, gate: gate.clone() },
            ];
            let route = routed.then(|| Step::RouteSwitch { service: name.clone(), replica });
            match order {
                UpdateOrder::StopFirst => {
                    if stop.is_some() {
                        let why = stop_first_reason(svc, replicas)
                            .unwrap_or_else(|| "`deploy.update_config.order: stop-first`".to_string());
                        let note = format!("{name} stops its old container before the new one starts: {why}");
                        if !notes.contains(&note) {
                            notes.push(note);
                        }
                    }
                    service_steps.extend(stop);
                    service_steps.extend(start);
                    service_steps.extend(route);
                }
                UpdateOrder::StartFirst => {
                    service_steps.extend(start);
                    service_steps.extend(route);
                    service_steps.extend(stop);
                }
            }
        }
        // Scale down: old containers left without a successor.
        for c in old {
            service_steps.push(Step::StopOld { service: name.clone(), id: c.id.clone(), name: c.name.clone() });
        }
    }
    // Services no longer in the stack.
    for c in &actual.containers {
        if c.running && !c.oneoff && !stack.services.contains_key(&c.service) {
            service_steps.push(Step::StopOld { service: c.service.clone(), id: c.id.clone(), name: c.name.clone() });
        }
    }

    for image in pulls {
        if !actual.images.contains(&image) {
            steps.push(Step::Pull { image });
        }
    }
    for c in &actual.containers {
        let unrecorded = c.release.is_none_or(|r| !recorded.contains(&r));
        if unrecorded && !c.running && !kept.contains(c.id.as_str()) {
            steps.push(Step::RemoveOrphan { id: c.id.clone(), name: c.name.clone() });
        }
    }
    steps.extend(service_steps);

    let unchanged_record = actual.current().is_some_and(|cur| {
        cur.services.len() == desired.services.len()
            && desired.services.iter().all(|(k, v)| cur.services.get(k).is_some_and(|c| c.config_hash == v.config_hash))
    });
    // A kept container of a release that was never recorded (its deploy lost its connection
    // before it could record) is adopted by the next record: only one newer than the current
    // record still needs one, else every later deploy would record again.
    let current_id = actual.current().map(|r| r.id);
    let kept_unrecorded = actual.containers.iter().any(|c| {
        kept.contains(c.id.as_str())
            && c.release.is_none_or(|r| !recorded.contains(&r) && current_id.is_none_or(|cur| r > cur))
    });
    if !steps.is_empty() || !unchanged_record || kept_unrecorded {
        steps.push(Step::RecordRelease { release: desired.id });
    }
    if steps.is_empty() {
        return Ok(Plan { project, release: desired.id, steps, notes });
    }
    // The whole deploy in one order: lock -> policy -> backup -> pre-deploy hooks -> (networks,
    // volumes) pulls -> one-offs and per-replica rollouts -> record -> post-deploy hooks -> prune.
    let (pre, post) = if opts.hooks {
        check_hooks(desired)?;
        (hook_specs(desired, HookPoint::PreDeploy)?, hook_specs(desired, HookPoint::PostDeploy)?)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut all = vec![Step::Lock { project: project.clone() }, Step::Policy { env: opts.env.clone() }];
    all.extend(opts.backups.iter().enumerate().map(|(index, d)| Step::Backup { index, description: d.clone() }));
    all.extend(pre.into_iter().enumerate().map(|(index, h)| Step::PreDeployHook {
        index,
        hook: h.hook.describe(),
        on_failure: h.on_failure,
    }));
    all.extend(steps);
    all.extend(post.into_iter().enumerate().map(|(index, h)| Step::PostDeployHook {
        index,
        hook: h.hook.describe(),
        on_failure: h.on_failure,
    }));
    all.push(Step::Prune { keep: opts.retain });
    Ok(Plan { project, release: desired.id, steps: all, notes })
}
