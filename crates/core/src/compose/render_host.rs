//! The parts of a service that `docker compose config` prints beyond the deployment fields:
//! container settings (sizes as byte strings, lists as lists), `build`, `container_name`,
//! secrets and configs, and the nulls and empty objects Compose fills in.

use serde_json::{json, Map, Value};

use super::syntax::format_duration;
use crate::stack::{BuildSpec, FileMountSpec, ServiceSpec, UpdateConfig, UpdateOrder};

fn put_list(m: &mut Map<String, Value>, k: &str, v: &[String]) {
    if !v.is_empty() {
        m.insert(k.into(), json!(v));
    }
}

fn put<T: serde::Serialize>(m: &mut Map<String, Value>, k: &str, v: &Option<T>) {
    if let Some(v) = v {
        m.insert(k.into(), json!(v));
    }
}

/// A number as Compose prints it (integers without a fraction).
pub fn number(c: f64) -> Value {
    if c.fract() == 0.0 && c.abs() < 1e15 {
        json!(c as i64)
    } else {
        json!(c)
    }
}

fn file_mounts(v: &[FileMountSpec], secrets: bool) -> Value {
    let items: Vec<Value> = v
        .iter()
        .map(|f| {
            let mut e = Map::new();
            e.insert("source".into(), json!(f.source));
            match (&f.written_target, secrets) {
                (Some(t), _) => {
                    e.insert("target".into(), json!(t));
                }
                (None, true) => {
                    e.insert("target".into(), json!(f.target));
                }
                (None, false) => {}
            }
            for (k, v) in [("uid", &f.uid), ("gid", &f.gid)] {
                if let Some(v) = v {
                    e.insert(k.into(), json!(v));
                }
            }
            if let Some(mode) = f.mode {
                e.insert("mode".into(), json!(format!("{mode:04o}")));
            }
            Value::Object(e)
        })
        .collect();
    Value::Array(items)
}

fn build(b: &BuildSpec) -> Value {
    let mut m = Map::new();
    m.insert("context".into(), json!(b.context));
    match (&b.dockerfile, &b.dockerfile_inline) {
        (Some(d), _) => {
            m.insert("dockerfile".into(), json!(d));
        }
        (None, None) => {
            m.insert("dockerfile".into(), json!("Dockerfile"));
        }
        _ => {}
    }
    put(&mut m, "dockerfile_inline", &b.dockerfile_inline);
    let args: std::collections::BTreeMap<&String, &String> =
        b.args.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k, v))).collect();
    if !args.is_empty() {
        m.insert("args".into(), json!(args));
    }
    put(&mut m, "target", &b.target);
    if !b.labels.is_empty() {
        m.insert("labels".into(), json!(b.labels));
    }
    put_list(&mut m, "tags", &b.tags);
    put_list(&mut m, "cache_from", &b.cache_from);
    let hosts: Vec<String> = b.extra_hosts.iter().map(|h| h.replacen(':', "=", 1)).collect();
    put_list(&mut m, "extra_hosts", &hosts);
    put(&mut m, "network", &b.network);
    put(&mut m, "shm_size", &b.shm_size.map(|s| s.to_string()));
    put_list(&mut m, "platforms", &b.platforms);
    for (k, v) in &b.unapplied {
        m.insert(k.clone(), v.clone());
    }
    if b.no_cache {
        m.insert("no_cache".into(), json!(true));
    }
    if b.pull {
        m.insert("pull".into(), json!(true));
    }
    Value::Object(m)
}

/// Add the container settings of `s` to its rendered mapping `m`.
pub fn render(s: &ServiceSpec, m: &mut Map<String, Value>) {
    let h = &s.host;
    m.entry("command").or_insert(Value::Null);
    m.entry("entrypoint").or_insert(Value::Null);
    if let Some(b) = &s.build {
        m.insert("build".into(), build(b));
    }
    if s.image.is_none() {
        m.remove("image");
    }
    put(m, "container_name", &s.container_name);
    put(m, "hostname", &h.hostname);
    put(m, "domainname", &h.domainname);
    put_list(m, "expose", &h.expose);
    put_list(m, "cap_add", &h.cap_add);
    put_list(m, "cap_drop", &h.cap_drop);
    put(m, "network_mode", &h.network_mode);
    put_list(m, "security_opt", &h.security_opt);
    put_list(m, "tmpfs", &h.tmpfs);
    put_list(m, "links", &h.links);
    put_list(m, "external_links", &h.external_links);
    put_list(m, "dns", &h.dns);
    put_list(m, "dns_search", &h.dns_search);
    put_list(m, "dns_opt", &h.dns_opt);
    if !h.sysctls.is_empty() {
        m.insert("sysctls".into(), json!(h.sysctls));
    }
    if !h.ulimits.is_empty() {
        let u: Map<String, Value> = h
            .ulimits
            .iter()
            .map(|(k, (s, hd))| {
                let single = h.ulimits_single.contains(k);
                (k.clone(), if single { json!(s) } else { json!({"soft": s, "hard": hd}) })
            })
            .collect();
        m.insert("ulimits".into(), Value::Object(u));
    }
    put(m, "platform", &h.platform);
    if let Some(l) = &h.logging {
        let mut e = Map::new();
        put(&mut e, "driver", &l.driver);
        if !l.options.is_empty() {
            e.insert("options".into(), json!(l.options));
        }
        m.insert("logging".into(), Value::Object(e));
    }
    put(m, "pids_limit", &h.pids_limit);
    put(m, "runtime", &h.runtime);
    for (k, v) in
        [("read_only", h.read_only), ("stdin_open", h.stdin_open), ("tty", h.tty), ("privileged", h.privileged)]
    {
        if v {
            m.insert(k.into(), json!(true));
        }
    }
    for (k, v) in [
        ("mem_limit", h.mem_limit),
        ("memswap_limit", h.memswap_limit),
        ("mem_reservation", h.mem_reservation),
        ("shm_size", h.shm_size),
    ] {
        put(m, k, &v.map(|b| b.to_string()));
    }
    put(m, "mem_swappiness", &h.mem_swappiness);
    put(m, "cpus", &h.cpus.map(number));
    put(m, "cpu_shares", &h.cpu_shares);
    put(m, "cpu_period", &h.cpu_period);
    put(m, "cpu_quota", &h.cpu_quota);
    put(m, "cpuset", &h.cpuset);
    if !h.devices.is_empty() {
        m.insert("devices".into(), json!(h.devices));
    }
    if !h.gpus.is_empty() {
        m.insert("gpus".into(), json!(h.gpus));
    }
    put_list(m, "device_cgroup_rules", &h.device_cgroup_rules);
    put_list(m, "group_add", &h.group_add);
    put(m, "ipc", &h.ipc);
    put(m, "pid", &h.pid);
    put(m, "uts", &h.uts);
    put(m, "cgroup", &h.cgroup);
    put(m, "cgroup_parent", &h.cgroup_parent);
    put(m, "oom_kill_disable", &h.oom_kill_disable.filter(|d| *d));
    put(m, "oom_score_adj", &h.oom_score_adj.filter(|a| *a != 0));
    put(m, "userns_mode", &h.userns_mode);
    put(m, "mac_address", &h.mac_address);
    if !h.storage_opt.is_empty() {
        m.insert("storage_opt".into(), json!(h.storage_opt));
    }
    if !h.annotations.is_empty() {
        m.insert("annotations".into(), json!(h.annotations));
    }
    if !s.secrets.is_empty() {
        m.insert("secrets".into(), file_mounts(&s.secrets, true));
    }
    if !s.configs.is_empty() {
        m.insert("configs".into(), file_mounts(&s.configs, false));
    }
    if s.host.network_mode.is_some() && s.networks.is_empty() {
        m.remove("networks");
    }
}

/// A duration in Go notation.
pub(super) fn dur(d: Option<std::time::Duration>) -> Option<Value> {
    d.map(|d| json!(format_duration(d)))
}

/// `update_config` / `rollback_config`.
pub(super) fn update(u: &UpdateConfig) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.into(), v);
        }
    };
    put("parallelism", u.parallelism.map(|p| json!(p)));
    put("delay", dur(u.delay));
    put("failure_action", u.failure_action.as_ref().map(|a| json!(a)));
    put("monitor", dur(u.monitor));
    put(
        "order",
        u.order.map(|o| {
            json!(match o {
                UpdateOrder::StartFirst => "start-first",
                UpdateOrder::StopFirst => "stop-first",
            })
        }),
    );
    Value::Object(m)
}
