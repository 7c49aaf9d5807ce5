//! The two inputs of `plan()`: the desired release (a stack with every image pinned) and the
//! actual state of the host (slipway's containers, networks, volumes, images present, history).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::release::{config_hash, Release, ReleaseId, ReleaseOutcome, ReleasedService};
use crate::stack::StackSpec;

/// What should run: a stack whose images are pinned, with the id the release will get.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DesiredRelease {
    /// The id this release will be recorded under.
    pub id: ReleaseId,
    /// The stack, `image` of every service replaced by its pinned reference.
    pub stack: StackSpec,
    /// Per service: image as written, pinned, config hash.
    pub services: BTreeMap<String, ReleasedService>,
    /// A version for people.
    pub version: Option<String>,
    /// When this is a rollback, the release redeployed.
    pub rollback_of: Option<ReleaseId>,
}

impl DesiredRelease {
    /// The record a run of this release starts from: succeeded, written by whoever runs it, at
    /// this moment, after `parent`; the executor (or a target's deployer) sets the outcome.
    pub fn starting_record(&self, parent: Option<ReleaseId>) -> Release {
        Release {
            id: self.id,
            project: self.project().to_string(),
            version: self.version.clone(),
            services: self.services.clone(),
            stack: self.stack.clone(),
            env_sha256: None,
            who: super::release::who(),
            when: chrono::Utc::now(),
            outcome: ReleaseOutcome::Succeeded,
            parent,
            rollback_of: self.rollback_of,
            hook_failures: Vec::new(),
        }
    }

    /// Build from a stack and the pinned reference of each service's image (service -> pinned).
    /// Services missing from `pinned` keep their image as written (which then must be pinned).
    pub fn new(id: ReleaseId, stack: &StackSpec, pinned: &BTreeMap<String, String>) -> Self {
        let mut pinned_stack = stack.clone();
        let mut services = BTreeMap::new();
        for (name, svc) in &stack.services {
            let written = svc.image.clone().unwrap_or_default();
            let pin = pinned.get(name).cloned().unwrap_or_else(|| written.clone());
            let hash = config_hash(stack, svc, &pin);
            if let Some(s) = pinned_stack.services.get_mut(name) {
                s.image = Some(pin.clone());
            }
            services.insert(name.clone(), ReleasedService { image: written, pinned: pin, config_hash: hash });
        }
        Self { id, stack: pinned_stack, services, version: None, rollback_of: None }
    }

    /// Redeploy a recorded release under a new id (a rollback is itself a release).
    pub fn from_record(id: ReleaseId, record: &Release) -> Self {
        Self {
            id,
            stack: record.stack.clone(),
            services: record.services.clone(),
            version: record.version.clone(),
            rollback_of: Some(record.id),
        }
    }

    /// The project name.
    pub fn project(&self) -> &str {
        &self.stack.name
    }

    /// The stack with every image as written (`postgres:16`), not pinned: what recognises a
    /// service by its image (a database for the backup), since a pin may be a bare image id.
    pub fn written_stack(&self) -> StackSpec {
        let mut stack = self.stack.clone();
        for (name, service) in &self.services {
            if let Some(s) = stack.services.get_mut(name) {
                s.image = Some(service.image.clone());
            }
        }
        stack
    }
}

/// One container slipway created (found by its labels).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActualContainer {
    /// Engine id.
    pub id: String,
    /// Name (without the leading `/`).
    pub name: String,
    /// Service.
    pub service: String,
    /// Release that created it (`None` when the label is missing or malformed).
    pub release: Option<ReleaseId>,
    /// Config hash label.
    pub config_hash: String,
    /// Replica number.
    pub replica: u32,
    /// Running (or restarting / paused).
    pub running: bool,
    /// Exit code when it has exited.
    pub exit_code: Option<i64>,
    /// A one-off task container.
    pub oneoff: bool,
    /// The image it was created from, as given at creation.
    pub image: String,
    /// Docker health status (`healthy`, `unhealthy`, `starting`) when it has a healthcheck.
    pub health: Option<String>,
}

impl ActualContainer {
    /// A minimal container for tests and fakes.
    pub fn new(id: &str, service: &str, release: u64, hash: &str, replica: u32, running: bool) -> Self {
        Self {
            id: id.to_string(),
            name: format!("{id}-{service}-{replica}"),
            service: service.to_string(),
            release: Some(ReleaseId(release)),
            config_hash: hash.to_string(),
            replica,
            running,
            exit_code: if running { None } else { Some(0) },
            oneoff: false,
            image: String::new(),
            health: None,
        }
    }
}

/// What is on the host for one project.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ActualState {
    /// slipway's containers of the project (any state).
    pub containers: Vec<ActualContainer>,
    /// Engine-side names of the networks that exist (only those the stack names need be listed).
    pub networks: BTreeSet<String>,
    /// Engine-side names of the volumes that exist.
    pub volumes: BTreeSet<String>,
    /// Pinned references (or image ids) present in the engine.
    pub images: BTreeSet<String>,
    /// Release records, oldest first.
    pub history: Vec<Release>,
}

impl ActualState {
    /// The current release: the newest record that serves (succeeded, or partly deployed).
    pub fn current(&self) -> Option<&Release> {
        self.history.iter().rev().find(|r| r.outcome.in_service())
    }

    /// Ids of the recorded releases.
    pub fn recorded(&self) -> BTreeSet<ReleaseId> {
        self.history.iter().map(|r| r.id).collect()
    }

    /// The next release id: above every recorded release and every release label on a container
    /// (so a release interrupted before it was recorded never has its id reused).
    pub fn next_release_id(&self) -> ReleaseId {
        let recorded = self.history.iter().map(|r| r.id.0).max().unwrap_or(0);
        let labelled = self.containers.iter().filter_map(|c| c.release.map(|r| r.0)).max().unwrap_or(0);
        ReleaseId(recorded.max(labelled) + 1)
    }

    /// The effective role of a container (labels are immutable, so it is derived here).
    pub fn role_of(&self, c: &ActualContainer) -> super::labels::Role {
        use super::labels::Role;
        let record = c.release.and_then(|id| self.history.iter().find(|r| r.id == id));
        match record.map(|r| &r.outcome) {
            _ if c.oneoff => Role::Oneoff,
            Some(ReleaseOutcome::Failed { .. }) => Role::Failed,
            _ if c.running => Role::Current,
            _ => Role::Previous,
        }
    }
}
