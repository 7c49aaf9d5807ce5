//! The Swarm-only `deploy` keys as the compose room keeps them (`DeploySpec::swarm`, JSON as
//! written): `mode`, `endpoint_mode`, `placement`, `restart_policy`, read into typed values.

use std::time::Duration;

use bollard::models::{TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum};

use crate::stack::ServiceSpec;

/// `deploy.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwarmMode {
    /// `replicated` (the default).
    Replicated,
    /// `global`: one task per node.
    Global,
    /// `replicated-job`: runs to completion.
    ReplicatedJob,
    /// `global-job`: runs to completion on every node.
    GlobalJob,
}

impl SwarmMode {
    /// Runs to completion.
    pub fn is_job(self) -> bool {
        matches!(self, SwarmMode::ReplicatedJob | SwarmMode::GlobalJob)
    }
}

/// The service's `deploy.mode` (unknown spellings are reported by the warnings pass).
pub fn mode(svc: &ServiceSpec) -> SwarmMode {
    match svc.deploy.swarm.get("mode").and_then(|v| v.as_str()) {
        Some("global") => SwarmMode::Global,
        Some("replicated-job") => SwarmMode::ReplicatedJob,
        Some("global-job") => SwarmMode::GlobalJob,
        _ => SwarmMode::Replicated,
    }
}

/// `deploy.endpoint_mode` (`vip` or `dnsrr`).
pub fn endpoint_mode(svc: &ServiceSpec) -> Option<String> {
    svc.deploy.swarm.get("endpoint_mode").and_then(|v| v.as_str()).map(str::to_lowercase)
}

/// `deploy.placement`, typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// `constraints`.
    pub constraints: Vec<String>,
    /// `preferences[].spread`.
    pub spread: Vec<String>,
    /// `max_replicas_per_node`.
    pub max_replicas_per_node: Option<i64>,
}

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// `deploy.placement`, when written.
pub fn placement(svc: &ServiceSpec) -> Option<Placement> {
    let p = svc.deploy.swarm.get("placement")?;
    let spread = p
        .get("preferences")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|e| e.get("spread").and_then(|s| s.as_str()).map(str::to_string)).collect())
        .unwrap_or_default();
    Some(Placement {
        constraints: strings(p.get("constraints")),
        spread,
        max_replicas_per_node: p.get("max_replicas_per_node").and_then(|v| v.as_i64()),
    })
}

/// A compose duration (`5s`, `1m30s`) or a number of seconds.
pub fn duration(v: Option<&serde_json::Value>) -> Option<Duration> {
    match v? {
        serde_json::Value::String(s) => humantime::parse_duration(s).ok(),
        serde_json::Value::Number(n) => n.as_f64().map(Duration::from_secs_f64),
        _ => None,
    }
}

/// `deploy.restart_policy`, when written.
pub fn restart_policy(svc: &ServiceSpec) -> Option<TaskSpecRestartPolicy> {
    let rp = svc.deploy.swarm.get("restart_policy")?;
    let condition = match rp.get("condition").and_then(|v| v.as_str()) {
        Some("none") => Some(TaskSpecRestartPolicyConditionEnum::NONE),
        Some("on-failure") => Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE),
        Some("any") => Some(TaskSpecRestartPolicyConditionEnum::ANY),
        _ => None,
    };
    let ns = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    Some(TaskSpecRestartPolicy {
        condition,
        delay: duration(rp.get("delay")).map(ns),
        max_attempts: rp.get("max_attempts").and_then(|v| v.as_i64()),
        window: duration(rp.get("window")).map(ns),
    })
}
