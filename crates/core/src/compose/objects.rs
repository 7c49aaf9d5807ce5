//! Top-level `secrets:` and `configs:` resolved into `FileObjectSpec`s: `file` (absolute path),
//! `environment` (the variable's name, and its value as a `Secret` that is never serialised), `content` (configs) and `external`. Services that use an undeclared one are
//! refused with the key's position.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

use super::error::ComposeError;
use super::resolve::ResolveInput;
use super::syntax;
use super::yaml::KeyPath;
use crate::stack::{FileObjectSource, FileObjectSpec};

/// Resolve the used entries of `section` (`secrets` or `configs`).
pub fn resolve(
    project: &str,
    section: &str,
    declared: Option<BTreeMap<String, Option<Value>>>,
    used: &BTreeSet<String>,
    input: &ResolveInput,
) -> Result<BTreeMap<String, FileObjectSpec>, ComposeError> {
    let declared = declared.unwrap_or_default();
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for key in used {
        let at = input.sources.locate(&KeyPath::parse(section).key(key));
        let Some(def) = declared.get(key) else {
            errors.push(ComposeError::InvalidValue {
                at: input.sources.locate(&KeyPath::parse("services")),
                message: format!(
                    "a service uses {section} `{key}`, which is not declared under top-level `{section}:`"
                ),
            });
            continue;
        };
        let def = def.clone().unwrap_or(Value::Null);
        let text = |k: &str| def.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let external = matches!(def.get("external"), Some(Value::Bool(true)) | Some(Value::Mapping(_)));
        let name = text("name").unwrap_or_else(|| if external { key.clone() } else { format!("{project}_{key}") });
        let home = input.env.get("HOME").cloned();
        let source = if let Some(f) = text("file") {
            FileObjectSource::File(syntax::absolute(&f, input.project_dir, home.as_deref()))
        } else if let Some(e) = text("environment") {
            FileObjectSource::Environment(e)
        } else if let (Some(c), "configs") = (text("content"), section) {
            FileObjectSource::Content(c)
        } else if external {
            FileObjectSource::External(name.clone())
        } else {
            errors.push(ComposeError::InvalidValue {
                at,
                message: format!(
                    "{section} `{key}` needs `file`, `environment`{} or `external`",
                    if section == "configs" { ", `content`" } else { "" }
                ),
            });
            continue;
        };
        // As Compose: an `environment:` source takes the project's variable (process environment
        // over `.env`); an unset one is refused when a container needs it, not when the file loads.
        let value = match &source {
            FileObjectSource::Environment(var) => input.env.get(var).map(|v| crate::secret::Secret::new(v.clone())),
            _ => None,
        };
        out.insert(key.clone(), FileObjectSpec { name, source, value });
    }
    match ComposeError::from_list(errors) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}
