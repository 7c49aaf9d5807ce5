//! slipway's own settings, `x-slipway` at the top level and in services, typed with
//! `deny_unknown_fields` and validated when the compose file loads (file, line and key of a
//! misspelt key or a bad duration). `StackSpec.slipway` / `ServiceSpec.extensions["x-slipway"]`
//! keep the raw values for the deploy code; `StackSpec.settings` / `ServiceSpec.settings` are the
//! typed view. The nested objects of other rooms (`traefik`, `hooks`, `route`, `backup`) are
//! kept as JSON here and read by their rooms.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::error::ComposeError;
use super::yaml::{KeyPath, Seg, Sources};

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| crate::duration::parse(&s).map_err(serde::de::Error::custom)).transpose()
}

mod as_text {
    //! Durations serialised as compose writes them.
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&crate::duration::format(*d)),
            None => s.serialize_none(),
        }
    }
}

/// Top-level `x-slipway`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StackSettings {
    /// The managed Traefik edge (route room).
    pub traefik: Option<serde_json::Value>,
    /// Deploy hooks (deploy room); `hooks.timeout` is checked here.
    pub hooks: Option<serde_json::Value>,
    /// The kind of target `slipway deploy` uses without `--target` (swarm room).
    pub target: Option<DeployTarget>,
    /// Kubernetes rendering settings, e.g. `volumes.<key>.size` (kubernetes room).
    pub kubernetes: Option<serde_json::Value>,
}

/// `x-slipway.target`: where the stack deploys by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DeployTarget {
    /// One Docker engine (the default).
    Host,
    /// A Docker Swarm, through a manager.
    Swarm,
    /// A Kubernetes namespace.
    Kubernetes,
}

/// A service's `x-slipway`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServiceSettings {
    /// How long a container without healthcheck must keep running to count as healthy.
    #[serde(
        default,
        deserialize_with = "opt_duration",
        serialize_with = "as_text::serialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_running: Option<Duration>,
    /// The bound of the health gate.
    #[serde(
        default,
        deserialize_with = "opt_duration",
        serialize_with = "as_text::serialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub health_timeout: Option<Duration>,
    /// The bound of a one-off task (default 10 minutes).
    #[serde(
        default,
        deserialize_with = "opt_duration",
        serialize_with = "as_text::serialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// Probes of the health gate (`http://...`, `tcp://...`, ...).
    pub probes: Option<Vec<String>>,
    /// A one-off task (run to completion before the services).
    pub oneoff: Option<bool>,
    /// Routing through the managed edge (route room).
    pub route: Option<serde_json::Value>,
    /// Backup settings (backup room).
    pub backup: Option<serde_json::Value>,
}

fn typed<T: serde::de::DeserializeOwned>(
    v: &serde_json::Value,
    base: KeyPath,
    sources: &Sources,
) -> Result<T, ComposeError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let mut path = base;
        for s in e.path().iter() {
            match s {
                serde_path_to_error::Segment::Map { key } => path.0.push(Seg::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => path.0.push(Seg::Index(*index)),
                _ => {}
            }
        }
        let message = e.into_inner().to_string();
        ComposeError::InvalidValue { at: sources.locate(&path), message: format!("x-slipway: {message}") }
    })
}

/// The typed view of the top-level `x-slipway` (`Null` = none).
pub fn stack_settings(v: &serde_json::Value, sources: &Sources) -> Result<StackSettings, ComposeError> {
    if v.is_null() {
        return Ok(StackSettings::default());
    }
    let s: StackSettings = typed(v, KeyPath::parse("x-slipway"), sources)?;
    if let Some(t) = s.hooks.as_ref().and_then(|h| h.get("timeout")) {
        let text = t.as_str().unwrap_or_default();
        crate::duration::parse(text).map_err(|e| ComposeError::InvalidValue {
            at: sources.locate(&KeyPath::parse("x-slipway.hooks.timeout")),
            message: e.to_string(),
        })?;
    }
    Ok(s)
}

/// The typed view of service `name`'s `x-slipway` (`None` = none).
pub fn service_settings(
    name: &str,
    v: Option<&serde_json::Value>,
    sources: &Sources,
) -> Result<ServiceSettings, ComposeError> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(ServiceSettings::default()),
        Some(v) => typed(v, KeyPath::parse("services").key(name).key("x-slipway"), sources),
    }
}
