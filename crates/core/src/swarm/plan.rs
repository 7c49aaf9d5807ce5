//! The plan of a Swarm release, as data (what `--dry-run` and `--json` show): the lock, the
//! environment's policy, its backups, then per dependency level the one-off jobs and the service
//! updates (image from -> to, update order, parallelism; a spec the Swarm already runs is left
//! out, as the rollout skips it), then the record. Pure: unit-tested on fixtures.

use std::collections::{BTreeMap, BTreeSet};

use bollard::models::ServiceSpec;

use crate::deploy::{labels, Plan, ReleaseId, Step};

/// What a Swarm plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// Project.
    pub project: &'a str,
    /// Environment whose policy was checked.
    pub env: &'a str,
    /// The release this plan makes.
    pub release: ReleaseId,
    /// The before-change hooks, as described (the environment's backup first).
    pub backups: &'a [String],
    /// Compose names by dependency level.
    pub levels: &'a [Vec<String>],
    /// The one-offs (run as jobs).
    pub jobs: &'a BTreeSet<String>,
    /// The desired spec of every long-running service, by compose name.
    pub specs: &'a BTreeMap<String, ServiceSpec>,
    /// The specs the Swarm runs now, by Swarm name.
    pub running: &'a BTreeMap<String, ServiceSpec>,
}

fn image(spec: &ServiceSpec) -> Option<String> {
    spec.task_template.as_ref()?.container_spec.as_ref()?.image.clone()
}

fn hash(spec: &ServiceSpec) -> Option<&String> {
    spec.labels.as_ref()?.get(labels::CONFIG_HASH)
}

/// The update step of one service, `None` when the Swarm already runs exactly this spec.
pub fn update_step(service: &str, desired: &ServiceSpec, running: Option<&ServiceSpec>) -> Option<Step> {
    if let Some(r) = running {
        if hash(r).is_some() && hash(r) == hash(desired) {
            return None;
        }
    }
    let update = desired.update_config.as_ref();
    Some(Step::UpdateService {
        service: service.to_string(),
        from: running.and_then(image),
        to: image(desired).unwrap_or_default(),
        order: update.and_then(|u| u.order).map(|o| o.to_string()).unwrap_or_else(|| "stop-first".into()),
        parallelism: update.and_then(|u| u.parallelism).unwrap_or(1).max(0) as u64,
    })
}

/// The plan of one Swarm release.
pub fn swarm_plan(input: PlanInput<'_>) -> Plan {
    let mut steps = vec![Step::Lock { project: input.project.into() }, Step::Policy { env: input.env.into() }];
    steps.extend(input.backups.iter().enumerate().map(|(index, d)| Step::Backup { index, description: d.clone() }));
    for level in input.levels {
        steps.extend(level.iter().filter(|n| input.jobs.contains(*n)).map(|n| Step::RunOneOff { service: n.clone() }));
        for name in level {
            let Some(desired) = input.specs.get(name) else { continue };
            let running = desired.name.as_ref().and_then(|n| input.running.get(n));
            steps.extend(update_step(name, desired, running));
        }
    }
    steps.push(Step::RecordRelease { release: input.release });
    Plan { project: input.project.into(), release: input.release, steps, notes: Vec::new() }
}
