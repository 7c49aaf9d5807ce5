//! The task-level parts of a Swarm service, after docker/cli's `cli/compose/convert`
//! (`volume.go`, `service.go`): mounts, secret and config references, resources, restart policy
//! (`deploy.restart_policy`, else `restart:`), placement, networks (sorted, the service name as
//! alias) and the endpoint (ports in host or ingress mode, vip or dnsrr). Pure.

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec,
    EndpointSpecModeEnum, GenericResourcesInner, GenericResourcesInnerDiscreteResourceSpec, Limit, Mount, MountType,
    NetworkAttachmentConfig, ResourceObject, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile,
    TaskSpecContainerSpecFile1, TaskSpecContainerSpecSecrets, TaskSpecPlacement, TaskSpecPlacementPreferences,
    TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};

use super::convert::{service_name, ObjectNames};
use super::settings;
use crate::stack::{MountKind, ServiceSpec as Svc, StackSpec};

pub(crate) fn mounts(stack: &StackSpec, svc: &Svc) -> Option<Vec<Mount>> {
    let out: Vec<Mount> = svc
        .volumes
        .iter()
        .map(|m| {
            let (typ, source) = match m.kind {
                MountKind::Volume => (
                    MountType::VOLUME,
                    m.source.as_ref().map(|k| stack.volumes.get(k).map(|v| v.name.clone()).unwrap_or(k.clone())),
                ),
                MountKind::Bind => (MountType::BIND, m.source.clone()),
                MountKind::Tmpfs => (MountType::TMPFS, None),
            };
            Mount {
                target: Some(m.target.clone()),
                source,
                typ: Some(typ),
                read_only: m.read_only.then_some(true),
                ..Default::default()
            }
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

pub(crate) fn secrets(svc: &Svc, objects: &ObjectNames) -> Option<Vec<TaskSpecContainerSpecSecrets>> {
    let mut out: Vec<TaskSpecContainerSpecSecrets> = svc
        .secrets
        .iter()
        .filter_map(|s| {
            let name = objects.secrets.get(&s.source)?;
            let file = s.target.strip_prefix("/run/secrets/").unwrap_or(&s.target).to_string();
            Some(TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(file),
                    uid: Some("0".into()),
                    gid: Some("0".into()),
                    mode: Some(s.mode.unwrap_or(0o444)),
                }),
                secret_name: Some(name.clone()),
                secret_id: objects.ids.get(name).cloned(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.secret_name.cmp(&b.secret_name));
    (!out.is_empty()).then_some(out)
}

pub(crate) fn configs(svc: &Svc, objects: &ObjectNames) -> Option<Vec<TaskSpecContainerSpecConfigs>> {
    let mut out: Vec<TaskSpecContainerSpecConfigs> = svc
        .configs
        .iter()
        .filter_map(|c| {
            let name = objects.configs.get(&c.source)?;
            Some(TaskSpecContainerSpecConfigs {
                file: Some(TaskSpecContainerSpecFile1 {
                    name: Some(c.target.clone()),
                    uid: Some("0".into()),
                    gid: Some("0".into()),
                    mode: Some(c.mode.unwrap_or(0o444)),
                }),
                config_name: Some(name.clone()),
                config_id: objects.ids.get(name).cloned(),
                ..Default::default()
            })
        })
        .collect();
    out.sort_by(|a, b| a.config_name.cmp(&b.config_name));
    (!out.is_empty()).then_some(out)
}

pub(crate) fn resources(svc: &Svc) -> Option<TaskSpecResources> {
    let l = svc.deploy.limits.clone().unwrap_or_default();
    let cpus = l.cpus.or(svc.host.cpus).map(|c| (c * 1e9) as i64);
    let memory = l.memory.and_then(|m| i64::try_from(m).ok()).or(svc.host.mem_limit);
    let pids = l.pids.or(svc.host.pids_limit);
    let limits = (cpus.is_some() || memory.is_some() || pids.is_some()).then_some(Limit {
        nano_cpus: cpus,
        memory_bytes: memory,
        pids,
    });
    let r_cpus = svc.deploy.reservation_cpus.map(|c| (c * 1e9) as i64);
    let r_mem = svc.deploy.reservation_memory.and_then(|m| i64::try_from(m).ok()).or(svc.host.mem_reservation);
    // As docker/cli: each `discrete_resource_spec` becomes a discrete generic resource.
    let generic: Vec<GenericResourcesInner> = svc
        .deploy
        .generic_resources
        .iter()
        .filter_map(|g| g.get("discrete_resource_spec"))
        .map(|d| GenericResourcesInner {
            discrete_resource_spec: Some(GenericResourcesInnerDiscreteResourceSpec {
                kind: d.get("kind").and_then(|k| k.as_str()).map(str::to_string),
                value: d.get("value").and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok())),
            }),
            ..Default::default()
        })
        .collect();
    let reservations = (r_cpus.is_some() || r_mem.is_some() || !generic.is_empty()).then_some(ResourceObject {
        nano_cpus: r_cpus,
        memory_bytes: r_mem,
        generic_resources: (!generic.is_empty()).then_some(generic),
    });
    (limits.is_some() || reservations.is_some()).then_some(TaskSpecResources {
        limits,
        reservations,
        ..Default::default()
    })
}

pub(crate) fn restart_policy(svc: &Svc) -> Option<TaskSpecRestartPolicy> {
    if let Some(rp) = settings::restart_policy(svc) {
        return Some(rp);
    }
    let restart = svc.restart.as_deref()?;
    let (name, count) = restart.split_once(':').unwrap_or((restart, ""));
    let max_attempts = count.parse::<i64>().ok().filter(|n| *n > 0);
    let condition = match name {
        "always" | "unless-stopped" => TaskSpecRestartPolicyConditionEnum::ANY,
        "on-failure" => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
        _ => return None,
    };
    Some(TaskSpecRestartPolicy { condition: Some(condition), max_attempts, ..Default::default() })
}

pub(crate) fn placement(svc: &Svc) -> Option<TaskSpecPlacement> {
    let p = settings::placement(svc)?;
    Some(TaskSpecPlacement {
        constraints: (!p.constraints.is_empty()).then_some(p.constraints),
        preferences: (!p.spread.is_empty()).then(|| {
            p.spread
                .into_iter()
                .map(|s| TaskSpecPlacementPreferences {
                    spread: Some(TaskSpecPlacementSpread { spread_descriptor: Some(s) }),
                })
                .collect()
        }),
        max_replicas: p.max_replicas_per_node,
        platforms: None,
    })
}

pub(crate) fn networks(stack: &StackSpec, svc: &Svc) -> Vec<NetworkAttachmentConfig> {
    let mut keys: Vec<&String> = svc.networks.keys().collect();
    let default = "default".to_string();
    if keys.is_empty() && svc.host.network_mode.is_none() {
        keys.push(&default);
    }
    let mut out: Vec<NetworkAttachmentConfig> = keys
        .into_iter()
        .map(|k| {
            let target = stack.networks.get(k).map(|n| n.name.clone()).unwrap_or_else(|| service_name(&stack.name, k));
            let mut aliases = svc.networks.get(k).map(|n| n.aliases.clone()).unwrap_or_default();
            aliases.push(svc.name.clone());
            NetworkAttachmentConfig { target: Some(target), aliases: Some(aliases), driver_opts: None }
        })
        .collect();
    out.sort_by(|a, b| a.target.cmp(&b.target));
    out
}

pub(crate) fn endpoint(svc: &Svc) -> EndpointSpec {
    let mut ports: Vec<EndpointPortConfig> = svc
        .ports
        .iter()
        .filter_map(|p| {
            let published = p.published.as_deref().and_then(|s| s.parse::<i64>().ok());
            published?;
            Some(EndpointPortConfig {
                name: None,
                protocol: Some(match p.protocol.as_str() {
                    "udp" => EndpointPortConfigProtocolEnum::UDP,
                    "sctp" => EndpointPortConfigProtocolEnum::SCTP,
                    _ => EndpointPortConfigProtocolEnum::TCP,
                }),
                target_port: Some(i64::from(p.target)),
                published_port: published,
                publish_mode: Some(match p.mode.as_deref() {
                    Some("host") => EndpointPortConfigPublishModeEnum::HOST,
                    _ => EndpointPortConfigPublishModeEnum::INGRESS,
                }),
            })
        })
        .collect();
    ports.sort_by_key(|p| (p.target_port, p.published_port));
    let mode = match settings::endpoint_mode(svc).as_deref() {
        Some("dnsrr") => EndpointSpecModeEnum::DNSRR,
        _ => EndpointSpecModeEnum::VIP,
    };
    EndpointSpec { mode: Some(mode), ports: (!ports.is_empty()).then_some(ports) }
}
