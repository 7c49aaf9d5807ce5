//! A `StackSpec` in the shape `docker compose config` prints: same field names and nesting,
//! environment as a map, command/entrypoint as lists, durations in Go notation, and every `$`
//! written as `$$` so that the output is itself a valid compose file.
//!
//! The defaults Compose fills in are printed too (`command: null`, `ipam: {}`, `volume: {}`,
//! `deploy.placement: {}`, `deploy.resources: {}`); top-level `x-*` keys are kept and
//! service-level ones dropped, as Compose does. Container settings: `render_host.rs`.

use serde_json::{json, Map, Value};

use super::render_host;
use super::syntax::format_duration;
use crate::stack::{DependencyCondition, FileObjectSource, MountKind, ServiceSpec, StackSpec};

/// The stack as compose's JSON value.
pub fn render(stack: &StackSpec) -> Value {
    let mut top = Map::new();
    top.insert("name".into(), json!(stack.name));
    if !stack.networks.is_empty() {
        let nets: Map<String, Value> = stack
            .networks
            .iter()
            .map(|(k, n)| {
                let mut m = Map::new();
                m.insert("name".into(), json!(n.name));
                if let Some(d) = &n.driver {
                    m.insert("driver".into(), json!(d));
                }
                if n.internal {
                    m.insert("internal".into(), json!(true));
                }
                if n.external {
                    m.insert("external".into(), json!(true));
                }
                m.insert("ipam".into(), n.ipam.clone().unwrap_or_else(|| json!({})));
                if !n.labels.is_empty() {
                    m.insert("labels".into(), json!(n.labels));
                }
                if n.attachable {
                    m.insert("attachable".into(), json!(true));
                }
                if let Some(v6) = n.enable_ipv6 {
                    m.insert("enable_ipv6".into(), json!(v6));
                }
                if !n.driver_opts.is_empty() {
                    m.insert("driver_opts".into(), json!(n.driver_opts));
                }
                (k.clone(), Value::Object(m))
            })
            .collect();
        top.insert("networks".into(), Value::Object(nets));
    }
    let services: Map<String, Value> = stack.services.iter().map(|(k, s)| (k.clone(), service(s))).collect();
    top.insert("services".into(), Value::Object(services));
    if !stack.volumes.is_empty() {
        let vols: Map<String, Value> = stack
            .volumes
            .iter()
            .map(|(k, v)| {
                let mut m = Map::new();
                m.insert("name".into(), json!(v.name));
                if let Some(d) = &v.driver {
                    m.insert("driver".into(), json!(d));
                }
                if v.external {
                    m.insert("external".into(), json!(true));
                }
                if !v.labels.is_empty() {
                    m.insert("labels".into(), json!(v.labels));
                }
                if !v.driver_opts.is_empty() {
                    m.insert("driver_opts".into(), json!(v.driver_opts));
                }
                (k.clone(), Value::Object(m))
            })
            .collect();
        top.insert("volumes".into(), Value::Object(vols));
    }
    for (key, objects) in [("secrets", &stack.secrets), ("configs", &stack.configs)] {
        if objects.is_empty() {
            continue;
        }
        let rendered: Map<String, Value> = objects
            .iter()
            .map(|(k, o)| {
                let mut m = Map::new();
                m.insert("name".into(), json!(o.name));
                match &o.source {
                    FileObjectSource::File(f) => m.insert("file".into(), json!(f)),
                    FileObjectSource::Environment(e) => m.insert("environment".into(), json!(e)),
                    FileObjectSource::Content(c) => m.insert("content".into(), json!(c)),
                    FileObjectSource::External(_) => m.insert("external".into(), json!(true)),
                };
                (k.clone(), Value::Object(m))
            })
            .collect();
        top.insert(key.into(), Value::Object(rendered));
    }
    for (k, v) in &stack.extensions {
        top.insert(k.clone(), v.clone());
    }
    if !stack.slipway.is_null() {
        top.insert("x-slipway".into(), stack.slipway.clone());
    }
    let mut v = Value::Object(top);
    escape_dollars(&mut v);
    v
}

/// The stack as pretty JSON (`--format json`).
pub fn render_json(stack: &StackSpec) -> String {
    serde_json::to_string_pretty(&render(stack)).unwrap_or_default()
}

/// The stack as YAML (`--format yaml`): as Compose's YAML, without the nulls and empty objects
/// its JSON carries (`command: null`, `entrypoint: null`, `ipam: {}`, `deploy.resources: {}`,
/// `deploy.placement: {}`) and with the services' `x-*` keys, which its YAML keeps.
pub fn render_yaml(stack: &StackSpec) -> String {
    let mut v = render(stack);
    let empty = |v: &Value| v.as_object().is_some_and(|o| o.is_empty());
    if let Some(services) = v.get_mut("services").and_then(Value::as_object_mut) {
        for (name, svc) in services.iter_mut() {
            let Some(svc) = svc.as_object_mut() else { continue };
            svc.retain(|k, v| !((k == "command" || k == "entrypoint") && v.is_null()));
            // Compose's YAML keeps a service's `x-*` keys (its JSON drops them).
            if let Some(spec) = stack.services.get(name) {
                for (k, x) in &spec.extensions {
                    let mut x = x.clone();
                    escape_dollars(&mut x);
                    svc.insert(k.clone(), x);
                }
            }
            if let Some(d) = svc.get_mut("deploy").and_then(Value::as_object_mut) {
                d.retain(|k, v| !((k == "resources" || k == "placement") && empty(v)));
            }
        }
    }
    if let Some(nets) = v.get_mut("networks").and_then(Value::as_object_mut) {
        for n in nets.values_mut().filter_map(Value::as_object_mut) {
            n.retain(|k, v| !(k == "ipam" && empty(v)));
        }
    }
    serde_yaml_ng::to_string(&v).unwrap_or_default()
}

fn escape_dollars(v: &mut Value) {
    match v {
        Value::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        Value::Array(a) => a.iter_mut().for_each(escape_dollars),
        Value::Object(o) => o.values_mut().for_each(escape_dollars),
        _ => {}
    }
}

fn service(s: &ServiceSpec) -> Value {
    let mut m = Map::new();
    if let Some(c) = &s.command {
        m.insert("command".into(), json!(c));
    }
    if !s.depends_on.is_empty() {
        let deps: Map<String, Value> = s
            .depends_on
            .iter()
            .map(|(k, d)| {
                let condition = match d.condition {
                    DependencyCondition::ServiceStarted => "service_started",
                    DependencyCondition::ServiceHealthy => "service_healthy",
                    DependencyCondition::ServiceCompletedSuccessfully => "service_completed_successfully",
                };
                let mut e = Map::new();
                e.insert("condition".into(), json!(condition));
                if d.restart {
                    e.insert("restart".into(), json!(true));
                }
                e.insert("required".into(), json!(d.required));
                (k.clone(), Value::Object(e))
            })
            .collect();
        m.insert("depends_on".into(), Value::Object(deps));
    }
    let d = &s.deploy;
    let mut dep = Map::new();
    if let Some(r) = d.replicas {
        dep.insert("replicas".into(), json!(r));
    }
    if !d.labels.is_empty() {
        dep.insert("labels".into(), json!(d.labels));
    }
    if let Some(u) = &d.update_config {
        dep.insert("update_config".into(), render_host::update(u));
    }
    if let Some(u) = &d.rollback_config {
        dep.insert("rollback_config".into(), render_host::update(u));
    }
    let mut resources = Map::new();
    if let Some(l) = &d.limits {
        let mut lim = Map::new();
        if let Some(c) = l.cpus {
            let cpus = if c.fract() == 0.0 && c.abs() < 1e15 { json!(c as i64) } else { json!(c) };
            lim.insert("cpus".into(), cpus);
        }
        if let Some(mem) = l.memory {
            lim.insert("memory".into(), json!(mem.to_string()));
        }
        if let Some(p) = l.pids {
            lim.insert("pids".into(), json!(p));
        }
        resources.insert("limits".into(), Value::Object(lim));
    }
    if d.reservation_memory.is_some()
        || d.reservation_cpus.is_some()
        || !d.reservation_devices.is_empty()
        || !d.generic_resources.is_empty()
    {
        let mut r = Map::new();
        if let Some(c) = d.reservation_cpus {
            r.insert("cpus".into(), render_host::number(c));
        }
        if let Some(mem) = d.reservation_memory {
            r.insert("memory".into(), json!(mem.to_string()));
        }
        if !d.reservation_devices.is_empty() {
            r.insert("devices".into(), json!(d.reservation_devices));
        }
        if !d.generic_resources.is_empty() {
            r.insert("generic_resources".into(), json!(d.generic_resources));
        }
        resources.insert("reservations".into(), Value::Object(r));
    }
    for (k, v) in &d.swarm {
        dep.insert(k.clone(), v.clone());
    }
    if d.present {
        dep.insert("resources".into(), Value::Object(resources));
        dep.entry("placement").or_insert(json!({}));
        m.insert("deploy".into(), Value::Object(dep));
    }
    if let Some(e) = &s.entrypoint {
        m.insert("entrypoint".into(), json!(e));
    }
    if !s.environment.is_empty() {
        m.insert("environment".into(), json!(s.environment));
    }
    if !s.extra_hosts.is_empty() {
        let mut hosts: Vec<String> = s.extra_hosts.iter().map(|h| h.replacen(':', "=", 1)).collect();
        hosts.sort();
        m.insert("extra_hosts".into(), json!(hosts));
    }
    if s.healthcheck_disabled {
        m.insert("healthcheck".into(), json!({ "disable": true }));
    } else if let Some(h) = &s.healthcheck {
        let mut hc = Map::new();
        if !h.test.is_empty() {
            hc.insert("test".into(), json!(h.test));
        }
        for (k, v) in [("timeout", h.timeout), ("interval", h.interval)] {
            if let Some(v) = render_host::dur(v) {
                hc.insert(k.into(), v);
            }
        }
        if let Some(r) = h.retries {
            hc.insert("retries".into(), json!(r));
        }
        for (k, v) in [("start_period", h.start_period), ("start_interval", h.start_interval)] {
            if let Some(v) = render_host::dur(v) {
                hc.insert(k.into(), v);
            }
        }
        m.insert("healthcheck".into(), Value::Object(hc));
    }
    m.insert("image".into(), json!(s.image));
    if let Some(i) = s.init {
        m.insert("init".into(), json!(i));
    }
    if !s.labels.is_empty() {
        m.insert("labels".into(), json!(s.labels));
    }
    let nets: Map<String, Value> = s
        .networks
        .iter()
        .map(|(k, n)| {
            let mut e = Map::new();
            if !n.aliases.is_empty() {
                e.insert("aliases".into(), json!(n.aliases));
            }
            for (key, v) in [("ipv4_address", &n.ipv4_address), ("ipv6_address", &n.ipv6_address)] {
                if let Some(v) = v {
                    e.insert(key.into(), json!(v));
                }
            }
            if let Some(p) = n.priority {
                e.insert("priority".into(), json!(p));
            }
            (k.clone(), if e.is_empty() { Value::Null } else { Value::Object(e) })
        })
        .collect();
    m.insert("networks".into(), Value::Object(nets));
    if !s.ports.is_empty() {
        let ports: Vec<Value> = s
            .ports
            .iter()
            .map(|p| {
                let mut e = Map::new();
                e.insert("mode".into(), json!(p.mode.as_deref().unwrap_or("ingress")));
                if let Some(ip) = &p.host_ip {
                    e.insert("host_ip".into(), json!(ip));
                }
                e.insert("target".into(), json!(p.target));
                if let Some(pp) = &p.published {
                    e.insert("published".into(), json!(pp));
                }
                e.insert("protocol".into(), json!(p.protocol));
                Value::Object(e)
            })
            .collect();
        m.insert("ports".into(), json!(ports));
    }
    if !s.profiles.is_empty() {
        m.insert("profiles".into(), json!(s.profiles));
    }
    for (k, v) in [
        ("restart", &s.restart),
        ("stop_grace_period", &s.stop_grace_period.map(format_duration)),
        ("stop_signal", &s.stop_signal),
        ("pull_policy", &s.pull_policy.map(|p| p.as_str().to_string())),
        ("user", &s.user),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    if !s.volumes.is_empty() {
        let vols: Vec<Value> = s
            .volumes
            .iter()
            .map(|v| {
                let mut e = Map::new();
                let kind = match v.kind {
                    MountKind::Volume => "volume",
                    MountKind::Bind => "bind",
                    MountKind::Tmpfs => "tmpfs",
                };
                e.insert("type".into(), json!(kind));
                if let Some(src) = &v.source {
                    e.insert("source".into(), json!(src));
                }
                e.insert("target".into(), json!(v.target));
                if v.read_only {
                    e.insert("read_only".into(), json!(true));
                }
                let o = s.mount_options.get(&v.target).cloned().unwrap_or_default();
                match v.kind {
                    MountKind::Bind => {
                        let mut b = Map::new();
                        if let Some(p) = &o.propagation {
                            b.insert("propagation".into(), json!(p));
                        }
                        if v.create_host_path {
                            b.insert("create_host_path".into(), json!(true));
                        }
                        if let Some(z) = &o.selinux {
                            b.insert("selinux".into(), json!(z));
                        }
                        if !b.is_empty() {
                            e.insert("bind".into(), Value::Object(b));
                        }
                    }
                    MountKind::Volume => {
                        if let Some(z) = &o.selinux {
                            e.insert("bind".into(), json!({ "selinux": z }));
                        }
                        let mut b = Map::new();
                        if o.nocopy {
                            b.insert("nocopy".into(), json!(true));
                        }
                        if let Some(p) = &o.subpath {
                            b.insert("subpath".into(), json!(p));
                        }
                        e.insert("volume".into(), Value::Object(b));
                    }
                    MountKind::Tmpfs => {
                        let mut b = Map::new();
                        if let Some(size) = o.tmpfs_size {
                            b.insert("size".into(), json!(size.to_string()));
                        }
                        if let Some(mode) = o.tmpfs_mode {
                            b.insert("mode".into(), json!(mode));
                        }
                        if !b.is_empty() {
                            e.insert("tmpfs".into(), Value::Object(b));
                        }
                    }
                }
                Value::Object(e)
            })
            .collect();
        m.insert("volumes".into(), json!(vols));
    }
    if let Some(w) = &s.working_dir {
        m.insert("working_dir".into(), json!(w));
    }
    render_host::render(s, &mut m);
    Value::Object(m)
}
