//! The rules `plan()` applies to one service: dependency order, one-off detection, start-first
//! versus stop-first, the health gate, whether traffic routing applies; and the service's
//! `x-slipway` settings they read.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use super::error::DeployError;
use crate::stack::{DependencyCondition, MountKind, ServiceSpec, StackSpec, UpdateOrder};

/// How the health of a new replica is judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthGate {
    /// The container's own healthcheck (Docker health status) turns `healthy` within the timeout.
    Healthcheck {
        /// Bound in milliseconds.
        timeout_ms: u64,
    },
    /// No healthcheck, `x-slipway.probes` given: every probe healthy (health room's targets;
    /// `{container}` and `{ip}` are replaced by the new container's name and address).
    Probes {
        /// Probe targets (`log://{container}?pattern=ready`, `http://{ip}:8080/health`, ...).
        targets: Vec<String>,
        /// Bound in milliseconds.
        timeout_ms: u64,
    },
    /// No healthcheck: the container is still running after this long.
    StillRunning {
        /// Duration in milliseconds.
        after_ms: u64,
    },
}

impl HealthGate {
    /// For messages.
    pub fn describe(&self) -> String {
        match self {
            HealthGate::Healthcheck { timeout_ms } => format!("healthcheck, up to {}s", timeout_ms / 1000),
            HealthGate::Probes { targets, timeout_ms } => {
                format!("{} probe(s), up to {}s", targets.len(), timeout_ms / 1000)
            }
            HealthGate::StillRunning { after_ms } => format!("still running after {}ms", after_ms),
        }
    }
}

/// A service's `x-slipway` object (empty when absent).
pub fn slipway_settings(svc: &ServiceSpec) -> serde_json::Map<String, serde_json::Value> {
    svc.extensions.get("x-slipway").and_then(|v| v.as_object()).cloned().unwrap_or_default()
}

fn setting_duration(svc: &ServiceSpec, key: &str) -> Option<Duration> {
    let v = slipway_settings(svc).get(key).cloned()?;
    match v {
        // The one duration parser (Go's `time.ParseDuration`, as compose and `x-slipway` validation).
        serde_json::Value::String(s) => crate::duration::parse(&s).ok(),
        serde_json::Value::Number(n) => n.as_f64().map(Duration::from_secs_f64),
        _ => None,
    }
}

/// A one-off task: another service waits for it with `service_completed_successfully`, or its
/// `x-slipway.oneoff` is true.
pub fn is_oneoff(stack: &StackSpec, name: &str) -> bool {
    let waited = stack.services.values().any(|s| {
        s.depends_on.get(name).is_some_and(|d| d.condition == DependencyCondition::ServiceCompletedSuccessfully)
    });
    let flagged = stack
        .services
        .get(name)
        .and_then(|s| slipway_settings(s).get("oneoff").and_then(|v| v.as_bool()))
        .unwrap_or(false);
    waited || flagged
}

/// Start-first or stop-first: `deploy.update_config.order` when given; stop-first for a service
/// that [`stop_first_reason`] names a reason for; start-first otherwise.
pub fn update_order(svc: &ServiceSpec, replicas: u32) -> UpdateOrder {
    if let Some(order) = svc.deploy.update_config.as_ref().and_then(|u| u.order) {
        return order;
    }
    match stop_first_reason(svc, replicas) {
        Some(_) => UpdateOrder::StopFirst,
        None => UpdateOrder::StartFirst,
    }
}

/// Why a service must stop its old container before the new one starts (`None`: it need not):
/// a fixed `container_name` or a static address (two containers cannot hold one name or
/// address), a fixed host port (two containers cannot bind it), a named volume with a single
/// replica (a database must not have two writers). The plan prints it.
pub fn stop_first_reason(svc: &ServiceSpec, replicas: u32) -> Option<String> {
    // compose room: a fixed `container_name` cannot be held by two containers at once.
    if let Some(name) = &svc.container_name {
        return Some(format!("`container_name: {name}` names one container, which two cannot share"));
    }
    if let Some((net, n)) = svc.networks.iter().find(|(_, n)| n.ipv4_address.is_some() || n.ipv6_address.is_some()) {
        let addr = n.ipv4_address.as_deref().or(n.ipv6_address.as_deref()).unwrap_or_default();
        return Some(format!("network `{net}` gives it the static address {addr}, which two containers cannot share"));
    }
    if let Some(p) = svc.ports.iter().find(|p| p.published.as_deref().is_some_and(|s| !s.is_empty() && s != "0")) {
        return Some(format!("it publishes the fixed host port {}", p.published.as_deref().unwrap_or_default()));
    }
    if replicas <= 1 {
        if let Some(m) = svc.volumes.iter().find(|m| m.kind == MountKind::Volume && m.source.is_some()) {
            let volume = m.source.as_deref().unwrap_or_default();
            return Some(format!("its single replica mounts the named volume `{volume}` (no two writers)"));
        }
    }
    None
}

/// What a failing replica of a service does to the deploy (`deploy.update_config.failure_action`).
/// slipway's default is `rollback` (Docker's is `pause`): the promise is that the old release
/// keeps serving, and a release half-applied is a choice the compose file makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureAction {
    /// Undo the whole deploy (every service, every replica done so far).
    Rollback,
    /// Undo the failing replica only, keep what was done and run nothing more of the rollout:
    /// the release is recorded as partly deployed.
    Pause,
    /// Undo the failing replica only and go on with the others: the release is recorded as
    /// partly deployed when any replica failed.
    Continue,
}

impl FailureAction {
    /// As written in a compose file.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureAction::Rollback => "rollback",
            FailureAction::Pause => "pause",
            FailureAction::Continue => "continue",
        }
    }
}

/// The service's `deploy.update_config.failure_action` (the compose loader refused other
/// values); `rollback` when unset.
pub fn failure_action(svc: &ServiceSpec) -> FailureAction {
    match svc.deploy.update_config.as_ref().and_then(|u| u.failure_action.as_deref()) {
        Some("pause") => FailureAction::Pause,
        Some("continue") => FailureAction::Continue,
        _ => FailureAction::Rollback,
    }
}

/// The health gate: the service's healthcheck (bounded by `x-slipway.health_timeout`, else by
/// start period + (interval + timeout) x (retries + 1)), else "still running after"
/// `x-slipway.min_running` (default `min_running`). Between the two: `x-slipway.probes` (bounded
/// by `x-slipway.health_timeout`, default 60 s).
pub fn health_gate(svc: &ServiceSpec, min_running: Duration) -> HealthGate {
    if let Some(hc) = &svc.healthcheck {
        let interval = hc.interval.unwrap_or(Duration::from_secs(30));
        let timeout = hc.timeout.unwrap_or(Duration::from_secs(30));
        let retries = hc.retries.unwrap_or(3);
        let start = hc.start_period.unwrap_or_default();
        let bound = setting_duration(svc, "health_timeout").unwrap_or(start + (interval + timeout) * (retries + 1));
        return HealthGate::Healthcheck { timeout_ms: bound.as_millis() as u64 };
    }
    let probes: Vec<String> = slipway_settings(svc)
        .get("probes")
        .and_then(|p| p.as_array())
        .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if !probes.is_empty() {
        let bound = setting_duration(svc, "health_timeout").unwrap_or(Duration::from_secs(60));
        return HealthGate::Probes { targets: probes, timeout_ms: bound.as_millis() as u64 };
    }
    let after = setting_duration(svc, "min_running").unwrap_or(min_running);
    HealthGate::StillRunning { after_ms: after.as_millis() as u64 }
}

/// Traffic reaches this service through a router (Traefik labels or `x-slipway.route`): the plan
/// then has a `RouteSwitch` step between "new healthy" and "stop old".
pub fn is_routed(svc: &ServiceSpec) -> bool {
    svc.labels.get("traefik.enable").is_some_and(|v| v == "true") || slipway_settings(svc).contains_key("route")
}

/// Service names in dependency order (dependencies first; among ready services one-off tasks
/// first, then by name, so migrations run before the services they gate). Unknown dependencies
/// are ignored (the compose loader reports them); a cycle is an error.
pub fn dependency_order(stack: &StackSpec) -> Result<Vec<String>, DeployError> {
    let mut pending: BTreeMap<&str, BTreeSet<&str>> = stack
        .services
        .iter()
        .map(|(n, s)| {
            let deps = s.depends_on.keys().map(String::as_str).filter(|d| stack.services.contains_key(*d)).collect();
            (n.as_str(), deps)
        })
        .collect();
    let mut out = Vec::new();
    while !pending.is_empty() {
        let next =
            pending.iter().filter(|(_, d)| d.is_empty()).map(|(n, _)| *n).min_by_key(|n| (!is_oneoff(stack, n), *n));
        let Some(n) = next else {
            let names: Vec<&str> = pending.keys().copied().collect();
            return Err(DeployError::DependencyCycle { services: names.join(", ") });
        };
        pending.remove(n);
        for deps in pending.values_mut() {
            deps.remove(n);
        }
        out.push(n.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod stop_first_tests {
    use super::*;
    use crate::stack::ServiceNetwork;

    #[test]
    fn fixed_names_and_static_addresses_are_stop_first_with_the_reason() {
        let mut svc = ServiceSpec { name: "web".into(), ..Default::default() };
        assert_eq!(stop_first_reason(&svc, 1), None);
        svc.networks
            .insert("back".into(), ServiceNetwork { ipv4_address: Some("10.5.0.9".into()), ..Default::default() });
        assert!(stop_first_reason(&svc, 1).is_some_and(|r| r.contains("10.5.0.9")));
        svc.container_name = Some("shop-web".into());
        assert!(stop_first_reason(&svc, 1).is_some_and(|r| r.contains("container_name: shop-web")));
        assert_eq!(update_order(&svc, 1), UpdateOrder::StopFirst);
    }
}
