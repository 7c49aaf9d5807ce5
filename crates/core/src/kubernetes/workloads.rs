//! Workloads: the container and pod template of a service, and its Deployment. Start-first
//! (the default) is `RollingUpdate` with `maxUnavailable: 0` and `maxSurge` = the update
//! parallelism, so old pods serve until new ones are ready; stop-first is `maxSurge: 0`. A
//! service that mounts a named volume is `Recreate`: never two pods on one volume.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{Container, EnvFromSource, HostAlias, PodSpec, PodTemplateSpec, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::metadata::{image_version, Meta};
use super::names::dns_label;
use super::warning::{MappingWarning, WarningKind};
use crate::stack::{PullPolicy, ServiceSpec, UpdateOrder};

/// What a service's pod needs besides the service itself.
pub struct PodParts {
    /// The pod's volumes.
    pub volumes: Vec<Volume>,
    /// The container's mounts.
    pub mounts: Vec<VolumeMount>,
    /// `envFrom` (the service's ConfigMap and Secret).
    pub env_from: Vec<EnvFromSource>,
    /// sha256 of the environment and mounted contents: a change rolls the pods.
    pub config_hash: String,
    /// `restartPolicy` (`None` = the controller's default).
    pub restart_policy: Option<String>,
}

/// The pod template of a service.
pub fn pod_template(
    meta: &Meta,
    svc: &ServiceSpec,
    image: &str,
    parts: PodParts,
    warnings: &mut Vec<MappingWarning>,
) -> PodTemplateSpec {
    let (readiness, startup) = match &svc.healthcheck {
        Some(hc) => super::probes::probes(&svc.name, hc, warnings),
        None => (None, None),
    };
    let container = Container {
        name: dns_label(&svc.name),
        image: Some(image.to_string()),
        image_pull_policy: svc.pull_policy.map(|p| {
            match p {
                PullPolicy::Always => "Always",
                PullPolicy::Missing => "IfNotPresent",
                PullPolicy::Never => "Never",
            }
            .to_string()
        }),
        command: svc.entrypoint.clone().filter(|c| !c.is_empty()),
        args: svc.command.clone().filter(|c| !c.is_empty()),
        working_dir: svc.working_dir.clone(),
        env_from: (!parts.env_from.is_empty()).then_some(parts.env_from),
        volume_mounts: (!parts.mounts.is_empty()).then_some(parts.mounts),
        readiness_probe: readiness,
        startup_probe: startup,
        resources: super::security::resources(svc),
        security_context: super::security::security_context(svc, warnings),
        tty: svc.host.tty.then_some(true),
        stdin: svc.host.stdin_open.then_some(true),
        ..Default::default()
    };
    let host_aliases = host_aliases(svc, warnings);
    let mut labels = meta.labels(Some(&svc.name), image_version(image).as_deref());
    labels.extend(meta.selector_labels(&svc.name));
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert("dev.slipway.config-hash".to_string(), parts.config_hash);
    for (k, v) in &svc.labels {
        if !k.starts_with("traefik.") {
            annotations.insert(k.clone(), v.clone());
        }
    }
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels), annotations: Some(annotations), ..Default::default() }),
        spec: Some(PodSpec {
            containers: vec![container],
            volumes: (!parts.volumes.is_empty()).then_some(parts.volumes),
            termination_grace_period_seconds: svc.stop_grace_period.map(|d| d.as_secs() as i64),
            hostname: svc.host.hostname.as_deref().map(dns_label),
            host_aliases,
            restart_policy: parts.restart_policy,
            ..Default::default()
        }),
    }
}

fn host_aliases(svc: &ServiceSpec, warnings: &mut Vec<MappingWarning>) -> Option<Vec<HostAlias>> {
    let mut out: Vec<HostAlias> = Vec::new();
    for e in &svc.extra_hosts {
        let parsed = e.split_once('=').or_else(|| e.split_once(':'));
        match parsed {
            Some((host, ip)) if ip.parse::<std::net::IpAddr>().is_ok() => match out.iter_mut().find(|a| a.ip == ip) {
                Some(a) => a.hostnames.get_or_insert_with(Vec::new).push(host.to_string()),
                None => out.push(HostAlias { ip: ip.to_string(), hostnames: Some(vec![host.to_string()]) }),
            },
            _ => warnings.push(MappingWarning::service(
                &svc.name,
                format!("extra_hosts[{e}]"),
                WarningKind::Dropped,
                "hostAliases take a literal IP address (host-gateway has no cluster meaning)",
            )),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The Deployment of a long-running service.
pub fn deployment(
    meta: &Meta,
    svc: &ServiceSpec,
    template: PodTemplateSpec,
    named_volume: bool,
    warnings: &mut Vec<MappingWarning>,
) -> Deployment {
    let replicas = svc.deploy.replicas.unwrap_or(1);
    let update = svc.deploy.update_config.as_ref();
    let parallelism = update.and_then(|u| u.parallelism).filter(|p| *p > 0).unwrap_or(1);
    let step = IntOrString::Int(i32::try_from(parallelism).unwrap_or(i32::MAX));
    let strategy = if named_volume {
        if replicas > 1 {
            warnings.push(MappingWarning::service(
                &svc.name,
                "deploy.replicas",
                WarningKind::Approximated,
                format!("{replicas} replicas share one ReadWriteOnce volume: they must land on one node; use one replica, or a StatefulSet with a volume each"),
            ));
        }
        DeploymentStrategy { type_: Some("Recreate".into()), rolling_update: None }
    } else {
        let stop_first = update.and_then(|u| u.order) == Some(UpdateOrder::StopFirst);
        let (surge, unavailable) = if stop_first { (IntOrString::Int(0), step) } else { (step, IntOrString::Int(0)) };
        DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(surge),
                max_unavailable: Some(unavailable),
            }),
        }
    };
    let min_ready = update.and_then(|u| u.monitor).map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX));
    let mut metadata = meta.object(&dns_label(&svc.name), meta.labels(Some(&svc.name), None));
    let deps: Vec<&str> = svc.depends_on.keys().map(String::as_str).collect();
    if !deps.is_empty() {
        metadata.annotations = Some([("dev.slipway.depends-on".to_string(), deps.join(","))].into_iter().collect());
    }
    if !svc.deploy.labels.is_empty() {
        metadata.annotations.get_or_insert_with(Default::default).extend(svc.deploy.labels.clone());
    }
    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(replicas).unwrap_or(i32::MAX)),
            selector: meta.selector(&svc.name),
            strategy: Some(strategy),
            min_ready_seconds: min_ready.filter(|s| *s > 0),
            progress_deadline_seconds: Some(progress_deadline(svc)),
            revision_history_limit: Some(10),
            template,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `progressDeadlineSeconds`: `x-slipway.health_timeout` when given, else 600 (Kubernetes'
/// default), never less than the startup probe's whole budget.
pub fn progress_deadline(svc: &ServiceSpec) -> i32 {
    let explicit = svc
        .extensions
        .get("x-slipway")
        .and_then(|x| x.get("health_timeout"))
        .and_then(|v| v.as_str())
        .and_then(|s| humantime::parse_duration(s).ok());
    explicit.map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX).max(1)).unwrap_or(600)
}
