//! A service's `build:` section read into `BuildSpec` (the context path alone, or the long form),
//! paths made absolute, args without a value taken from the environment (or left out).

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::error::ComposeError;
use super::host::{boolean, bytes, opt_str, scalar, str_list, str_map, Res};
use super::service::Ctx;
use super::syntax;
use crate::stack::BuildSpec;

/// The `build:` section (a context path, or the long form), paths made absolute.
pub fn build(ctx: &Ctx, name: &str, v: &Value) -> Result<BuildSpec, ComposeError> {
    let inv = |key: &str, m: String| ctx.invalid(name, &format!("build.{key}"), m);
    let home = ctx.env.get("HOME").cloned();
    let abs = |p: &str| {
        if p.contains("://") || p.starts_with("git@") {
            p.to_string()
        } else {
            syntax::absolute(p, ctx.project_dir, home.as_deref())
        }
    };
    if let Value::String(s) = v {
        return Ok(BuildSpec { context: abs(s), ..Default::default() });
    }
    let mut b = BuildSpec {
        context: abs(&opt_str(v.get("context")).map_err(|m| inv("context", m))?.unwrap_or_else(|| ".".into())),
        ..Default::default()
    };
    b.dockerfile = opt_str(v.get("dockerfile")).map_err(|m| inv("dockerfile", m))?;
    b.dockerfile_inline = opt_str(v.get("dockerfile_inline")).map_err(|m| inv("dockerfile_inline", m))?;
    b.target = opt_str(v.get("target")).map_err(|m| inv("target", m))?;
    b.network = opt_str(v.get("network")).map_err(|m| inv("network", m))?;
    b.args = match v.get("args") {
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| Ok((scalar(k)?, if v.is_null() { None } else { Some(scalar(v)?) })))
            .collect::<Res<_>>()
            .map_err(|m| inv("args", m))?,
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|i| {
                let s = scalar(i)?;
                Ok(match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (s, None),
                })
            })
            .collect::<Res<_>>()
            .map_err(|m| inv("args", m))?,
        _ => BTreeMap::new(),
    };
    for (k, v) in b.args.iter_mut() {
        if v.is_none() {
            *v = ctx.env.get(k).cloned();
        }
    }
    b.labels = str_map(v.get("labels"), '=').map_err(|m| inv("labels", m))?;
    b.tags = str_list(v.get("tags")).map_err(|m| inv("tags", m))?;
    b.cache_from = str_list(v.get("cache_from")).map_err(|m| inv("cache_from", m))?;
    b.platforms = str_list(v.get("platforms")).map_err(|m| inv("platforms", m))?;
    b.shm_size = bytes(v.get("shm_size")).map_err(|m| inv("shm_size", m))?;
    b.no_cache = boolean(v.get("no_cache")).map_err(|m| inv("no_cache", m))?.unwrap_or(false);
    b.pull = boolean(v.get("pull")).map_err(|m| inv("pull", m))?.unwrap_or(false);
    let hosts = str_map(v.get("extra_hosts"), '=').map_err(|m| inv("extra_hosts", m))?;
    b.extra_hosts = hosts.into_iter().map(|(h, ip)| format!("{h}:{ip}")).collect();
    for key in UNAPPLIED {
        if let Some(v) = v.get(*key).filter(|v| !v.is_null()) {
            let mut json = serde_json::to_value(v).map_err(|e| inv(key, e.to_string()))?;
            // As `docker compose config`: a build secret written as a name is `{source: NAME}`.
            if *key == "secrets" {
                if let Some(items) = json.as_array_mut() {
                    for item in items.iter_mut().filter(|i| i.is_string()) {
                        *item = serde_json::json!({ "source": item });
                    }
                }
            }
            // As Compose: a local additional context is an absolute path.
            if *key == "additional_contexts" {
                for v in json.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                    if let Some(p) = v.as_str().filter(|p| !p.contains(':')) {
                        *v = serde_json::Value::String(abs(p));
                    }
                }
            }
            b.unapplied.insert((*key).to_string(), json);
        }
    }
    Ok(b)
}

/// `build:` keys the engine's classic build API (which `slipway build` drives) has no setting
/// for, or that slipway does not pass yet; `DOCKER_BUILDKIT=0 docker compose build` refuses the
/// BuildKit ones the same way.
pub const UNAPPLIED: &[&str] = &[
    "additional_contexts",
    "cache_to",
    "entitlements",
    "isolation",
    "no_cache_filter",
    "privileged",
    "provenance",
    "sbom",
    "secrets",
    "ssh",
    "ulimits",
];
