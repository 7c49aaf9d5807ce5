//! A service's container settings (`HostSettings`, mount options, secrets/configs) mapped to the
//! engine's `HostConfig` and mounts the way `docker compose up` maps them. Pure.

use std::collections::HashMap;

use bollard::models::{
    DeviceMapping, DeviceRequest, HostConfig, HostConfigLogConfig, Mount, MountBindOptions,
    MountBindOptionsPropagationEnum, MountTmpfsOptions, MountType, MountVolumeOptions, ResourcesUlimits,
};

use crate::deploy::labels::container_name;
use crate::stack::{DeviceRequestSpec, FileObjectSource, MountOptions, ServiceSpec, StackSpec};

fn some<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// `network_mode` as the engine wants it: `service:NAME` becomes `container:<its container>`.
pub fn network_mode(stack: &StackSpec, svc: &ServiceSpec, release: &str) -> Option<String> {
    let mode = svc.host.network_mode.as_ref()?;
    Some(match mode.strip_prefix("service:") {
        Some(other) => {
            let target = stack.services.get(other).and_then(|s| s.container_name.clone());
            format!("container:{}", target.unwrap_or_else(|| container_name(&stack.name, other, 1, release)))
        }
        None => mode.clone(),
    })
}

fn device_request(d: &DeviceRequestSpec, capabilities: Vec<String>) -> DeviceRequest {
    DeviceRequest {
        driver: Some(d.driver.clone().unwrap_or_default()),
        count: Some(d.count.unwrap_or(0)),
        device_ids: some(d.device_ids.clone()),
        capabilities: Some(vec![capabilities]),
        options: (!d.options.is_empty()).then(|| d.options.clone().into_iter().collect()),
    }
}

/// `HostConfig.DeviceRequests` as `docker compose up` builds them: the reserved devices first,
/// then one `cdi` request for the CDI names in `devices:`, then each `gpus` entry with the `gpu`
/// capability appended to its own.
pub fn device_requests(svc: &ServiceSpec) -> Vec<DeviceRequest> {
    let reserved = svc.deploy.reservation_devices.iter().map(|d| device_request(d, d.capabilities.clone()));
    let cdi = super::cdi::cdi_request(&svc.host.devices);
    let gpus = svc.host.gpus.iter().map(|d| {
        let mut caps = d.capabilities.clone();
        caps.push("gpu".into());
        device_request(d, caps)
    });
    reserved.chain(cdi).chain(gpus).collect()
}

/// Fill the `HostConfig` fields that come from `HostSettings`.
pub fn apply(stack: &StackSpec, svc: &ServiceSpec, release: &str, hc: &mut HostConfig) {
    let h = &svc.host;
    // As Compose: capabilities with the `CAP_` prefix (`ALL` as is).
    let caps = |v: &[String]| {
        some(
            v.iter()
                .map(|c| {
                    let c = c.to_ascii_uppercase();
                    if c == "ALL" || c.starts_with("CAP_") {
                        c
                    } else {
                        format!("CAP_{c}")
                    }
                })
                .collect(),
        )
    };
    hc.cap_add = caps(&h.cap_add);
    hc.cap_drop = caps(&h.cap_drop);
    hc.readonly_rootfs = h.read_only.then_some(true);
    hc.security_opt = some(h.security_opt.clone());
    let tmpfs: HashMap<String, String> = h
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_string(), o.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect();
    hc.tmpfs = (!tmpfs.is_empty()).then_some(tmpfs);
    let links: Vec<String> = h
        .links
        .iter()
        .map(|l| {
            let (service, alias) = l.split_once(':').unwrap_or((l, l));
            let target = stack.services.get(service).and_then(|s| s.container_name.clone());
            format!("{}:{alias}", target.unwrap_or_else(|| container_name(&stack.name, service, 1, release)))
        })
        .chain(h.external_links.iter().map(|l| if l.contains(':') { l.clone() } else { format!("{l}:{l}") }))
        .collect();
    hc.links = some(links);
    hc.dns = some(h.dns.clone());
    hc.dns_search = some(h.dns_search.clone());
    hc.dns_options = some(h.dns_opt.clone());
    hc.sysctls = (!h.sysctls.is_empty()).then(|| h.sysctls.clone().into_iter().collect());
    hc.ulimits = some(
        h.ulimits
            .iter()
            .map(|(n, (s, hd))| ResourcesUlimits { name: Some(n.clone()), soft: Some(*s), hard: Some(*hd) })
            .collect(),
    );
    hc.log_config = h.logging.as_ref().map(|l| HostConfigLogConfig {
        typ: l.driver.clone(),
        config: (!l.options.is_empty()).then(|| l.options.clone().into_iter().collect()),
    });
    // deploy.resources as Compose maps them: limits and reservations onto the same settings.
    let limits = svc.deploy.limits.clone().unwrap_or_default();
    hc.pids_limit = h.pids_limit.or(limits.pids);
    hc.runtime = h.runtime.clone();
    hc.privileged = h.privileged.then_some(true);
    hc.memory = h.mem_limit.or(limits.memory.map(|m| m as i64));
    hc.memory_swap = h.memswap_limit;
    hc.memory_reservation = h.mem_reservation.or(svc.deploy.reservation_memory.map(|m| m as i64));
    hc.memory_swappiness = h.mem_swappiness;
    hc.nano_cpus = h.cpus.or(limits.cpus).map(|c| (c * 1e9).round() as i64);
    hc.cpu_shares = h.cpu_shares;
    hc.cpu_period = h.cpu_period;
    hc.cpu_quota = h.cpu_quota;
    hc.cpuset_cpus = h.cpuset.clone();
    hc.shm_size = h.shm_size;
    hc.devices = some(
        h.devices
            .iter()
            .filter(|d| !super::cdi::is_cdi_device(d))
            .map(|d| DeviceMapping {
                path_on_host: Some(d.source.clone()),
                path_in_container: Some(d.target.clone()),
                cgroup_permissions: Some(d.permissions.clone()),
            })
            .collect(),
    );
    hc.device_requests = some(device_requests(svc));
    hc.device_cgroup_rules = some(h.device_cgroup_rules.clone());
    hc.group_add = some(h.group_add.clone());
    hc.ipc_mode = h.ipc.clone();
    hc.pid_mode = h.pid.clone();
    hc.uts_mode = h.uts.clone();
    hc.cgroup_parent = h.cgroup_parent.clone();
    hc.oom_kill_disable = h.oom_kill_disable;
    hc.oom_score_adj = h.oom_score_adj;
    hc.userns_mode = h.userns_mode.clone();
    hc.storage_opt = (!h.storage_opt.is_empty()).then(|| h.storage_opt.clone().into_iter().collect());
}

/// The `Binds` mode suffix of a short-syntax bind (`ro`, `z`/`Z`, propagation).
pub fn bind_modes(read_only: bool, o: Option<&MountOptions>) -> String {
    let mut modes: Vec<&str> = Vec::new();
    if read_only {
        modes.push("ro");
    }
    if let Some(o) = o {
        if let Some(s) = &o.selinux {
            modes.push(s);
        }
        if let Some(p) = &o.propagation {
            modes.push(p);
        }
    }
    if modes.is_empty() {
        String::new()
    } else {
        format!(":{}", modes.join(","))
    }
}

/// Fill a mount's typed options.
pub fn mount_options(m: &mut Mount, o: &MountOptions) {
    match m.typ {
        Some(MountType::BIND) => {
            let propagation = o.propagation.as_deref().and_then(|p| p.parse::<MountBindOptionsPropagationEnum>().ok());
            if propagation.is_some() {
                m.bind_options = Some(MountBindOptions { propagation, ..Default::default() });
            }
        }
        Some(MountType::VOLUME) if o.nocopy || o.subpath.is_some() => {
            m.volume_options = Some(MountVolumeOptions {
                no_copy: o.nocopy.then_some(true),
                subpath: o.subpath.clone(),
                ..Default::default()
            });
        }
        Some(MountType::TMPFS) if o.tmpfs_size.is_some() || o.tmpfs_mode.is_some() => {
            m.tmpfs_options =
                Some(MountTmpfsOptions { size_bytes: o.tmpfs_size, mode: o.tmpfs_mode, ..Default::default() });
        }
        _ => {}
    }
}

/// File-based secrets and configs as read-only bind mounts (Compose on a plain engine).
pub fn file_mounts(stack: &StackSpec, svc: &ServiceSpec) -> Vec<Mount> {
    let secrets = svc.secrets.iter().map(|m| (m, stack.secrets.get(&m.source)));
    let configs = svc.configs.iter().map(|m| (m, stack.configs.get(&m.source)));
    secrets
        .chain(configs)
        .filter_map(|(m, def)| match &def?.source {
            FileObjectSource::File(path) => Some(Mount {
                target: Some(m.target.clone()),
                source: Some(path.clone()),
                typ: Some(MountType::BIND),
                read_only: Some(true),
                bind_options: Some(MountBindOptions::default()),
                ..Default::default()
            }),
            _ => None,
        })
        .collect()
}
