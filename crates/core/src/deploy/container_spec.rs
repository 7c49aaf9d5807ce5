//! From a `ServiceSpec` to the engine's container-create body: env, command, entrypoint, ports,
//! mounts, networks and aliases, healthcheck, labels, restart, user, workdir, stop signal and
//! grace period, init, extra hosts, limits; the rest of the container settings (capabilities,
//! DNS, devices, logging, mount options, secrets) in `host.rs` (CDI device names in `cdi.rs`); secrets and configs copied in
//! before start in `copy_in.rs`. Pure (but `copy_in::upload`): tested without an engine.

mod cdi;
mod copy_in;
pub(crate) mod host;
mod resources;

pub use copy_in::FileCopy;
pub(crate) use copy_in::{check as check_file_copies, digest as copy_in_digest, upload as upload_files};

pub use resources::{network_create, volume_create};
pub(crate) use resources::{network_request, volume_request};

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig, Mount, MountType,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};

use super::labels::ContainerIdentity;
use crate::stack::{MountKind, ServiceSpec, StackSpec};

/// A container to create: the body, its name, and the networks to connect after creation (API
/// 1.41 accepts one endpoint at creation time).
#[derive(Debug, Clone)]
pub struct ContainerPlan {
    /// Container name.
    pub name: String,
    /// Create body (with the first network).
    pub body: ContainerCreateBody,
    /// Further networks: (engine-side name, aliases).
    pub more_networks: Vec<(String, Vec<String>)>,
    /// Static addresses (`ipv4_address`/`ipv6_address`) on the further networks, by engine-side
    /// name (the first network's are in the body).
    pub static_ips: HashMap<String, EndpointIpamConfig>,
    /// `platform:`, passed as create's `platform` query parameter.
    pub platform: Option<String>,
    /// Secrets and configs copied in after create, before start (`environment:`/`content:`).
    pub files: Vec<FileCopy>,
}

/// Build the container for one replica of `svc` (whose `image` is already pinned).
pub fn container_plan(stack: &StackSpec, svc: &ServiceSpec, id: &ContainerIdentity<'_>) -> ContainerPlan {
    let mut labels: HashMap<String, String> = svc.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.extend(id.labels());
    // route room: containers whose traffic slipway switches through Traefik's file provider are
    // hidden from a Traefik Docker provider (`traefik.enable=false`) and labelled with their route.
    if stack.slipway.get("traefik").is_some() && super::rules::is_routed(svc) {
        if let Ok(Some(route)) = crate::route::RouteSpec::from_service(&stack.name, svc) {
            labels.extend(crate::route::container_labels(&route, &Default::default()));
        }
    }
    let env: Vec<String> = svc.environment.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect();

    // As Compose: `expose` entries go to the engine as written (no protocol added, ranges kept).
    let mut exposed: Vec<String> = svc.host.expose.clone();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &svc.ports {
        let key = format!("{}/{}", p.target, if p.protocol.is_empty() { "tcp" } else { &p.protocol });
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        let host_port = p.published.as_deref().map(|s| s.split('-').next().unwrap_or(s).to_string());
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding { host_ip: p.host_ip.clone(), host_port: Some(host_port.unwrap_or_default()) });
    }

    // Short-syntax binds go through `Binds`, which creates a missing host path as compose does;
    // so do mounts relabelled for SELinux (`:z`/`:Z`), which the mount API cannot express.
    let by_binds = |m: &crate::stack::MountSpec| {
        let o = svc.mount_options.get(&m.target);
        let selinux = o.is_some_and(|o| o.selinux.is_some());
        // Named volumes stay on the mount API (hook containers leave out those not created yet;
        // Compose passes plain ones as `Binds`, with the same effective mount).
        (m.kind == MountKind::Bind && m.create_host_path)
            || (m.kind != MountKind::Tmpfs && m.source.is_some() && selinux)
    };
    let binds: Vec<String> = svc
        .volumes
        .iter()
        .filter(|m| by_binds(m))
        .filter_map(|m| {
            let src = m.source.as_ref()?;
            let src = match m.kind {
                MountKind::Volume => stack.volumes.get(src).map(|v| v.name.clone()).unwrap_or(src.clone()),
                _ => src.clone(),
            };
            Some(format!("{src}:{}{}", m.target, host::bind_modes(m.read_only, svc.mount_options.get(&m.target))))
        })
        .collect();
    let mut mounts: Vec<Mount> = svc
        .volumes
        .iter()
        .filter(|m| !by_binds(m))
        .map(|m| {
            let (typ, source) = match m.kind {
                MountKind::Volume => (
                    MountType::VOLUME,
                    m.source.as_ref().map(|s| stack.volumes.get(s).map(|v| v.name.clone()).unwrap_or(s.clone())),
                ),
                MountKind::Bind => (MountType::BIND, m.source.clone()),
                MountKind::Tmpfs => (MountType::TMPFS, None),
            };
            let mut mount = Mount {
                target: Some(m.target.clone()),
                source,
                typ: Some(typ),
                read_only: Some(m.read_only),
                ..Default::default()
            };
            if let Some(o) = svc.mount_options.get(&m.target) {
                host::mount_options(&mut mount, o);
            }
            mount
        })
        .collect();
    mounts.extend(host::file_mounts(stack, svc));

    let disabled =
        svc.healthcheck_disabled.then(|| HealthConfig { test: Some(vec!["NONE".into()]), ..Default::default() });
    let healthcheck = svc
        .healthcheck
        .as_ref()
        .map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: h.interval.map(|d| d.as_nanos() as i64),
            timeout: h.timeout.map(|d| d.as_nanos() as i64),
            retries: h.retries.map(i64::from),
            start_period: h.start_period.map(|d| d.as_nanos() as i64),
            start_interval: None,
        })
        .or(disabled);

    let restart_policy = if id.oneoff { None } else { svc.restart.as_deref().map(restart_policy) };
    let mut host_config = HostConfig::default();
    host::apply(stack, svc, id.release, &mut host_config);
    let host_config = HostConfig {
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        mounts: (!mounts.is_empty()).then_some(mounts),
        binds: (!binds.is_empty()).then_some(binds),
        restart_policy,
        init: svc.init,
        extra_hosts: Some(svc.extra_hosts.clone()),
        ..host_config
    };

    let custom_mode = host::network_mode(stack, svc, id.release);
    let static_ips: HashMap<String, EndpointIpamConfig> = svc
        .networks
        .iter()
        .filter(|(_, n)| n.ipv4_address.is_some() || n.ipv6_address.is_some())
        .map(|(key, n)| {
            let name = stack.networks.get(key).map(|s| s.name.clone()).unwrap_or(key.clone());
            let ipam = EndpointIpamConfig {
                ipv4_address: n.ipv4_address.clone(),
                ipv6_address: n.ipv6_address.clone(),
                ..Default::default()
            };
            (name, ipam)
        })
        .collect();
    let mut nets: Vec<(String, Vec<String>)> = svc
        .networks
        .iter()
        .filter(|_| custom_mode.is_none())
        .map(|(key, n)| {
            let name = stack.networks.get(key).map(|s| s.name.clone()).unwrap_or(key.clone());
            let mut aliases = vec![svc.name.clone()];
            aliases.extend(n.aliases.iter().cloned());
            (name, aliases)
        })
        .collect();
    let first = (!nets.is_empty()).then(|| nets.remove(0));
    let networking_config = first.as_ref().map(|(name, aliases)| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            name.clone(),
            EndpointSettings {
                aliases: Some(aliases.clone()),
                ipam_config: static_ips.get(name).cloned(),
                ..Default::default()
            },
        )])),
    });

    let body = ContainerCreateBody {
        image: svc.image.clone(),
        env: Some(env),
        cmd: svc.command.clone(),
        entrypoint: svc.entrypoint.clone(),
        user: svc.user.clone(),
        working_dir: svc.working_dir.clone(),
        labels: Some(labels),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck,
        stop_signal: svc.stop_signal.clone(),
        stop_timeout: svc.stop_grace_period.map(|d| d.as_secs() as i64),
        hostname: svc.host.hostname.clone(),
        domainname: svc.host.domainname.clone(),
        tty: svc.host.tty.then_some(true),
        open_stdin: svc.host.stdin_open.then_some(true),
        host_config: Some(HostConfig {
            network_mode: custom_mode.or_else(|| first.as_ref().map(|(n, _)| n.clone())),
            ..host_config
        }),
        networking_config,
        ..Default::default()
    };
    // `container_name` is honoured for the service's (single, stop-first) replica.
    let name = match (&svc.container_name, id.oneoff) {
        (Some(n), false) => n.clone(),
        _ => id.container_name(),
    };
    let static_ips = static_ips.into_iter().filter(|(n, _)| nets.iter().any(|(m, _)| m == n)).collect();
    ContainerPlan {
        name,
        body,
        more_networks: nets,
        static_ips,
        platform: svc.host.platform.clone(),
        files: copy_in::file_copies(stack, svc),
    }
}

fn restart_policy(s: &str) -> RestartPolicy {
    let (name, count) = s.split_once(':').map(|(n, c)| (n, c.parse().ok())).unwrap_or((s, None));
    let name = match name {
        "always" => RestartPolicyNameEnum::ALWAYS,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        _ => RestartPolicyNameEnum::NO,
    };
    RestartPolicy { name: Some(name), maximum_retry_count: count }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::stack::{MountSpec, NetworkSpec, PortSpec, ServiceNetwork, VolumeSpec};

    #[test]
    fn service_becomes_a_create_body() {
        let mut stack = StackSpec { name: "shop".into(), ..Default::default() };
        stack.networks.insert("default".into(), NetworkSpec { name: "shop_default".into(), ..Default::default() });
        stack.networks.insert("edge".into(), NetworkSpec { name: "edge".into(), external: true, ..Default::default() });
        stack.volumes.insert("data".into(), VolumeSpec { name: "shop_data".into(), ..Default::default() });
        let mut svc = ServiceSpec { name: "web".into(), image: Some("demo@sha256:aa".into()), ..Default::default() };
        svc.environment.insert("A".into(), Some("1".into()));
        svc.environment.insert("UNSET".into(), None);
        svc.networks.insert("default".into(), ServiceNetwork::default());
        svc.networks.insert("edge".into(), ServiceNetwork { aliases: vec!["www".into()], ..Default::default() });
        svc.ports.push(PortSpec {
            target: 8080,
            published: Some("18080".into()),
            host_ip: Some("127.0.0.1".into()),
            protocol: "tcp".into(),
            mode: None,
        });
        svc.volumes.push(MountSpec {
            kind: MountKind::Volume,
            source: Some("data".into()),
            target: "/d".into(),
            read_only: false,
            create_host_path: false,
        });
        svc.stop_grace_period = Some(Duration::from_secs(7));
        svc.stop_signal = Some("SIGINT".into());
        svc.restart = Some("on-failure:3".into());
        let id = ContainerIdentity {
            project: "shop",
            service: "web",
            release: "4",
            config_hash: "h",
            replica: 1,
            oneoff: false,
        };
        let p = container_plan(&stack, &svc, &id);
        assert_eq!(p.name, "shop-web-1-r4");
        assert_eq!(p.body.env.as_deref(), Some(&["A=1".to_string()][..]));
        assert_eq!(p.body.stop_timeout, Some(7));
        let hc = p.body.host_config.as_ref().unwrap();
        assert_eq!(hc.network_mode.as_deref(), Some("shop_default"));
        assert_eq!(hc.mounts.as_ref().unwrap()[0].source.as_deref(), Some("shop_data"));
        let binding = &hc.port_bindings.as_ref().unwrap()["8080/tcp"].as_ref().unwrap()[0];
        assert_eq!(binding.host_port.as_deref(), Some("18080"));
        assert_eq!(hc.restart_policy.as_ref().unwrap().maximum_retry_count, Some(3));
        assert_eq!(p.more_networks, vec![("edge".to_string(), vec!["web".to_string(), "www".to_string()])]);
        assert_eq!(p.body.labels.as_ref().unwrap()["com.docker.compose.project"], "shop");
    }
}
