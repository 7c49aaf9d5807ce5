//! StackSpec service -> bollard `ServiceSpec`, following docker/cli's `cli/compose/convert`
//! (`service.go`): entrypoint -> `Command`, command -> `Args`, env sorted, healthcheck in
//! nanoseconds (`NONE` when disabled), `deploy.labels` on the service and `labels` on the
//! containers (both with `com.docker.stack.namespace`), `dns`/`dns_search`/`dns_opt` ->
//! `DNSConfig`, `ulimits` -> `Ulimits`, `logging` -> the task's `LogDriver`. The task-level parts
//! (mounts, secrets, resources, placement, networks, ports) are in `convert_task`, the update
//! settings in `convert_update`. slipway's additions: the image pinned by digest and its own
//! labels. Pure: unit-tested on fixtures.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::models::{
    HealthConfig, ResourcesUlimits, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecModeReplicatedJob, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecDnsConfig, TaskSpecLogDriver,
};

use super::convert_task::{configs, endpoint, mounts, networks, placement, resources, restart_policy, secrets};
use super::convert_update::{rollback_config, update_config, update_order, UpdateDefaults};
use super::settings::{self, SwarmMode};
use crate::stack::{ServiceSpec as Svc, StackSpec};

/// Label with the compose project on every service (as `docker stack deploy` sets it).
pub const STACK_NAMESPACE: &str = "com.docker.stack.namespace";
/// Label with the image as written.
pub const STACK_IMAGE: &str = "com.docker.stack.image";

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

pub(crate) fn nanos(d: Duration) -> i64 {
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
        dns_config: dns_config(svc),
        ulimits: ulimits(svc),
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
            log_driver: log_driver(svc),
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

/// `dns`, `dns_search`, `dns_opt` -> `DNSConfig` (as docker/cli's `convertDNSConfig`, plus options).
fn dns_config(svc: &Svc) -> Option<TaskSpecContainerSpecDnsConfig> {
    let h = &svc.host;
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    (!h.dns.is_empty() || !h.dns_search.is_empty() || !h.dns_opt.is_empty()).then(|| TaskSpecContainerSpecDnsConfig {
        nameservers: some(&h.dns),
        search: some(&h.dns_search),
        options: some(&h.dns_opt),
    })
}

/// `ulimits` -> `Ulimits`, sorted by name (as docker/cli's `convertUlimits`; API 1.41+).
fn ulimits(svc: &Svc) -> Option<Vec<ResourcesUlimits>> {
    let out: Vec<ResourcesUlimits> = svc
        .host
        .ulimits
        .iter()
        .map(|(name, (soft, hard))| ResourcesUlimits { name: Some(name.clone()), soft: Some(*soft), hard: Some(*hard) })
        .collect();
    (!out.is_empty()).then_some(out)
}

/// `logging` -> the task's `LogDriver` (as docker/cli: only when a driver is named).
fn log_driver(svc: &Svc) -> Option<TaskSpecLogDriver> {
    let l = svc.host.logging.as_ref()?;
    let name = l.driver.clone()?;
    let options: HashMap<String, String> = l.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    Some(TaskSpecLogDriver { name: Some(name), options: (!options.is_empty()).then_some(options) })
}
