//! The keys slipway knows, position by position: unknown or unsupported keys are reported with
//! their file and line (never silently dropped); `x-` extension keys are allowed in every object
//! and taken out of the tree here (service-level and top-level ones are kept as data).

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::error::ComposeError;
use super::yaml::{KeyPath, Sources};

/// What may appear under a key.
enum Child {
    /// A scalar or free-form content (labels, environment, ...): not checked here.
    Leaf,
    /// An object with known keys.
    Obj(&'static [(&'static str, Child)]),
    /// A list whose mapping items are objects with known keys.
    ListOf(&'static [(&'static str, Child)]),
    /// A mapping (or a list of names) whose mapping values are objects with known keys.
    MapOf(&'static [(&'static str, Child)]),
}

use Child::{Leaf, ListOf, MapOf, Obj};

const UPDATE: &[(&str, Child)] =
    &[("parallelism", Leaf), ("delay", Leaf), ("failure_action", Leaf), ("monitor", Leaf), ("order", Leaf)];

const DEPLOY: &[(&str, Child)] = &[
    ("replicas", Leaf),
    ("update_config", Obj(UPDATE)),
    ("rollback_config", Obj(UPDATE)),
    ("resources", Obj(&[("limits", Obj(&[("cpus", Leaf), ("memory", Leaf), ("pids", Leaf)]))])),
    ("labels", Leaf),
];

const HEALTHCHECK: &[(&str, Child)] = &[
    ("test", Leaf),
    ("interval", Leaf),
    ("timeout", Leaf),
    ("retries", Leaf),
    ("start_period", Leaf),
    ("start_interval", Leaf),
    ("disable", Leaf),
];

const SERVICE: &[(&str, Child)] = &[
    ("image", Leaf),
    ("build", Leaf),
    ("command", Leaf),
    ("entrypoint", Leaf),
    ("environment", Leaf),
    ("env_file", ListOf(&[("path", Leaf), ("required", Leaf)])),
    ("ports", ListOf(&[("target", Leaf), ("published", Leaf), ("host_ip", Leaf), ("protocol", Leaf), ("mode", Leaf)])),
    ("volumes", ListOf(&[("type", Leaf), ("source", Leaf), ("target", Leaf), ("read_only", Leaf)])),
    ("networks", MapOf(&[("aliases", Leaf)])),
    ("depends_on", MapOf(&[("condition", Leaf), ("required", Leaf), ("restart", Leaf)])),
    ("healthcheck", Obj(HEALTHCHECK)),
    ("labels", Leaf),
    ("restart", Leaf),
    ("user", Leaf),
    ("working_dir", Leaf),
    ("stop_grace_period", Leaf),
    ("stop_signal", Leaf),
    ("pull_policy", Leaf),
    ("init", Leaf),
    ("extra_hosts", Leaf),
    ("profiles", Leaf),
    ("deploy", Obj(DEPLOY)),
];

const NETWORK: &[(&str, Child)] =
    &[("external", Leaf), ("name", Leaf), ("driver", Leaf), ("internal", Leaf), ("labels", Leaf)];

const VOLUME: &[(&str, Child)] = &[("external", Leaf), ("name", Leaf), ("driver", Leaf), ("labels", Leaf)];

const TOP: &[(&str, Child)] = &[
    ("version", Leaf),
    ("name", Leaf),
    ("services", MapOf(SERVICE)),
    ("networks", MapOf(NETWORK)),
    ("volumes", MapOf(VOLUME)),
];

/// `x-` keys taken out of the tree.
#[derive(Debug, Default)]
pub struct Extensions {
    /// Top-level `x-*` keys.
    pub top: BTreeMap<String, Value>,
    /// Service-level `x-*` keys, by service.
    pub services: BTreeMap<String, BTreeMap<String, Value>>,
}

/// Check every key of `root` against the known shapes; take `x-` keys out.
pub fn check(root: &mut Value, sources: &Sources) -> Result<Extensions, ComposeError> {
    let mut ext = Extensions::default();
    let top = obj(root, TOP, &KeyPath::default(), sources)?;
    ext.top = top;
    if let Some(Value::Mapping(services)) = root.get_mut("services") {
        for (name, svc) in services.iter_mut() {
            let name = name.as_str().unwrap_or_default().to_string();
            let path = KeyPath::parse("services").key(&name);
            let found = obj(svc, SERVICE, &path, sources)?;
            if !found.is_empty() {
                ext.services.insert(name, found);
            }
        }
    }
    Ok(ext)
}

/// Check one object; returns its `x-` keys. Children are checked too, except services (done by
/// the caller so their extensions can be kept).
fn obj(
    v: &mut Value,
    keys: &'static [(&'static str, Child)],
    path: &KeyPath,
    sources: &Sources,
) -> Result<BTreeMap<String, Value>, ComposeError> {
    let mut ext = BTreeMap::new();
    let Value::Mapping(m) = v else { return Ok(ext) };
    let names: Vec<Value> = m.keys().cloned().collect();
    for k in names {
        let key = match &k {
            Value::String(s) => s.clone(),
            other => {
                let at = sources.locate(path);
                return Err(ComposeError::InvalidValue {
                    at,
                    message: format!("keys must be strings, found {}", super::model::kind(other)),
                });
            }
        };
        if key.starts_with("x-") {
            if let Some(x) = m.remove(&k) {
                ext.insert(key, x);
            }
            continue;
        }
        let Some((_, child)) = keys.iter().find(|(n, _)| *n == key) else {
            return Err(ComposeError::UnknownKey { at: sources.locate(&path.key(&key)), key });
        };
        let child_path = path.key(&key);
        let Some(cv) = m.get_mut(&k) else { continue };
        match child {
            Leaf => {}
            Obj(inner) => {
                obj(cv, inner, &child_path, sources)?;
            }
            ListOf(inner) => {
                if let Value::Sequence(items) = cv {
                    for (i, item) in items.iter_mut().enumerate() {
                        obj(item, inner, &child_path.index(i), sources)?;
                    }
                }
            }
            MapOf(inner) => {
                // Services are checked by `check` so that their extensions are kept.
                if path.0.is_empty() && key == "services" {
                    continue;
                }
                if let Value::Mapping(entries) = cv {
                    for (name, item) in entries.iter_mut() {
                        let name = name.as_str().unwrap_or_default().to_string();
                        obj(item, inner, &child_path.key(&name), sources)?;
                    }
                }
            }
        }
    }
    Ok(ext)
}
