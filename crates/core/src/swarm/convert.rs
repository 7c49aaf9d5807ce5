//! StackSpec service -> bollard `ServiceSpec`, following docker/cli's `cli/compose/convert`
//! (`service.go`): entrypoint -> `Command`, command -> `Args`, env sorted, healthcheck in
//! nanoseconds (`NONE` when disabled), `deploy.labels` on the service and `labels` on the
//! containers (both with `com.docker.stack.namespace`), restart policy from
//! `deploy.restart_policy` else `restart:`, networks sorted with the service name as alias.
//! slipway's additions: the image pinned by digest, health-gated update defaults
//! ([`UpdateDefaults`]) and its own labels. Pure: unit-tested on fixtures.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec,
    EndpointSpecModeEnum, HealthConfig, Limit, Mount, MountType, NetworkAttachmentConfig, ResourceObject, ServiceSpec,
    ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecModeReplicatedJob, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1, TaskSpecContainerSpecSecrets,
    TaskSpecPlacement, TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};

use super::settings::{self, SwarmMode};
use crate::stack::{MountKind, ServiceSpec as Svc, StackSpec, UpdateConfig, UpdateOrder};

/// Label with the compose project on every service (as `docker stack deploy` sets it).
pub const STACK_NAMESPACE: &str = "com.docker.stack.namespace";
/// Label with the image as written.
pub const STACK_IMAGE: &str = "com.docker.stack.image";

/// What slipway decides for a service's updates when the compose file does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateDefaults {
    /// How many nodes can run the service (for the host-port clash rule).
    pub nodes: usize,
    /// The monitor period after each task update.
    pub monitor: Duration,
}

/// The Swarm name of a service: `<project>_<service>` (as `docker stack deploy` names it).
pub fn service_name(project: &str, service: &str) -> String {
    format!("{project}_{service}")
}

/// The names of the secrets and configs this release uses, by compose key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectNames {
    /// Secret key -> Swarm secret name.
    pub secrets: BTreeMap<String, String>,
    /// Config key -> Swarm config name.
    pub configs: BTreeMap<String, String>,
    /// Swarm object name -> its id (Swarm wants both in a reference).
    pub ids: BTreeMap<String, String>,
}

/// Start-first, unless a host-mode port could clash on a node (global mode, or as many replicas
/// as nodes: the new task would need a node whose port is held), or a single replica writes a
/// named volume; the compose file's `update_config.order` wins.
pub fn update_order(svc: &Svc, defaults: &UpdateDefaults) -> UpdateOrder {
    if let Some(order) = svc.deploy.update_config.as_ref().and_then(|u| u.order) {
        return order;
    }
    let host_port = svc.ports.iter().any(|p| {
        p.mode.as_deref() == Some("host") && p.published.as_deref().is_some_and(|s| !s.is_empty() && s != "0")
    });
    let replicas = svc.deploy.replicas.unwrap_or(1) as usize;
    let clash = match settings::mode(svc) {
        SwarmMode::Global => true,
        _ => replicas >= defaults.nodes.max(1),
    };
    let named_volume = svc.volumes.iter().any(|m| m.kind == MountKind::Volume && m.source.is_some());
    if (host_port && clash) || (named_volume && replicas <= 1) {
        UpdateOrder::StopFirst
    } else {
        UpdateOrder::StartFirst
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The Swarm spec of one service. `pinned` is `repo@sha256:...`; `labels` are slipway's own
/// service labels (project, release, config hash), added last.
pub fn service_spec(
    stack: &StackSpec,
    svc: &Svc,
    pinned: &str,
    objects: &ObjectNames,
    defaults: &UpdateDefaults,
) -> ServiceSpec {
    let ns = || (STACK_NAMESPACE.to_string(), stack.name.clone());
    let mut service_labels: HashMap<String, String> =
        svc.deploy.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    service_labels.extend([ns(), (STACK_IMAGE.into(), svc.image.clone().unwrap_or_default())]);
    let mut container_labels: HashMap<String, String> =
        svc.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    container_labels.insert(STACK_NAMESPACE.into(), stack.name.clone());

    let env: Vec<String> = svc
        .environment
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    let container = TaskSpecContainerSpec {
        image: Some(pinned.to_string()),
        command: svc.entrypoint.clone(),
        args: svc.command.clone(),
        hostname: svc.host.hostname.clone(),
        env: (!env.is_empty()).then_some(env),
        dir: svc.working_dir.clone(),
        user: svc.user.clone(),
        labels: Some(container_labels),
        tty: svc.host.tty.then_some(true),
        open_stdin: svc.host.stdin_open.then_some(true),
        read_only: svc.host.read_only.then_some(true),
        mounts: mounts(stack, svc),
        stop_signal: svc.stop_signal.clone(),
        stop_grace_period: svc.stop_grace_period.map(nanos),
        health_check: healthcheck(svc),
        hosts: extra_hosts(&svc.extra_hosts),
        secrets: secrets(svc, objects),
        configs: configs(svc, objects),
        init: svc.init,
        sysctls: (!svc.host.sysctls.is_empty())
            .then(|| svc.host.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        capability_add: (!svc.host.cap_add.is_empty()).then(|| svc.host.cap_add.clone()),
        capability_drop: (!svc.host.cap_drop.is_empty()).then(|| svc.host.cap_drop.clone()),
        ..Default::default()
    };
    let order = update_order(svc, defaults);
    ServiceSpec {
        name: Some(service_name(&stack.name, &svc.name)),
        labels: Some(service_labels),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            resources: resources(svc),
            restart_policy: restart_policy(svc),
            placement: placement(svc),
            networks: Some(networks(stack, svc)),
            ..Default::default()
        }),
        mode: Some(mode(svc)),
        update_config: (!settings::mode(svc).is_job())
            .then(|| update_config(svc.deploy.update_config.as_ref(), order, defaults)),
        rollback_config: (!settings::mode(svc).is_job())
            .then(|| rollback_config(svc.deploy.rollback_config.as_ref(), order, defaults)),
        endpoint_spec: Some(endpoint(svc)),
        ..Default::default()
    }
}

fn mode(svc: &Svc) -> ServiceSpecMode {
    let replicas = svc.deploy.replicas.map(i64::from);
    match settings::mode(svc) {
        SwarmMode::Global => ServiceSpecMode { global: Some(HashMap::new()), ..Default::default() },
        SwarmMode::GlobalJob => ServiceSpecMode { global_job: Some(HashMap::new()), ..Default::default() },
        SwarmMode::ReplicatedJob => ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob {
                max_concurrent: Some(replicas.unwrap_or(1)),
                total_completions: Some(replicas.unwrap_or(1)),
            }),
            ..Default::default()
        },
        SwarmMode::Replicated => ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(replicas.unwrap_or(1)) }),
            ..Default::default()
        },
    }
}

fn healthcheck(svc: &Svc) -> Option<HealthConfig> {
    if svc.healthcheck_disabled {
        return Some(HealthConfig { test: Some(vec!["NONE".into()]), ..Default::default() });
    }
    let hc = svc.healthcheck.as_ref()?;
    Some(HealthConfig {
        test: Some(hc.test.clone()),
        interval: hc.interval.map(nanos),
        timeout: hc.timeout.map(nanos),
        retries: hc.retries.map(i64::from),
        start_period: hc.start_period.map(nanos),
        // start_interval needs API 1.44; Docker 20.10 speaks 1.41 (a warning says so).
        start_interval: None,
    })
}

/// compose's `host:ip` -> Swarm's `ip host` (as docker/cli's `convertExtraHosts`).
fn extra_hosts(hosts: &[String]) -> Option<Vec<String>> {
    let out: Vec<String> = hosts
        .iter()
        .filter_map(|h| h.split_once(':').or_else(|| h.split_once('=')).map(|(n, ip)| format!("{ip} {n}")))
        .collect();
    (!out.is_empty()).then_some(out)
}

fn mounts(stack: &StackSpec, svc: &Svc) -> Option<Vec<Mount>> {
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

fn secrets(svc: &Svc, objects: &ObjectNames) -> Option<Vec<TaskSpecContainerSpecSecrets>> {
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

fn configs(svc: &Svc, objects: &ObjectNames) -> Option<Vec<TaskSpecContainerSpecConfigs>> {
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

fn resources(svc: &Svc) -> Option<TaskSpecResources> {
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
    let reservations = (r_cpus.is_some() || r_mem.is_some()).then_some(ResourceObject {
        nano_cpus: r_cpus,
        memory_bytes: r_mem,
        ..Default::default()
    });
    (limits.is_some() || reservations.is_some()).then_some(TaskSpecResources {
        limits,
        reservations,
        ..Default::default()
    })
}

fn restart_policy(svc: &Svc) -> Option<TaskSpecRestartPolicy> {
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

fn placement(svc: &Svc) -> Option<TaskSpecPlacement> {
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

fn networks(stack: &StackSpec, svc: &Svc) -> Vec<NetworkAttachmentConfig> {
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

fn endpoint(svc: &Svc) -> EndpointSpec {
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

fn update_config(given: Option<&UpdateConfig>, order: UpdateOrder, d: &UpdateDefaults) -> ServiceSpecUpdateConfig {
    let g = given.cloned().unwrap_or_default();
    ServiceSpecUpdateConfig {
        parallelism: Some(i64::from(g.parallelism.unwrap_or(1))),
        delay: g.delay.map(nanos),
        failure_action: Some(match g.failure_action.as_deref() {
            Some("continue") => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            Some("pause") => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
            _ => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
        }),
        monitor: Some(nanos(g.monitor.unwrap_or(d.monitor))),
        max_failure_ratio: Some(0.0),
        order: Some(match order {
            UpdateOrder::StartFirst => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            UpdateOrder::StopFirst => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
        }),
    }
}

fn rollback_config(given: Option<&UpdateConfig>, order: UpdateOrder, d: &UpdateDefaults) -> ServiceSpecRollbackConfig {
    let g = given.cloned().unwrap_or_default();
    let order = g.order.unwrap_or(order);
    ServiceSpecRollbackConfig {
        parallelism: Some(i64::from(g.parallelism.unwrap_or(1))),
        delay: g.delay.map(nanos),
        failure_action: Some(match g.failure_action.as_deref() {
            Some("continue") => ServiceSpecRollbackConfigFailureActionEnum::CONTINUE,
            _ => ServiceSpecRollbackConfigFailureActionEnum::PAUSE,
        }),
        monitor: Some(nanos(g.monitor.unwrap_or(d.monitor))),
        max_failure_ratio: Some(0.0),
        order: Some(match order {
            UpdateOrder::StartFirst => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
            UpdateOrder::StopFirst => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
        }),
    }
}
