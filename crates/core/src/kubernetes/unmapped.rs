//! The keys of a service (and of the stack) that have no Kubernetes counterpart, each with the
//! reason: Docker's host settings, per-network addressing, restart policies a Deployment
//! overrides, and the like. Mapped keys are handled by the other files of this room.

use super::warning::{MappingWarning, WarningKind::Dropped};
use crate::stack::{ServiceSpec, StackSpec};

/// Push a warning for each key of `svc` that is set and cannot map.
pub fn service_keys(svc: &ServiceSpec, oneoff: bool, warnings: &mut Vec<MappingWarning>) {
    let h = &svc.host;
    let mut drop = |key: &str, reason: &str| warnings.push(MappingWarning::service(&svc.name, key, Dropped, reason));
    let engine_only = "a Docker engine setting with no pod field; set it in the manifest if the cluster allows it";
    let set: [(&str, bool); 27] = [
        ("network_mode", h.network_mode.is_some()),
        ("links", !h.links.is_empty()),
        ("external_links", !h.external_links.is_empty()),
        ("dns", !h.dns.is_empty()),
        ("dns_search", !h.dns_search.is_empty()),
        ("dns_opt", !h.dns_opt.is_empty()),
        ("sysctls", !h.sysctls.is_empty()),
        ("ulimits", !h.ulimits.is_empty() || !h.ulimits_single.is_empty()),
        ("logging", h.logging.is_some()),
        ("runtime", h.runtime.is_some()),
        ("devices", !h.devices.is_empty()),
        ("device_cgroup_rules", !h.device_cgroup_rules.is_empty()),
        ("group_add", !h.group_add.is_empty()),
        ("ipc", h.ipc.is_some()),
        ("pid", h.pid.is_some()),
        ("uts", h.uts.is_some()),
        ("cgroup", h.cgroup.is_some() || h.cgroup_parent.is_some()),
        ("oom_kill_disable", h.oom_kill_disable.is_some()),
        ("oom_score_adj", h.oom_score_adj.is_some()),
        ("userns_mode", h.userns_mode.is_some()),
        ("mac_address", h.mac_address.is_some()),
        ("storage_opt", !h.storage_opt.is_empty()),
        ("shm_size", h.shm_size.is_some()),
        ("memswap_limit", h.memswap_limit.is_some()),
        ("cpu_shares", h.cpu_shares.is_some() || h.cpu_period.is_some() || h.cpu_quota.is_some() || h.cpuset.is_some()),
        ("domainname", h.domainname.is_some()),
        ("platform", h.platform.is_some()),
    ];
    for (key, is_set) in set {
        if is_set {
            drop(key, engine_only);
        }
    }
    if h.pids_limit.is_some() {
        drop("pids_limit", "the pid limit is the kubelet's (podPidsLimit), not a pod field");
    }
    if svc.container_name.is_some() {
        drop("container_name", "pods are named by their controller; the Service keeps the service's DNS name");
    }
    if svc.stop_signal.is_some() {
        drop("stop_signal", "the kubelet always sends SIGTERM; send another signal from a preStop hook");
    }
    if svc.init == Some(true) {
        drop("init", "no init process is injected; build tini into the image, or use shareProcessNamespace");
    }
    if !h.annotations.is_empty() {
        drop("annotations", "container annotations are the engine's; pod annotations come from labels");
    }
    for (net, n) in &svc.networks {
        if !n.aliases.is_empty() || n.ipv4_address.is_some() || n.ipv6_address.is_some() {
            drop(&format!("networks.{net}"), "a cluster has one flat pod network: aliases and static addresses do not exist; add a Service for another name");
        }
    }
    if !svc.deploy.swarm.is_empty() {
        let keys: Vec<&str> = svc.deploy.swarm.keys().map(String::as_str).collect();
        drop(
            &format!("deploy.{}", keys.join(",deploy.")),
            "Swarm placement and restart settings; use nodeSelector/affinity in the manifest",
        );
    }
    if svc.deploy.rollback_config.is_some() {
        drop("deploy.rollback_config", "slipway rolls a failed release back by re-applying the previous one");
    }
    if !oneoff && matches!(svc.restart.as_deref(), Some("no") | Some("on-failure"))
        || svc.restart.as_deref().is_some_and(|r| !oneoff && r.starts_with("on-failure:"))
    {
        drop(
            "restart",
            "a Deployment always restarts its pods; mark a run-once task x-slipway.oneoff: true to make it a Job",
        );
    }
}

/// Push a warning for each top-level key that cannot map.
pub fn stack_keys(stack: &StackSpec, warnings: &mut Vec<MappingWarning>) {
    for (key, n) in &stack.networks {
        if n.internal {
            warnings.push(MappingWarning::top(
                format!("networks.{key}.internal"),
                Dropped,
                "a cluster has one flat pod network; isolate with a NetworkPolicy",
            ));
        }
    }
}
