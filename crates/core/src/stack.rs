//! `StackSpec` / `ServiceSpec`: what a compose file describes after interpolation, merging and
//! profile selection. The compose room produces it; the deployer, health and backup rooms read it.
//! Maps are `BTreeMap`s so that serialisation (and the config hash derived from it) is stable.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod host;
pub use host::{
    BuildSpec, DeviceRequestSpec, DeviceSpec, FileMountSpec, FileObjectSource, FileObjectSpec, HostSettings,
    LoggingSpec, MountOptions,
};

/// A whole stack (one compose project).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StackSpec {
    /// The project name (`name:` or `-p`).
    pub name: String,
    /// Services by name.
    pub services: BTreeMap<String, ServiceSpec>,
    /// Top-level networks by key.
    pub networks: BTreeMap<String, NetworkSpec>,
    /// Top-level volumes by key.
    pub volumes: BTreeMap<String, VolumeSpec>,
    /// slipway's own settings (`x-slipway` at the top level), kept as data.
    pub slipway: serde_json::Value,
    /// The project directory (the first compose file's folder): relative paths resolve against it.
    #[serde(default)]
    pub project_dir: String,
    /// Top-level secrets by key.
    #[serde(default)]
    pub secrets: BTreeMap<String, FileObjectSpec>,
    /// Top-level configs by key.
    #[serde(default)]
    pub configs: BTreeMap<String, FileObjectSpec>,
    /// Every top-level `x-*` key (`x-slipway` among them), as `docker compose config` keeps them.
    #[serde(default)]
    pub extensions: BTreeMap<String, serde_json::Value>,
    /// The typed view of `x-slipway` (validated when the compose file loads).
    #[serde(default)]
    pub settings: crate::compose::StackSettings,
}

/// One service.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServiceSpec {
    /// The service name.
    pub name: String,
    /// The image reference as written (after interpolation); deploys require it.
    pub image: Option<String>,
    /// `command` as a list (a string is split as compose splits it).
    pub command: Option<Vec<String>>,
    /// `entrypoint` as a list.
    pub entrypoint: Option<Vec<String>>,
    /// Environment: `environment` merged over `env_file` contents. `None` = set but no value.
    pub environment: BTreeMap<String, Option<String>>,
    /// Published and exposed ports.
    pub ports: Vec<PortSpec>,
    /// Mounts.
    pub volumes: Vec<MountSpec>,
    /// Networks the service joins, with aliases.
    pub networks: BTreeMap<String, ServiceNetwork>,
    /// Dependencies with their conditions.
    pub depends_on: BTreeMap<String, Dependency>,
    /// The healthcheck, when one is defined (and not disabled).
    pub healthcheck: Option<HealthcheckSpec>,
    /// `healthcheck: {disable: true}`: the image's own healthcheck is switched off too.
    #[serde(default)]
    pub healthcheck_disabled: bool,
    /// Container labels.
    pub labels: BTreeMap<String, String>,
    /// Restart policy (`no`, `always`, `on-failure[:N]`, `unless-stopped`).
    pub restart: Option<String>,
    /// `user`.
    pub user: Option<String>,
    /// `working_dir`.
    pub working_dir: Option<String>,
    /// `stop_grace_period`.
    #[serde(with = "opt_duration")]
    pub stop_grace_period: Option<Duration>,
    /// `stop_signal`.
    pub stop_signal: Option<String>,
    /// `init`.
    pub init: Option<bool>,
    /// `pull_policy`: how the deployer turns the image's tag into a digest (see [`PullPolicy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<PullPolicy>,
    /// `extra_hosts` as `host:ip` strings.
    pub extra_hosts: Vec<String>,
    /// `profiles`.
    pub profiles: Vec<String>,
    /// `deploy` settings.
    pub deploy: DeploySpec,
    /// `x-*` extension keys of the service (`x-slipway` among them), kept as data.
    pub extensions: BTreeMap<String, serde_json::Value>,
    /// `container_name`: one fixed name, so the service updates stop-first with one replica.
    #[serde(default)]
    pub container_name: Option<String>,
    /// The `build:` section (used by `slipway build`; deploys use `image:`).
    #[serde(default)]
    pub build: Option<BuildSpec>,
    /// Container settings (capabilities, limits, DNS, devices, logging, ...).
    #[serde(default)]
    pub host: HostSettings,
    /// Options of mounts, by container path (long syntax and `:z`/`:Z` short modes).
    #[serde(default)]
    pub mount_options: BTreeMap<String, MountOptions>,
    /// Secrets the service mounts.
    #[serde(default)]
    pub secrets: Vec<FileMountSpec>,
    /// Configs the service mounts.
    #[serde(default)]
    pub configs: Vec<FileMountSpec>,
    /// The typed view of the service's `x-slipway` (validated when the compose file loads).
    #[serde(default)]
    pub settings: crate::compose::ServiceSettings,
}

/// A port mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PortSpec {
    /// The container port.
    pub target: u16,
    /// The host port or range (`8080`, `8080-8081`); `None` = not published to a fixed port.
    pub published: Option<String>,
    /// The host IP to bind.
    pub host_ip: Option<String>,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// `ingress` or `host`.
    pub mode: Option<String>,
}

/// The kind of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A named volume (or anonymous when `source` is `None`).
    Volume,
    /// A host path.
    Bind,
    /// A tmpfs.
    Tmpfs,
}

/// A mount of a volume, host path or tmpfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MountSpec {
    /// The kind.
    pub kind: MountKind,
    /// Volume key or host path (absolute after resolution).
    pub source: Option<String>,
    /// Path inside the container.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
    /// For binds written in the short syntax: create the host path when missing (as compose does).
    #[serde(default)]
    pub create_host_path: bool,
}

/// A service's attachment to a network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServiceNetwork {
    /// Extra DNS aliases.
    pub aliases: Vec<String>,
    /// A static IPv4 address.
    #[serde(default)]
    pub ipv4_address: Option<String>,
    /// A static IPv6 address.
    #[serde(default)]
    pub ipv6_address: Option<String>,
    /// `priority` (order of connection).
    #[serde(default)]
    pub priority: Option<i64>,
}

/// When a dependency counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyCondition {
    /// Started.
    ServiceStarted,
    /// Healthy.
    ServiceHealthy,
    /// Exited with code 0 (one-off tasks such as migrations).
    ServiceCompletedSuccessfully,
}

/// One `depends_on` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Dependency {
    /// The condition.
    pub condition: DependencyCondition,
    /// `required` (default true).
    pub required: bool,
    /// `restart` (default false).
    pub restart: bool,
}

/// A healthcheck with compose semantics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HealthcheckSpec {
    /// `["CMD", ...]` or `["CMD-SHELL", "..."]`.
    pub test: Vec<String>,
    /// Between checks (compose default 30s).
    #[serde(with = "opt_duration")]
    pub interval: Option<Duration>,
    /// Per check (default 30s).
    #[serde(with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// Consecutive failures to become unhealthy (default 3).
    pub retries: Option<u32>,
    /// Failures in this period do not count.
    #[serde(with = "opt_duration")]
    pub start_period: Option<Duration>,
    /// Interval during the start period.
    #[serde(with = "opt_duration")]
    pub start_interval: Option<Duration>,
}

/// Rollout order for a service update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    /// Start the new container, gate on health, then stop the old one.
    StartFirst,
    /// Stop the old container first.
    StopFirst,
}

/// `deploy.update_config` / `deploy.rollback_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UpdateConfig {
    /// How many containers at once.
    pub parallelism: Option<u32>,
    /// Pause between batches.
    #[serde(with = "opt_duration")]
    pub delay: Option<Duration>,
    /// `continue`, `pause` or `rollback`.
    pub failure_action: Option<String>,
    /// How long to watch after each update.
    #[serde(with = "opt_duration")]
    pub monitor: Option<Duration>,
    /// Start-first or stop-first.
    pub order: Option<UpdateOrder>,
}

/// `deploy.resources.limits`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResourceLimits {
    /// CPUs, as a number (`0.5`).
    pub cpus: Option<f64>,
    /// Memory in bytes.
    pub memory: Option<u64>,
    /// Maximum number of processes.
    pub pids: Option<i64>,
}

/// The `deploy` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeploySpec {
    /// `replicas` (default 1).
    pub replicas: Option<u32>,
    /// `update_config`.
    pub update_config: Option<UpdateConfig>,
    /// `rollback_config`.
    pub rollback_config: Option<UpdateConfig>,
    /// `resources.limits`.
    pub limits: Option<ResourceLimits>,
    /// `deploy.labels` (service labels, not container labels).
    pub labels: BTreeMap<String, String>,
    /// `resources.reservations.memory` in bytes (the container's memory reservation).
    #[serde(default)]
    pub reservation_memory: Option<u64>,
    /// `resources.reservations.cpus` (read; a Docker host reserves no CPUs).
    #[serde(default)]
    pub reservation_cpus: Option<f64>,
    /// `resources.reservations.devices` (the container's device requests).
    #[serde(default)]
    pub reservation_devices: Vec<DeviceRequestSpec>,
    /// `resources.reservations.generic_resources` as written (a Swarm node resource; a Docker
    /// host has none, so it is read and noted, not applied).
    #[serde(default)]
    pub generic_resources: Vec<serde_json::Value>,
    /// Swarm-only keys as written (`placement`, `restart_policy`, `mode`, `endpoint_mode`):
    /// read, not applied on a Docker host (a `NotApplicable` warning says why).
    #[serde(default)]
    pub swarm: BTreeMap<String, serde_json::Value>,
    /// The service has a `deploy:` section at all.
    #[serde(default)]
    pub present: bool,
}

/// A top-level network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NetworkSpec {
    /// The engine-side name (`name:` or `<project>_<key>`; the key itself when external).
    pub name: String,
    /// Must already exist.
    pub external: bool,
    /// Driver.
    pub driver: Option<String>,
    /// No outside access.
    pub internal: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `attachable`.
    #[serde(default)]
    pub attachable: bool,
    /// `enable_ipv6`.
    #[serde(default)]
    pub enable_ipv6: Option<bool>,
    /// `driver_opts`.
    #[serde(default)]
    pub driver_opts: BTreeMap<String, String>,
    /// `ipam`, as written (driver, config list of subnet/ip_range/gateway/aux_addresses, options).
    #[serde(default)]
    pub ipam: Option<serde_json::Value>,
}

/// A top-level volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VolumeSpec {
    /// The engine-side name (`name:` or `<project>_<key>`; the key itself when external).
    pub name: String,
    /// Must already exist.
    pub external: bool,
    /// Driver.
    pub driver: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `driver_opts`.
    #[serde(default)]
    pub driver_opts: BTreeMap<String, String>,
}

mod opt_duration {
    //! Durations as compose writes them (`1m30s`, `500ms`) in serialised stacks.
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string().replace(' ', "")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| humantime::parse_duration(&s).map_err(serde::de::Error::custom)).transpose()
    }
}

/// Compose's `pull_policy`, as the deployer applies it when it pins a tag to a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullPolicy {
    /// Ask the registry every time; when it cannot answer, pull through the engine; never fall
    /// back to an image that is merely present.
    Always,
    /// Use the image when the engine has it (compose's `missing` and `if_not_present`); else ask
    /// the registry.
    Missing,
    /// Only the engine's own images; a missing image is an error.
    Never,
}

impl PullPolicy {
    /// Parse compose's spelling; `build` and the periodic policies are refused (slipway never
    /// builds on a target, and pins every deploy anyway).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "always" => Ok(PullPolicy::Always),
            "missing" | "if_not_present" => Ok(PullPolicy::Missing),
            "never" => Ok(PullPolicy::Never),
            "build" => Err("`build`: slipway deploys images only; build and push them first (slipway build)".into()),
            other => Err(format!("`{other}`: use always, missing (if_not_present) or never")),
        }
    }

    /// Compose's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "always",
            PullPolicy::Missing => "missing",
            PullPolicy::Never => "never",
        }
    }
}

impl std::fmt::Debug for ServiceSpec {
    /// Every field as its JSON, but environment values replaced by `<redacted>`: `Debug` reaches
    /// logs and errors, and values there are secrets as often as not (names are kept).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.clone();
        for value in shown.environment.values_mut().filter(|v| v.is_some()) {
            *value = Some("<redacted>".into());
        }
        let json = serde_json::to_string(&shown).map_err(|_| std::fmt::Error)?;
        write!(f, "ServiceSpec {json}")
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_of_a_service_or_stack_never_shows_environment_values() {
        let mut svc = ServiceSpec { name: "app".into(), ..Default::default() };
        svc.environment.insert("DATABASE_PASSWORD".into(), Some("hunter2".into()));
        svc.environment.insert("UNSET".into(), None);
        let mut stack = StackSpec { name: "shop".into(), ..Default::default() };
        stack.services.insert("app".into(), svc.clone());
        for shown in [format!("{svc:?}"), format!("{stack:?}"), format!("{stack:#?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("DATABASE_PASSWORD"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
    }
}
