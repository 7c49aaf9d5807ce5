//! The `deploy:` section of a service: replicas, update/rollback config, resources (limits and
//! reservations), labels; the Swarm-only keys are kept as written and noted as not applicable on
//! a Docker host (a `NotApplicable` warning with the reason).

use super::error::ComposeError;
use super::event::ComposeWarning;
use super::model;
use super::service::{duration, kv, Ctx};
use super::syntax;
use crate::stack::{DeploySpec, ResourceLimits, UpdateConfig, UpdateOrder};

fn update(ctx: &Ctx, name: &str, key: &str, u: model::UpdateConfig) -> Result<UpdateConfig, ComposeError> {
    let order = match u.order.as_ref().map(|o| o.0.as_str()) {
        None => None,
        Some("start-first") => Some(UpdateOrder::StartFirst),
        Some("stop-first") => Some(UpdateOrder::StopFirst),
        Some(o) => {
            return Err(ctx.invalid(name, &format!("{key}.order"), format!("`{o}`: use start-first or stop-first")))
        }
    };
    if let Some(a) = &u.failure_action {
        if !matches!(a.0.as_str(), "continue" | "pause" | "rollback") {
            let msg = format!("`{}`: use continue, pause or rollback", a.0);
            return Err(ctx.invalid(name, &format!("{key}.failure_action"), msg));
        }
    }
    Ok(UpdateConfig {
        parallelism: u.parallelism,
        delay: duration(ctx, name, &format!("{key}.delay"), u.delay)?,
        failure_action: u.failure_action.map(|a| a.0),
        monitor: duration(ctx, name, &format!("{key}.monitor"), u.monitor)?,
        order,
    })
}

/// Resolve a service's `deploy:` section.
pub fn deploy(ctx: &mut Ctx, name: &str, d: model::Deploy) -> Result<DeploySpec, ComposeError> {
    let mut spec = DeploySpec { replicas: d.replicas, present: true, ..Default::default() };
    if let Some(u) = d.update_config {
        spec.update_config = Some(update(ctx, name, "deploy.update_config", u)?);
    }
    if let Some(u) = d.rollback_config {
        spec.rollback_config = Some(update(ctx, name, "deploy.rollback_config", u)?);
    }
    if let Some(l) = d.resources.as_ref().and_then(|r| r.limits.clone()) {
        let cpus = l
            .cpus
            .map(|c| {
                c.0.trim().parse::<f64>().map_err(|_| {
                    ctx.invalid(name, "deploy.resources.limits.cpus", format!("`{}` is not a number", c.0))
                })
            })
            .transpose()?;
        let memory = l
            .memory
            .map(|m| syntax::parse_bytes(&m.0).map_err(|e| ctx.invalid(name, "deploy.resources.limits.memory", e)))
            .transpose()?;
        spec.limits = Some(ResourceLimits { cpus, memory, pids: l.pids });
    }
    if let Some(r) = d.resources.as_ref().and_then(|r| r.reservations.as_ref()) {
        let key = "deploy.resources.reservations.devices";
        spec.reservation_devices = match &r.devices {
            Some(serde_yaml_ng::Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    super::device_requests::request(d).map_err(|m| ctx.invalid(name, &format!("{key}[{i}]"), m))
                })
                .collect::<Result<_, _>>()?,
            other => super::device_requests::reservations(other.as_ref()).map_err(|m| ctx.invalid(name, key, m))?,
        };
        if let Some(g) = &r.generic_resources {
            spec.generic_resources = match serde_json::to_value(g) {
                Ok(serde_json::Value::Array(items)) => items,
                _ => Vec::new(),
            };
            // As `docker compose up`: a plain engine has no generic resources; Compose skips them.
            let key = "deploy.resources.reservations.generic_resources";
            ctx.warnings.push(ComposeWarning::NotApplicable {
                service: name.into(),
                key: key.into(),
                reason: "generic resources are advertised by Swarm nodes; a Docker host has none to reserve".into(),
                at: ctx.at(name, key),
            });
        }
        spec.reservation_cpus = r
            .cpus
            .as_ref()
            .map(|c| {
                c.0.trim().parse::<f64>().map_err(|_| {
                    ctx.invalid(name, "deploy.resources.reservations.cpus", format!("`{}` is not a number", c.0))
                })
            })
            .transpose()?;
        spec.reservation_memory = r
            .memory
            .as_ref()
            .map(|m| {
                syntax::parse_bytes(&m.0).map_err(|e| ctx.invalid(name, "deploy.resources.reservations.memory", e))
            })
            .transpose()?;
    }
    for (key, v) in &d.rest {
        if let Ok(mut json) = serde_json::to_value(v) {
            // Durations as Compose prints them (`2m0s`).
            if let Some(policy) = json.as_object_mut().filter(|_| key == "restart_policy") {
                for k in ["delay", "window"] {
                    let text = policy.get(k).and_then(|d| d.as_str()).map(str::to_string);
                    if let Some(text) = text {
                        let d = syntax::parse_duration(&text)
                            .map_err(|m| ctx.invalid(name, &format!("deploy.restart_policy.{k}"), m))?;
                        policy.insert(k.into(), serde_json::Value::from(syntax::format_duration(d)));
                    }
                }
            }
            spec.swarm.insert(key.clone(), json);
        }
        let reason = match key.as_str() {
            "placement" => "placement applies to Swarm nodes; a Docker host runs every container itself",
            "restart_policy" => "restart_policy is a Swarm setting; on a Docker host use `restart:`",
            "mode" => "a deploy mode is a Swarm setting; a Docker host runs `replicas` containers",
            "endpoint_mode" => "endpoint_mode is a Swarm setting; a Docker host resolves names by container",
            _ => continue,
        };
        ctx.warnings.push(ComposeWarning::NotApplicable {
            service: name.into(),
            key: format!("deploy.{key}"),
            reason: reason.into(),
            at: ctx.at(name, &format!("deploy.{key}")),
        });
    }
    spec.labels = d
        .labels
        .map(|l| kv(l, &['=']))
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    Ok(spec)
}
