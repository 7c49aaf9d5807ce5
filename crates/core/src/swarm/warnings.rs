//! Keys Swarm cannot honour, listed with reasons before anything changes. Errors stop the deploy
//! (the key would change what runs); warnings are reported as events and the deploy goes on.
//! Pure: unit-tested on fixtures.

use serde::Serialize;

use super::settings;
use crate::stack::{ServiceSpec, StackSpec};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Ignored or approximated; the deploy goes on.
    Warning,
    /// Refused: nothing changes.
    Error,
}

/// One key Swarm cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// Warning or error.
    pub severity: Severity,
    /// The service (`None` for top-level keys).
    pub service: Option<String>,
    /// The key as written (`network_mode`, `deploy.mode`, ...).
    pub key: String,
    /// Why, and what to do.
    pub reason: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.service {
            Some(s) => write!(f, "service {s}: {}: {}", self.key, self.reason),
            None => write!(f, "{}: {}", self.key, self.reason),
        }
    }
}

fn push(out: &mut Vec<Finding>, sev: Severity, svc: &ServiceSpec, key: &str, reason: &str) {
    out.push(Finding { severity: sev, service: Some(svc.name.clone()), key: key.into(), reason: reason.into() });
}

/// Every key of `stack` that Swarm cannot honour, errors first, then by service and key.
pub fn findings(stack: &StackSpec) -> Vec<Finding> {
    use Severity::{Error, Warning};
    let mut out = Vec::new();
    for svc in stack.services.values() {
        let h = &svc.host;
        if let Some(m) = svc.deploy.swarm.get("mode").and_then(|v| v.as_str()) {
            if !["replicated", "global", "replicated-job", "global-job"].contains(&m) {
                push(&mut out, Error, svc, "deploy.mode", "use replicated, global, replicated-job or global-job");
            }
        }
        if let Some(m) = settings::endpoint_mode(svc) {
            if m != "vip" && m != "dnsrr" {
                push(&mut out, Error, svc, "deploy.endpoint_mode", "use vip or dnsrr");
            }
        }
        if h.network_mode.is_some() {
            push(
                &mut out,
                Error,
                svc,
                "network_mode",
                "Swarm services join networks; use `networks:` (an external `host` network for host networking)",
            );
        }
        if h.privileged {
            push(&mut out, Error, svc, "privileged", "Swarm services cannot run privileged");
        }
        if !h.devices.is_empty() {
            push(&mut out, Error, svc, "devices", "Swarm services cannot map devices");
        }
        for p in &svc.ports {
            if p.published.as_deref().is_some_and(|s| s.contains('-')) {
                push(&mut out, Error, svc, "ports", "port ranges are not published by Swarm; list each port");
            }
            if p.host_ip.is_some() {
                push(
                    &mut out,
                    Warning,
                    svc,
                    "ports.host_ip",
                    "Swarm publishes on every address of the node; host_ip is ignored",
                );
            }
        }
        if svc.container_name.is_some() {
            push(&mut out, Warning, svc, "container_name", "Swarm names task containers itself; ignored");
        }
        if !h.links.is_empty() || !h.external_links.is_empty() {
            push(
                &mut out,
                Warning,
                svc,
                "links",
                "Swarm has no links; services find each other by name on shared networks",
            );
        }
        if !h.security_opt.is_empty() {
            push(
                &mut out,
                Warning,
                svc,
                "security_opt",
                "Swarm's API 1.41 has no per-task seccomp/apparmor/no-new-privileges (docker stack deploy ignores it too); ignored",
            );
        }
        if h.logging.as_ref().is_some_and(|l| l.driver.is_none() && !l.options.is_empty()) {
            push(
                &mut out,
                Warning,
                svc,
                "logging.options",
                "Swarm takes log options only with a driver (as docker stack deploy); name `logging.driver`; ignored",
            );
        }
        if h.cpu_shares.is_some() || h.cpu_quota.is_some() || h.cpu_period.is_some() || h.cpuset.is_some() {
            push(
                &mut out,
                Warning,
                svc,
                "cpu_shares/cpu_quota/cpuset",
                "Swarm limits CPUs with deploy.resources; ignored",
            );
        }
        if h.mem_swappiness.is_some() || h.memswap_limit.is_some() {
            push(&mut out, Warning, svc, "memswap_limit/mem_swappiness", "not in API 1.41's task resources; ignored");
        }
        if svc.healthcheck.as_ref().is_some_and(|hc| hc.start_interval.is_some()) {
            push(
                &mut out,
                Warning,
                svc,
                "healthcheck.start_interval",
                "needs API 1.44; Docker 20.10 (API 1.41) ignores it",
            );
        }
        if svc.volumes.iter().any(|m| m.kind == crate::stack::MountKind::Bind) {
            push(
                &mut out,
                Warning,
                svc,
                "volumes (bind)",
                "the host path must exist on every node the task can run on",
            );
        }
        if svc.build.is_some() {
            push(&mut out, Warning, svc, "build", "Swarm deploys images only; the build section is ignored");
        }
    }
    out.sort_by(|a, b| (b.severity, &a.service, &a.key).cmp(&(a.severity, &b.service, &b.key)));
    out
}
