//! Container, volume and image label keys written by the deployer, and the names it gives to
//! containers. slipway's own keys live under `dev.slipway.`; Compose's keys are written too so
//! that `docker compose ps/logs -p PROJECT` keep working on a stack that slipway deployed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The project (compose project name).
pub const PROJECT: &str = "dev.slipway.project";
/// The service name.
pub const SERVICE: &str = "dev.slipway.service";
/// The release id that created the container.
pub const RELEASE: &str = "dev.slipway.release";
/// sha256 of the service's resolved spec (image pinned): equal hash = nothing to do.
pub const CONFIG_HASH: &str = "dev.slipway.config-hash";
/// Replica number, from 1.
pub const REPLICA: &str = "dev.slipway.replica";
/// The role the container was created for (see [`Role`]).
pub const ROLE: &str = "dev.slipway.role";
/// Marks a one-off task container (migrations and the like).
pub const ONEOFF: &str = "dev.slipway.oneoff";
/// Marks a hook container; the value is the hook point (`pre-deploy`, `post-deploy`).
pub const HOOK: &str = "dev.slipway.hook";
/// The project a hook container ran for (hook containers carry no project label, so the
/// planner never counts them as the project's containers).
pub const HOOK_PROJECT: &str = "dev.slipway.hook.project";
/// The release a hook container ran for.
pub const HOOK_RELEASE: &str = "dev.slipway.hook.release";
/// Marks a release record volume (the value is the record's JSON).
pub const RECORD: &str = "dev.slipway.record";
/// Marks a never-started carrier container that reads or writes a record volume's files; the
/// value is the volume.
pub const CARRIER: &str = "dev.slipway.carrier";
/// Marks the deploy-lock container of a project.
pub const LOCK: &str = "dev.slipway.lock";
/// Lock holder: `user@host pid=N`.
pub const LOCK_HOLDER: &str = "dev.slipway.lock.holder";
/// Lock holder's host name.
pub const LOCK_HOST: &str = "dev.slipway.lock.host";
/// Lock holder's process id (for people; staleness is judged by the lease alone).
pub const LOCK_PID: &str = "dev.slipway.lock.pid";
/// When the lock was taken (RFC 3339).
pub const LOCK_SINCE: &str = "dev.slipway.lock.since";
/// When the lock's first lease expires (RFC 3339); renewals extend it (see `lock.rs`).
pub const LOCK_EXPIRES: &str = "dev.slipway.lock.expires";
/// The lease's length in seconds.
pub const LOCK_LEASE: &str = "dev.slipway.lock.lease";
/// The holder's process as its kernel knows it (`BOOT_ID PID_NAMESPACE PID START_TICKS`, Linux):
/// a deploy on the same kernel and in the same pid namespace can prove the holder is gone.
pub const LOCK_PROCESS: &str = "dev.slipway.lock.process";

/// Compose's project label.
pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
/// Compose's service label.
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";
/// Compose's container number label.
pub const COMPOSE_NUMBER: &str = "com.docker.compose.container-number";
/// Compose's one-off label (`True` / `False`).
pub const COMPOSE_ONEOFF: &str = "com.docker.compose.oneoff";
/// Compose's config hash label (Compose v2 lists only containers that carry one).
pub const COMPOSE_CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// Compose's network label (on networks it creates).
pub const COMPOSE_NETWORK: &str = "com.docker.compose.network";
/// Compose's volume label (on volumes it creates).
pub const COMPOSE_VOLUME: &str = "com.docker.compose.volume";

/// The role a container was created for. Docker labels cannot change after creation, so the
/// label says what the container was created as (`current`, or `oneoff` for tasks); `status`
/// derives the effective role (current / previous / failed) from the release records and the
/// container's state, and reports it with the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Serving (or meant to serve) the current release.
    Current,
    /// A stopped container of an earlier release, kept for rollback and inspection.
    Previous,
    /// The container of a failed release, stopped and kept for inspection.
    Failed,
    /// A one-off task.
    Oneoff,
}

impl Role {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Current => "current",
            Role::Previous => "previous",
            Role::Failed => "failed",
            Role::Oneoff => "oneoff",
        }
    }
}

/// The identity of one container slipway creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerIdentity<'a> {
    /// Project.
    pub project: &'a str,
    /// Service.
    pub service: &'a str,
    /// Release id.
    pub release: &'a str,
    /// Config hash of the service.
    pub config_hash: &'a str,
    /// Replica number (from 1).
    pub replica: u32,
    /// One-off task container.
    pub oneoff: bool,
}

impl ContainerIdentity<'_> {
    /// The engine-side container name: `PROJECT-SERVICE-REPLICA-rRELEASE` (unique per release so
    /// the new container can start beside the old one).
    pub fn container_name(&self) -> String {
        container_name(self.project, self.service, self.replica, self.release)
    }

    /// The labels for the container (slipway's and Compose's).
    pub fn labels(&self) -> BTreeMap<String, String> {
        let role = if self.oneoff { Role::Oneoff } else { Role::Current };
        let mut l = BTreeMap::new();
        l.insert(PROJECT.to_string(), self.project.to_string());
        l.insert(SERVICE.to_string(), self.service.to_string());
        l.insert(RELEASE.to_string(), self.release.to_string());
        l.insert(CONFIG_HASH.to_string(), self.config_hash.to_string());
        l.insert(REPLICA.to_string(), self.replica.to_string());
        l.insert(ROLE.to_string(), role.as_str().to_string());
        if self.oneoff {
            l.insert(ONEOFF.to_string(), "true".to_string());
        }
        l.insert(COMPOSE_PROJECT.to_string(), self.project.to_string());
        l.insert(COMPOSE_SERVICE.to_string(), self.service.to_string());
        l.insert(COMPOSE_NUMBER.to_string(), self.replica.to_string());
        l.insert(COMPOSE_CONFIG_HASH.to_string(), self.config_hash.to_string());
        l.insert(COMPOSE_ONEOFF.to_string(), if self.oneoff { "True" } else { "False" }.to_string());
        l
    }
}

/// `PROJECT-SERVICE-REPLICA-rRELEASE`.
pub fn container_name(project: &str, service: &str, replica: u32, release: &str) -> String {
    format!("{project}-{service}-{replica}-r{release}")
}

/// The name of a project's deploy-lock container.
pub fn lock_name(project: &str) -> String {
    format!("{project}-slipway-deploy-lock")
}

/// The name of the volume holding one release record.
pub fn record_volume_name(project: &str, release: &str) -> String {
    format!("{project}-slipway-release-{release}")
}

/// A label filter value `key=value` for the engine's list calls.
pub fn filter(key: &str, value: &str) -> String {
    format!("{key}={value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_carry_slipway_and_compose_keys() {
        let id = ContainerIdentity {
            project: "shop",
            service: "web",
            release: "3",
            config_hash: "abc",
            replica: 2,
            oneoff: false,
        };
        let l = id.labels();
        assert_eq!(l[PROJECT], "shop");
        assert_eq!(l[COMPOSE_PROJECT], "shop");
        assert_eq!(l[COMPOSE_SERVICE], "web");
        assert_eq!(l[COMPOSE_NUMBER], "2");
        assert_eq!(l[COMPOSE_CONFIG_HASH], "abc");
        assert_eq!(l[COMPOSE_ONEOFF], "False");
        assert_eq!(l[ROLE], "current");
        assert!(!l.contains_key(ONEOFF));
        assert_eq!(id.container_name(), "shop-web-2-r3");
        let task = ContainerIdentity { oneoff: true, ..id };
        assert_eq!(task.labels()[ROLE], "oneoff");
        assert_eq!(task.labels()[COMPOSE_ONEOFF], "True");
    }
}
