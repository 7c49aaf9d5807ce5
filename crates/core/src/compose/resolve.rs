//! The model of a (merged) compose project resolved into core's `StackSpec`: project name,
//! profile selection, services, and the networks and volumes the enabled services use
//! (unused ones are left out, as `docker compose config` leaves them out).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_yaml_ng::Value;

use super::error::ComposeError;
use super::event::ComposeWarning;
use super::model::{ComposeModel, ListOrMap};
use super::schema::Extensions;
use super::service::{self, Ctx};
use super::validate::validate;
use super::yaml::{KeyPath, Sources};
use crate::stack::{MountKind, NetworkSpec, StackSpec, VolumeSpec};

/// Inputs of resolution besides the model.
pub struct ResolveInput<'a> {
    /// The files, for locations.
    pub sources: &'a Sources,
    /// The project directory.
    pub project_dir: &'a Path,
    /// Variables (process environment over `.env`).
    pub env: &'a BTreeMap<String, String>,
    /// `-p`.
    pub project: Option<&'a str>,
    /// `--profile` values (empty: `COMPOSE_PROFILES`).
    pub profiles: &'a [String],
}

fn valid_project_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

/// Compose's normalisation of a directory name into a project name.
/// A directory name made into a project name as Compose does: lowercase, only `[a-z0-9_-]`,
/// no leading `-` or `_`.
pub fn normalise_name(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let kept: String =
        lower.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_').collect();
    kept.trim_start_matches(['-', '_']).to_string()
}

fn labels(l: Option<ListOrMap>) -> BTreeMap<String, String> {
    match l {
        None => BTreeMap::new(),
        Some(ListOrMap::Map(m)) => m.into_iter().map(|(k, v)| (k, v.0.unwrap_or_default())).collect(),
        Some(ListOrMap::List(l)) => l
            .into_iter()
            .map(|s| match s.0.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (s.0, String::new()),
            })
            .collect(),
    }
}

/// Resolve `model` into a `StackSpec`, pushing warnings into `warnings`.
pub fn resolve(
    model: ComposeModel,
    mut ext: Extensions,
    input: &ResolveInput,
    warnings: &mut Vec<ComposeWarning>,
) -> Result<StackSpec, ComposeError> {
    let name = match (input.project, model.name.as_ref(), input.env.get("COMPOSE_PROJECT_NAME")) {
        (Some(p), _, _) => p.to_string(),
        (None, Some(n), _) => n.0.clone(),
        (None, None, Some(n)) if !n.is_empty() => n.clone(),
        _ => {
            normalise_name(&input.project_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        }
    };
    if !valid_project_name(&name) {
        return Err(ComposeError::InvalidProjectName { name });
    }
    if model.version.is_some() {
        warnings.push(ComposeWarning::VersionObsolete { at: input.sources.locate(&KeyPath::parse("version")) });
    }
    let profiles: BTreeSet<String> = if input.profiles.is_empty() {
        input
            .env
            .get("COMPOSE_PROFILES")
            .map(|p| p.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    } else {
        input.profiles.iter().cloned().collect()
    };
    let mut stack = StackSpec {
        name: name.clone(),
        project_dir: input.project_dir.to_string_lossy().into_owned(),
        ..Default::default()
    };
    let mut ctx = Ctx { sources: input.sources, project_dir: input.project_dir, env: input.env, warnings };
    for (svc_name, svc) in model.services.unwrap_or_default() {
        let svc = svc.unwrap_or_default();
        let enabled = match &svc.profiles {
            None => true,
            Some(p) if p.is_empty() => true,
            Some(p) => profiles.contains("*") || p.iter().any(|p| profiles.contains(&p.0)),
        };
        if !enabled {
            continue;
        }
        let x = ext.services.remove(&svc_name).unwrap_or_default();
        let spec = service::resolve(&svc_name, svc, x, &mut ctx)?;
        stack.services.insert(svc_name, spec);
    }
    let networks = model.networks.unwrap_or_default();
    let volumes = model.volumes.unwrap_or_default();
    let declared_networks: BTreeSet<String> = networks.keys().cloned().collect();
    let declared_volumes: BTreeSet<String> = volumes.keys().cloned().collect();
    validate(&stack, &declared_networks, &declared_volumes, input.sources)?;

    let used_networks: BTreeSet<&String> = stack.services.values().flat_map(|s| s.networks.keys()).collect();
    let used_volumes: BTreeSet<&String> = stack
        .services
        .values()
        .flat_map(|s| s.volumes.iter())
        .filter(|m| m.kind == MountKind::Volume)
        .filter_map(|m| m.source.as_ref())
        .collect();
    let mut out_networks = BTreeMap::new();
    for key in used_networks {
        let n = networks.get(key).cloned().flatten().unwrap_or_default();
        let external = n.external.unwrap_or(false);
        let engine_name = match (&n.name, external) {
            (Some(x), _) => x.0.clone(),
            (None, true) => key.clone(),
            (None, false) => format!("{name}_{key}"),
        };
        let spec = NetworkSpec {
            name: engine_name,
            external,
            driver: n.driver.map(|d| d.0),
            internal: n.internal.unwrap_or(false),
            labels: labels(n.labels),
            attachable: n.attachable.unwrap_or(false),
            enable_ipv6: n.enable_ipv6,
            driver_opts: n.driver_opts.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect(),
            ipam: n.ipam.as_ref().map(|i| to_json(i, input.sources, &format!("networks.{key}.ipam"))).transpose()?,
        };
        out_networks.insert(key.clone(), spec);
    }
    let mut out_volumes = BTreeMap::new();
    for key in used_volumes {
        let v = volumes.get(key).cloned().flatten().unwrap_or_default();
        let external = v.external.unwrap_or(false);
        let engine_name = match (&v.name, external) {
            (Some(x), _) => x.0.clone(),
            (None, true) => key.clone(),
            (None, false) => format!("{name}_{key}"),
        };
        let spec = VolumeSpec {
            name: engine_name,
            external,
            driver: v.driver.map(|d| d.0),
            labels: labels(v.labels),
            driver_opts: v.driver_opts.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect(),
        };
        out_volumes.insert(key.clone(), spec);
    }
    stack.networks = out_networks;
    stack.volumes = out_volumes;
    let used = |secrets: bool| -> BTreeSet<String> {
        stack
            .services
            .values()
            .flat_map(|s| if secrets { &s.secrets } else { &s.configs })
            .map(|m| m.source.clone())
            .collect()
    };
    let (mut used_secrets, used_configs) = (used(true), used(false));
    // A build's `secrets:` use top-level secrets too (kept, as Compose keeps them).
    for b in stack.services.values().filter_map(|s| s.build.as_ref()) {
        for item in b.unapplied.get("secrets").and_then(|v| v.as_array()).into_iter().flatten() {
            if let Some(source) = item.get("source").and_then(|s| s.as_str()) {
                used_secrets.insert(source.to_string());
            }
        }
    }
    stack.secrets = super::objects::resolve(&name, "secrets", model.secrets, &used_secrets, input)?;
    stack.configs = super::objects::resolve(&name, "configs", model.configs, &used_configs, input)?;
    for (k, v) in &ext.top {
        stack.extensions.insert(k.clone(), to_json(v, input.sources, k)?);
    }
    if let Some(x) = ext.top.remove("x-slipway") {
        stack.slipway = to_json(&x, input.sources, "x-slipway")?;
    }
    let mut errors = Vec::new();
    match super::settings::stack_settings(&stack.slipway, input.sources) {
        Ok(s) => stack.settings = s,
        Err(e) => errors.push(e),
    }
    for (name, svc) in stack.services.iter_mut() {
        match super::settings::service_settings(name, svc.extensions.get("x-slipway"), input.sources) {
            Ok(s) => svc.settings = s,
            Err(e) => errors.push(e),
        }
    }
    if let Some(e) = ComposeError::from_list(errors) {
        return Err(e);
    }
    Ok(stack)
}

fn to_json(v: &Value, sources: &Sources, key: &str) -> Result<serde_json::Value, ComposeError> {
    serde_json::to_value(v)
        .map_err(|e| ComposeError::InvalidValue { at: sources.locate(&KeyPath::parse(key)), message: e.to_string() })
}
