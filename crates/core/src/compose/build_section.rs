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
    Ok(b)
}
