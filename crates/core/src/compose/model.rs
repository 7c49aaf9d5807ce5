//! The serde shapes of the compose keys slipway reads (after interpolation and merging).
//! Unknown keys are caught with their line by `schema.rs` before these run; the keys a struct
//! does not name land in its `rest` map and are read by `host.rs` (container settings). Scalars accept what compose accepts (`A: 1` for a string,
//! `replicas: "2"` after interpolation for a number).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_yaml_ng::Value;

/// A whole compose file (or several merged).
#[derive(Debug, Deserialize)]
pub struct ComposeModel {
    /// Obsolete; accepted and ignored as compose does.
    pub version: Option<Value>,
    /// The project name.
    pub name: Option<Str>,
    /// Services.
    pub services: Option<BTreeMap<String, Option<Service>>>,
    /// Networks.
    pub networks: Option<BTreeMap<String, Option<Network>>>,
    /// Volumes.
    pub volumes: Option<BTreeMap<String, Option<Volume>>>,
    /// Secrets.
    pub secrets: Option<BTreeMap<String, Option<Value>>>,
    /// Configs.
    pub configs: Option<BTreeMap<String, Option<Value>>>,
}

/// One service.
#[derive(Debug, Default, Deserialize)]
pub struct Service {
    pub image: Option<Str>,
    pub build: Option<Value>,
    pub command: Option<StrOrList>,
    pub entrypoint: Option<StrOrList>,
    pub environment: Option<ListOrMap>,
    pub env_file: Option<EnvFiles>,
    pub ports: Option<Vec<Port>>,
    pub volumes: Option<Vec<Mount>>,
    pub networks: Option<ServiceNetworks>,
    pub depends_on: Option<DependsOn>,
    pub healthcheck: Option<Healthcheck>,
    pub labels: Option<ListOrMap>,
    pub restart: Option<Str>,
    pub user: Option<Str>,
    pub working_dir: Option<Str>,
    pub stop_grace_period: Option<Str>,
    pub stop_signal: Option<Str>,
    pub pull_policy: Option<Str>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub init: Option<bool>,
    pub extra_hosts: Option<ListOrMap>,
    pub profiles: Option<Vec<Str>>,
    pub deploy: Option<Deploy>,
    /// Every other key of the specification, read by `host.rs`.
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// A string; numbers and booleans are taken as their text, as compose does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str(pub String);

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Str(s)),
            Value::Number(n) => Ok(Str(n.to_string())),
            Value::Bool(b) => Ok(Str(b.to_string())),
            other => Err(serde::de::Error::custom(format!("expected a string, found {}", kind(&other)))),
        }
    }
}

/// A string or `null` (environment values: `A:` means "take it from the environment").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptStr(pub Option<String>);

impl<'de> Deserialize<'de> for OptStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(OptStr(None)),
            Value::String(s) => Ok(OptStr(Some(s))),
            Value::Number(n) => Ok(OptStr(Some(n.to_string()))),
            Value::Bool(b) => Ok(OptStr(Some(b.to_string()))),
            other => Err(serde::de::Error::custom(format!("expected a string, found {}", kind(&other)))),
        }
    }
}

/// The YAML kind of a value, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// `command`/`entrypoint`: a string (split like a shell) or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub enum StrOrList {
    /// The string form.
    One(Str),
    /// The list form.
    Many(Vec<Str>),
}

/// `environment`, `labels`, `extra_hosts`: a list of `K=V` or a mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a list of `KEY=VALUE` strings or a mapping")]
pub enum ListOrMap {
    /// `- K=V`.
    List(Vec<Str>),
    /// `K: V`.
    Map(BTreeMap<String, OptStr>),
}

/// `env_file`: a path, or a list of paths / `{path, required}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a path, or a list of paths or {path, required}")]
pub enum EnvFiles {
    /// One path.
    One(Str),
    /// Several.
    Many(Vec<EnvFileEntry>),
}

/// One `env_file` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a path or {path, required}")]
pub enum EnvFileEntry {
    /// A path (required).
    Path(Str),
    /// The long form.
    Long(EnvFileLong),
}

/// `{path, required}`.
#[derive(Debug, Clone, Deserialize)]
pub struct EnvFileLong {
    pub path: Str,
    #[serde(default, deserialize_with = "flex_bool")]
    pub required: Option<bool>,
    /// `raw`: values taken as written (no quotes, no interpolation); absent: dotenv.
    pub format: Option<Str>,
}

/// A port: short string/number or long mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a port string such as \"8080:80\" or a mapping with `target`")]
pub enum Port {
    /// `"[ip:][published:]target[/proto]"`.
    Short(Str),
    /// The long syntax.
    Long(PortLong),
}

/// The long port syntax.
#[derive(Debug, Clone, Deserialize)]
pub struct PortLong {
    #[serde(deserialize_with = "flex_u16")]
    pub target: Option<u16>,
    pub published: Option<Str>,
    pub host_ip: Option<Str>,
    pub protocol: Option<Str>,
    pub mode: Option<Str>,
}

/// A mount: short string or long mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a volume string such as \"data:/data\" or a mapping with `type` and `target`")]
pub enum Mount {
    /// `"[source:]target[:mode]"`.
    Short(Str),
    /// The long syntax.
    Long(MountLong),
}

/// The long volume syntax.
#[derive(Debug, Clone, Deserialize)]
pub struct MountLong {
    #[serde(rename = "type")]
    pub kind: Str,
    pub source: Option<Str>,
    pub target: Str,
    #[serde(default, deserialize_with = "flex_bool")]
    pub read_only: Option<bool>,
    /// `bind`, `volume`, `tmpfs`, `consistency`.
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// Service `networks`: list or map.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a list of network names or a mapping")]
pub enum ServiceNetworks {
    /// Names.
    List(Vec<Str>),
    /// With settings.
    Map(BTreeMap<String, Option<ServiceNetworkLong>>),
}

/// One network of a service.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceNetworkLong {
    pub aliases: Option<Vec<Str>>,
    pub ipv4_address: Option<Str>,
    pub ipv6_address: Option<Str>,
    #[serde(default, deserialize_with = "flex_i64")]
    pub priority: Option<i64>,
}

/// `depends_on`: list or map.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a list of service names or a mapping with `condition`")]
pub enum DependsOn {
    /// Names (condition `service_started`).
    List(Vec<Str>),
    /// With conditions.
    Map(BTreeMap<String, DependsOnLong>),
}

/// One `depends_on` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct DependsOnLong {
    pub condition: Option<Str>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub required: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub restart: Option<bool>,
}

/// `healthcheck`.
#[derive(Debug, Clone, Deserialize)]
pub struct Healthcheck {
    pub test: Option<StrOrList>,
    pub interval: Option<Str>,
    pub timeout: Option<Str>,
    #[serde(default, deserialize_with = "flex_u32")]
    pub retries: Option<u32>,
    pub start_period: Option<Str>,
    pub start_interval: Option<Str>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub disable: Option<bool>,
}

/// `deploy`.
#[derive(Debug, Clone, Deserialize)]
pub struct Deploy {
    #[serde(default, deserialize_with = "flex_u32")]
    pub replicas: Option<u32>,
    pub update_config: Option<UpdateConfig>,
    pub rollback_config: Option<UpdateConfig>,
    pub resources: Option<Resources>,
    pub labels: Option<ListOrMap>,
    /// `placement`, `restart_policy`, `mode`, `endpoint_mode`: not applicable on one host.
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// `deploy.update_config` / `rollback_config`.
#[derive(Debug, Clone, Deserialize)]
pub struct UpdateConfig {
    #[serde(default, deserialize_with = "flex_u32")]
    pub parallelism: Option<u32>,
    pub delay: Option<Str>,
    pub failure_action: Option<Str>,
    pub monitor: Option<Str>,
    pub order: Option<Str>,
}

/// `deploy.resources`.
#[derive(Debug, Clone, Deserialize)]
pub struct Resources {
    pub limits: Option<Limits>,
    pub reservations: Option<Reservations>,
}

/// `deploy.resources.reservations`.
#[derive(Debug, Clone, Deserialize)]
pub struct Reservations {
    pub cpus: Option<Str>,
    pub memory: Option<Str>,
    /// Device requests (read by `device_requests`).
    pub devices: Option<serde_yaml_ng::Value>,
    /// Kept as written and noted (a Swarm node resource).
    pub generic_resources: Option<serde_yaml_ng::Value>,
}

/// `deploy.resources.limits`.
#[derive(Debug, Clone, Deserialize)]
pub struct Limits {
    pub cpus: Option<Str>,
    pub memory: Option<Str>,
    #[serde(default, deserialize_with = "flex_i64")]
    pub pids: Option<i64>,
}

/// A top-level network.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Network {
    #[serde(default, deserialize_with = "flex_external")]
    pub external: Option<bool>,
    pub name: Option<Str>,
    pub driver: Option<Str>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub internal: Option<bool>,
    pub labels: Option<ListOrMap>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub attachable: Option<bool>,
    #[serde(default, deserialize_with = "flex_bool")]
    pub enable_ipv6: Option<bool>,
    pub driver_opts: Option<BTreeMap<String, Str>>,
    pub ipam: Option<Value>,
}

/// A top-level volume.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Volume {
    #[serde(default, deserialize_with = "flex_external")]
    pub external: Option<bool>,
    pub name: Option<Str>,
    pub driver: Option<Str>,
    pub labels: Option<ListOrMap>,
    pub driver_opts: Option<BTreeMap<String, Str>>,
}

fn flex<'de, D: Deserializer<'de>, T: std::str::FromStr>(d: D, what: &str) -> Result<Option<T>, D::Error> {
    let v = Value::deserialize(d)?;
    flex_value(v, what).map_err(serde::de::Error::custom)
}

fn flex_value<T: std::str::FromStr>(v: Value, what: &str) -> Result<Option<T>, String> {
    let text = match &v {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => return Err(format!("expected {what}, found {}", kind(other))),
    };
    text.parse::<T>().map(Some).map_err(|_| format!("expected {what}, found `{text}`"))
}

/// `external: true` or the obsolete `external: {name: ...}` (true).
fn flex_external<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Value::deserialize(d)? {
        Value::Mapping(_) => Ok(Some(true)),
        other => flex_value(other, "true or false").map_err(serde::de::Error::custom),
    }
}

fn flex_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    flex(d, "true or false")
}
fn flex_u16<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    flex(d, "a port number")
}
fn flex_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    flex(d, "a non-negative integer")
}
fn flex_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    flex(d, "an integer")
}
