//! The keys of the Compose specification, position by position ([`super::keys`]): every key
//! that is not in the specification at its position is reported with its file, line, column and
//! key path (with "did you mean" when a valid key is close), all of them in one run; `x-`
//! extension keys are allowed in every object and taken out of the tree here (service-level and
//! top-level ones are kept as data). Top-level sections and services given with no value are
//! refused as Compose refuses them.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::error::ComposeError;
use super::keys;
use super::yaml::{KeyPath, Sources};

/// What may appear under a key.
pub enum Child {
    /// A scalar or free-form content (labels, environment, ...): not checked here.
    Leaf,
    /// An object with known keys.
    Obj(&'static [(&'static str, Child)]),
    /// An object with known keys that also allows others (`external: {name}`).
    Open(&'static [(&'static str, Child)]),
    /// A list whose mapping items are objects with known keys.
    ListOf(&'static [(&'static str, Child)]),
    /// A mapping (or a list of names) whose mapping values are objects with known keys.
    MapOf(&'static [(&'static str, Child)]),
}

use Child::{Leaf, ListOf, MapOf, Obj, Open};

const TOP: &[(&str, Child)] = &[
    ("version", Leaf),
    ("name", Leaf),
    ("include", ListOf(keys::INCLUDE)),
    ("services", MapOf(keys::SERVICE)),
    ("models", MapOf(keys::MODEL)),
    ("networks", MapOf(keys::NETWORK)),
    ("volumes", MapOf(keys::VOLUME)),
    ("secrets", MapOf(keys::SECRET)),
    ("configs", MapOf(keys::CONFIG)),
];

/// `x-` keys taken out of the tree.
#[derive(Debug, Default)]
pub struct Extensions {
    /// Top-level `x-*` keys.
    pub top: BTreeMap<String, Value>,
    /// Service-level `x-*` keys, by service.
    pub services: BTreeMap<String, BTreeMap<String, Value>>,
}

/// Check every key of `root` against the specification; take `x-` keys out. All problems are
/// returned at once, sorted by position.
pub fn check(root: &mut Value, sources: &Sources) -> Result<Extensions, ComposeError> {
    let mut ext = Extensions::default();
    let mut errors = Vec::new();
    if let Value::Mapping(m) = &*root {
        for section in ["services", "networks", "volumes", "secrets", "configs", "models"] {
            if let Some(v) = m.get(section) {
                if !v.is_mapping() {
                    errors.push(ComposeError::InvalidValue {
                        at: sources.locate(&KeyPath::parse(section)),
                        message: format!("`{section}` must be a mapping"),
                    });
                }
            }
        }
        if let Some(Value::Mapping(services)) = m.get("services") {
            for (name, svc) in services {
                let name = name.as_str().unwrap_or_default();
                if !svc.is_mapping() {
                    errors.push(ComposeError::InvalidValue {
                        at: sources.locate(&KeyPath::parse("services").key(name)),
                        message: format!("service `{name}` must be a mapping"),
                    });
                }
            }
        }
    }
    for key in ["include", "models"] {
        if root.get(key).is_some() {
            let reason = if key == "include" {
                "`include` is not resolved by slipway yet; pass the files with -f".to_string()
            } else {
                "`models` (AI model runners) do not apply to a Docker host deploy".to_string()
            };
            errors.push(ComposeError::UnsupportedKey {
                at: sources.locate(&KeyPath::parse(key)),
                key: key.into(),
                reason,
            });
        }
    }
    tags(root, &KeyPath::default(), sources, &mut errors);
    ext.top = obj(root, TOP, &KeyPath::default(), sources, &mut errors);
    if let Some(Value::Mapping(services)) = root.get_mut("services") {
        for (name, svc) in services.iter_mut() {
            let name = name.as_str().unwrap_or_default().to_string();
            let path = KeyPath::parse("services").key(&name);
            let found = obj(svc, keys::SERVICE, &path, sources, &mut errors);
            if !found.is_empty() {
                ext.services.insert(name, found);
            }
        }
    }
    match ComposeError::from_list(errors) {
        Some(e) => Err(e),
        None => Ok(ext),
    }
}

/// Tags other than `!reset` / `!override` (applied by the merge) are refused by position.
fn tags(v: &Value, path: &KeyPath, sources: &Sources, errors: &mut Vec<ComposeError>) {
    match v {
        Value::Tagged(t) => errors.push(ComposeError::UnsupportedKey {
            at: sources.locate(path),
            key: t.tag.to_string(),
            reason: "Compose knows only the `!reset` and `!override` tags".into(),
        }),
        Value::Mapping(m) => {
            for (k, v) in m {
                tags(v, &path.key(k.as_str().unwrap_or_default()), sources, errors);
            }
        }
        Value::Sequence(items) => {
            for (i, v) in items.iter().enumerate() {
                tags(v, &path.index(i), sources, errors);
            }
        }
        _ => {}
    }
}

/// The known key nearest to `key` (edit distance at most 2, or a prefix), for "did you mean".
pub fn nearest(key: &str, known: &[(&'static str, Child)]) -> Option<String> {
    known
        .iter()
        .map(|(k, _)| (distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(key.len() / 4) || (key.len() > 3 && k.starts_with(key)))
        .min()
        .map(|(_, k)| k.to_string())
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Check one object; returns its `x-` keys. Children are checked too, except services (done by
/// the caller so their extensions can be kept).
fn obj(
    v: &mut Value,
    keys: &'static [(&'static str, Child)],
    path: &KeyPath,
    sources: &Sources,
    errors: &mut Vec<ComposeError>,
) -> BTreeMap<String, Value> {
    check_obj(v, keys, false, path, sources, errors)
}

fn check_obj(
    v: &mut Value,
    keys: &'static [(&'static str, Child)],
    open: bool,
    path: &KeyPath,
    sources: &Sources,
    errors: &mut Vec<ComposeError>,
) -> BTreeMap<String, Value> {
    let mut ext = BTreeMap::new();
    let v = match v {
        Value::Tagged(t) => &mut t.value,
        other => other,
    };
    let Value::Mapping(m) = v else { return ext };
    let names: Vec<Value> = m.keys().cloned().collect();
    for k in names {
        let key = match &k {
            Value::String(s) => s.clone(),
            other => {
                errors.push(ComposeError::InvalidValue {
                    at: sources.locate(path),
                    message: format!("keys must be strings, found {}", super::model::kind(other)),
                });
                continue;
            }
        };
        if key.starts_with("x-") {
            if let Some(x) = m.remove(&k) {
                ext.insert(key, x);
            }
            continue;
        }
        let Some((_, child)) = keys.iter().find(|(n, _)| *n == key) else {
            if !open {
                let hint = nearest(&key, keys);
                errors.push(ComposeError::UnknownKey { at: sources.locate(&path.key(&key)), key, hint });
            }
            continue;
        };
        let child_path = path.key(&key);
        let Some(cv) = m.get_mut(&k) else { continue };
        let cv = match cv {
            Value::Tagged(t) => &mut t.value,
            other => other,
        };
        match child {
            Leaf => {}
            Obj(inner) => {
                check_obj(cv, inner, false, &child_path, sources, errors);
            }
            Open(inner) => {
                check_obj(cv, inner, true, &child_path, sources, errors);
            }
            ListOf(inner) => {
                if let Value::Sequence(items) = cv {
                    for (i, item) in items.iter_mut().enumerate() {
                        check_obj(item, inner, false, &child_path.index(i), sources, errors);
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
                        check_obj(item, inner, false, &child_path.key(&name), sources, errors);
                    }
                }
            }
        }
    }
    ext
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_keys_are_suggested() {
        assert_eq!(nearest("enviroment", keys::SERVICE).as_deref(), Some("environment"));
        assert_eq!(nearest("imagee", keys::SERVICE).as_deref(), Some("image"));
        assert_eq!(nearest("zzzzzzzzzz", keys::SERVICE), None);
    }
}
