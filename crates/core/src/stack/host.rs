//! The container settings of a service beyond image, command and environment: what `docker
//! compose up` puts into the engine's `HostConfig` and `Config` (capabilities, limits, DNS,
//! devices, logging, ...), plus per-mount options, secrets/configs and the `build:` section.
//! Read by the compose room, mapped to the create body by `deploy/container_spec`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Container settings written as service keys (all optional; `Default` = the engine's defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct HostSettings {
    /// `hostname`.
    pub hostname: Option<String>,
    /// `domainname`.
    pub domainname: Option<String>,
    /// `expose`: container ports (`80`, `8080/udp`, ranges), not published.
    pub expose: Vec<String>,
    /// `cap_add`.
    pub cap_add: Vec<String>,
    /// `cap_drop`.
    pub cap_drop: Vec<String>,
    /// `read_only`.
    pub read_only: bool,
    /// `network_mode` (`host`, `none`, `service:NAME`, `container:NAME`, `bridge`).
    pub network_mode: Option<String>,
    /// `security_opt`.
    pub security_opt: Vec<String>,
    /// `tmpfs` (short syntax, `PATH[:OPTIONS]`).
    pub tmpfs: Vec<String>,
    /// `links` (`SERVICE[:ALIAS]`).
    pub links: Vec<String>,
    /// `external_links`.
    pub external_links: Vec<String>,
    /// `dns`.
    pub dns: Vec<String>,
    /// `dns_search`.
    pub dns_search: Vec<String>,
    /// `dns_opt`.
    pub dns_opt: Vec<String>,
    /// `sysctls`.
    pub sysctls: BTreeMap<String, String>,
    /// `ulimits`: name -> (soft, hard).
    pub ulimits: BTreeMap<String, (i64, i64)>,
    /// The `ulimits` written as one number (`nproc: 65535`) rather than `{soft, hard}`.
    pub ulimits_single: Vec<String>,
    /// `platform`.
    pub platform: Option<String>,
    /// `logging`.
    pub logging: Option<LoggingSpec>,
    /// `pids_limit` (or `deploy.resources.limits.pids`).
    pub pids_limit: Option<i64>,
    /// `runtime`.
    pub runtime: Option<String>,
    /// `stdin_open`.
    pub stdin_open: bool,
    /// `tty`.
    pub tty: bool,
    /// `privileged`.
    pub privileged: bool,
    /// `mem_limit` in bytes (or `deploy.resources.limits.memory`).
    pub mem_limit: Option<i64>,
    /// `memswap_limit` in bytes (`-1` = unlimited).
    pub memswap_limit: Option<i64>,
    /// `mem_reservation` in bytes (or `deploy.resources.reservations.memory`).
    pub mem_reservation: Option<i64>,
    /// `mem_swappiness`.
    pub mem_swappiness: Option<i64>,
    /// `cpus` (or `deploy.resources.limits.cpus`).
    pub cpus: Option<f64>,
    /// `cpu_shares`.
    pub cpu_shares: Option<i64>,
    /// `cpu_period`.
    pub cpu_period: Option<i64>,
    /// `cpu_quota`.
    pub cpu_quota: Option<i64>,
    /// `cpuset`.
    pub cpuset: Option<String>,
    /// `shm_size` in bytes.
    pub shm_size: Option<i64>,
    /// `devices`.
    pub devices: Vec<DeviceSpec>,
    /// `gpus` (`all` or a list): device requests with the `gpu` capability.
    pub gpus: Vec<DeviceRequestSpec>,
    /// `device_cgroup_rules`.
    pub device_cgroup_rules: Vec<String>,
    /// `group_add`.
    pub group_add: Vec<String>,
    /// `ipc`.
    pub ipc: Option<String>,
    /// `pid`.
    pub pid: Option<String>,
    /// `uts`.
    pub uts: Option<String>,
    /// `cgroup` (`host` or `private`).
    pub cgroup: Option<String>,
    /// `cgroup_parent`.
    pub cgroup_parent: Option<String>,
    /// `oom_kill_disable`.
    pub oom_kill_disable: Option<bool>,
    /// `oom_score_adj`.
    pub oom_score_adj: Option<i64>,
    /// `userns_mode`.
    pub userns_mode: Option<String>,
    /// `mac_address`.
    pub mac_address: Option<String>,
    /// `storage_opt`.
    pub storage_opt: BTreeMap<String, String>,
    /// `annotations`.
    pub annotations: BTreeMap<String, String>,
}

/// `logging`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoggingSpec {
    /// The driver (`json-file`, `local`, `syslog`, ...); `None` = the engine's default.
    pub driver: Option<String>,
    /// Driver options.
    pub options: BTreeMap<String, String>,
}

/// One `devices` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeviceSpec {
    /// Host device path.
    pub source: String,
    /// Path in the container.
    pub target: String,
    /// Cgroup permissions (`rwm`).
    pub permissions: String,
}

/// One device request (`deploy.resources.reservations.devices` or `gpus`): the engine's
/// `HostConfig.DeviceRequests` entry. Fields in the order `docker compose config` prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct DeviceRequestSpec {
    /// Capabilities the device must have (one AND-set: `[gpu, compute]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Driver (`nvidia`, `cdi`); empty = the engine picks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// How many devices; `-1` = all (`count: all`, or neither `count` nor `device_ids`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Specific device IDs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_ids: Vec<String>,
    /// Driver options.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

/// Options of one mount beyond kind, source, target and read-only (long syntax, `:z`/`:Z`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct MountOptions {
    /// Bind propagation (`rprivate`, `shared`, ...).
    pub propagation: Option<String>,
    /// SELinux relabelling: `z` (shared) or `Z` (private).
    pub selinux: Option<String>,
    /// Volume: do not copy the image's content into an empty volume.
    pub nocopy: bool,
    /// Volume: mount a sub-path of the volume.
    pub subpath: Option<String>,
    /// Tmpfs size in bytes.
    pub tmpfs_size: Option<i64>,
    /// Tmpfs mode, the number as written (`1777`), passed to the engine as Compose passes it.
    pub tmpfs_mode: Option<i64>,
}

/// Where a secret or config comes from (top-level `secrets:` / `configs:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FileObjectSource {
    /// `file:` (absolute path after resolution).
    File(String),
    /// `environment:` (the variable's name; its value is read at deploy time, never stored).
    Environment(String),
    /// `content:` (configs only).
    Content(String),
    /// `external: true` (Swarm objects; not available on a plain engine).
    External(String),
}

/// A top-level secret or config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileObjectSpec {
    /// The engine-side name.
    pub name: String,
    /// Where the content comes from.
    pub source: FileObjectSource,
    /// The value of an `environment:` source, read from the project's environment when the file
    /// loads (`None` when the variable is not set). Never serialised (records, `--json`) nor
    /// shown (`Debug` of [`crate::Secret`]); the deploy room seals it with the environment values.
    #[serde(skip)]
    pub value: Option<crate::secret::Secret>,
}

/// A service's use of a secret or config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileMountSpec {
    /// The key in the top-level `secrets:` / `configs:`.
    pub source: String,
    /// Absolute path in the container (`/run/secrets/NAME` for secrets, `/NAME` for configs).
    pub target: String,
    /// `mode` (octal), when given.
    pub mode: Option<u32>,
    /// `target` as written (`None` when not written), as `docker compose config` prints it.
    #[serde(default)]
    pub written_target: Option<String>,
    /// `uid` (a number, as written), for contents copied into the container.
    #[serde(default)]
    pub uid: Option<String>,
    /// `gid` (a number, as written), for contents copied into the container.
    #[serde(default)]
    pub gid: Option<String>,
}

/// The `build:` section of a service (paths absolute).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct BuildSpec {
    /// Build context directory (or URL).
    pub context: String,
    /// Dockerfile path relative to the context.
    pub dockerfile: Option<String>,
    /// An inline Dockerfile.
    pub dockerfile_inline: Option<String>,
    /// Build args (`None` = take from the environment).
    pub args: BTreeMap<String, Option<String>>,
    /// Target stage.
    pub target: Option<String>,
    /// Image labels.
    pub labels: BTreeMap<String, String>,
    /// Extra tags.
    pub tags: Vec<String>,
    /// `cache_from`.
    pub cache_from: Vec<String>,
    /// `extra_hosts` as `host:ip`.
    pub extra_hosts: Vec<String>,
    /// `network`.
    pub network: Option<String>,
    /// `shm_size` in bytes.
    pub shm_size: Option<i64>,
    /// `platforms`.
    pub platforms: Vec<String>,
    /// `no_cache`.
    pub no_cache: bool,
    /// `pull`.
    pub pull: bool,
    /// The keys slipway's builder (the engine's classic build API) does not apply, as written
    /// (`ssh`, `secrets`, `cache_to`, `additional_contexts`, ...): rendered by `config`,
    /// refused by `slipway build` with the reason.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unapplied: BTreeMap<String, serde_json::Value>,
}
