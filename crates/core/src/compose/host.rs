//! The service keys that become container settings (`HostSettings`): capabilities, limits, DNS,
//! devices, logging, `container_name`, secrets and configs, plus long-syntax mount options and
//! the `build:` section. Values are read from the model's `rest` map (already key-checked by
//! `schema.rs`); each bad value is an `InvalidValue` naming the key.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::error::ComposeError;
use super::service::Ctx;
use super::syntax;
use crate::stack::{DeviceSpec, FileMountSpec, HostSettings, LoggingSpec, MountOptions, ServiceSpec};

pub(super) type Res<T> = Result<T, String>;

pub(super) fn scalar(v: &Value) -> Res<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a string, found {}", super::model::kind(other))),
    }
}

/// A string setting; an empty string is no setting (Compose omits it too).
pub(super) fn opt_str(v: Option<&Value>) -> Res<Option<String>> {
    Ok(v.filter(|v| !v.is_null()).map(scalar).transpose()?.filter(|s| !s.is_empty()))
}

/// A string or a list of strings.
pub(super) fn str_list(v: Option<&Value>) -> Res<Vec<String>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Sequence(items)) => items.iter().map(scalar).collect(),
        Some(other) => Ok(vec![scalar(other)?]),
    }
}

/// A list of `K=V` (split at `sep`) or a mapping; `K` alone gives an empty value.
pub(super) fn str_map(v: Option<&Value>, sep: char) -> Res<BTreeMap<String, String>> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Mapping(m)) => {
            m.iter().map(|(k, v)| Ok((scalar(k)?, if v.is_null() { String::new() } else { scalar(v)? }))).collect()
        }
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|i| {
                let s = scalar(i)?;
                Ok(match s.split_once(sep) {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (s, String::new()),
                })
            })
            .collect(),
        Some(other) => Err(format!("expected a list or a mapping, found {}", super::model::kind(other))),
    }
}

pub(super) fn boolean(v: Option<&Value>) -> Res<Option<bool>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(other) => Err(format!("expected true or false, found `{}`", scalar(other).unwrap_or_default())),
    }
}

pub(super) fn int(v: Option<&Value>) -> Res<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let s = scalar(v)?;
            s.trim().parse().map(Some).map_err(|_| format!("expected an integer, found `{s}`"))
        }
    }
}

fn float(v: Option<&Value>) -> Res<Option<f64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let s = scalar(v)?;
            s.trim().parse().map(Some).map_err(|_| format!("expected a number, found `{s}`"))
        }
    }
}

/// A byte size: a number of bytes, or `512m`, `1g`, `64kb`...
pub(super) fn bytes(v: Option<&Value>) -> Res<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| format!("`{n}` is not a byte size")),
        Some(v) => {
            let s = scalar(v)?;
            if s.trim() == "-1" {
                return Ok(Some(-1));
            }
            syntax::parse_bytes(&s).map(|b| Some(b as i64))
        }
    }
}

type Ulimits = (BTreeMap<String, (i64, i64)>, Vec<String>);

fn ulimits(v: Option<&Value>) -> Res<Ulimits> {
    let Some(Value::Mapping(m)) = v else { return Ok(Default::default()) };
    let mut out = BTreeMap::new();
    let mut single = Vec::new();
    for (k, v) in m {
        let name = scalar(k)?;
        let pair = match v {
            Value::Mapping(_) => {
                let soft = int(v.get("soft"))?.ok_or(format!("ulimit `{name}` needs `soft`"))?;
                let hard = int(v.get("hard"))?.ok_or(format!("ulimit `{name}` needs `hard`"))?;
                (soft, hard)
            }
            other => {
                let n = int(Some(other))?.unwrap_or_default();
                single.push(name.clone());
                (n, n)
            }
        };
        out.insert(name, pair);
    }
    Ok((out, single))
}

fn device(v: &Value) -> Res<DeviceSpec> {
    if let Value::Mapping(_) = v {
        let source = opt_str(v.get("source"))?.ok_or("a device needs `source`")?;
        let target = opt_str(v.get("target"))?.unwrap_or_else(|| source.clone());
        let permissions = opt_str(v.get("permissions"))?.unwrap_or_else(|| "rwm".into());
        return Ok(DeviceSpec { source, target, permissions });
    }
    let s = scalar(v)?;
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, permissions) = match parts.as_slice() {
        [a] => (*a, *a, "rwm"),
        [a, b] => (*a, *b, "rwm"),
        [a, b, c] => (*a, *b, *c),
        _ => return Err(format!("invalid device `{s}`: write HOST[:CONTAINER[:PERMISSIONS]]")),
    };
    Ok(DeviceSpec { source: source.into(), target: target.into(), permissions: permissions.into() })
}

fn file_mounts(v: Option<&Value>, secrets: bool) -> Res<Vec<FileMountSpec>> {
    let Some(Value::Sequence(items)) = v else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for item in items {
        let (source, target, mode, uid, gid) = match item {
            Value::Mapping(_) => {
                let source = opt_str(item.get("source"))?.ok_or("needs `source`")?;
                let mode = match item.get("mode") {
                    Some(Value::Number(n)) => n.as_u64().map(|m| m as u32),
                    Some(Value::String(s)) => {
                        Some(u32::from_str_radix(s.trim_start_matches("0o"), 8).map_err(|_| format!("mode `{s}`"))?)
                    }
                    _ => None,
                };
                let id = |k: &str| -> Res<Option<String>> {
                    let v = opt_str(item.get(k))?;
                    match v {
                        Some(n) if n.parse::<u32>().is_err() => Err(format!("{k} `{n}` is not a number")),
                        v => Ok(v),
                    }
                };
                (source, opt_str(item.get("target"))?, mode, id("uid")?, id("gid")?)
            }
            other => (scalar(other)?, None, None, None, None),
        };
        let written_target = target.clone();
        let target = match target {
            Some(t) if t.starts_with('/') => t,
            Some(t) if secrets => format!("/run/secrets/{t}"),
            Some(t) => format!("/{t}"),
            None if secrets => format!("/run/secrets/{source}"),
            None => format!("/{source}"),
        };
        out.push(FileMountSpec { source, target, mode, written_target, uid, gid });
    }
    Ok(out)
}

/// The service keys `read` handles; any other key of the specification is refused by name.
const READ: &[&str] = &[
    "container_name",
    "hostname",
    "domainname",
    "expose",
    "cap_add",
    "cap_drop",
    "read_only",
    "network_mode",
    "security_opt",
    "tmpfs",
    "links",
    "external_links",
    "dns",
    "dns_search",
    "dns_opt",
    "sysctls",
    "ulimits",
    "platform",
    "logging",
    "pids_limit",
    "runtime",
    "stdin_open",
    "tty",
    "privileged",
    "mem_limit",
    "memswap_limit",
    "mem_reservation",
    "mem_swappiness",
    "cpus",
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "cpuset",
    "shm_size",
    "devices",
    "gpus",
    "device_cgroup_rules",
    "group_add",
    "ipc",
    "pid",
    "uts",
    "cgroup",
    "cgroup_parent",
    "oom_kill_disable",
    "oom_score_adj",
    "userns_mode",
    "mac_address",
    "storage_opt",
    "annotations",
    "secrets",
    "configs",
];

/// Why a valid Compose service key is refused (slipway neither applies nor prints it yet).
fn unsupported_reason(key: &str) -> String {
    match key {
        "develop" => "`develop` (watch) is a development feature; slipway deploys releases".into(),
        "scale" => "use `deploy.replicas`".into(),
        other => format!("slipway does not apply `{other}` on a Docker host yet; remove it or move it under `x-`"),
    }
}

/// Read the container-setting keys of service `name` from `rest` into `spec`.
pub fn read(
    ctx: &mut Ctx,
    name: &str,
    rest: &BTreeMap<String, Value>,
    spec: &mut ServiceSpec,
) -> Result<(), ComposeError> {
    let mut h = HostSettings::default();
    let g = |k: &str| rest.get(k);
    let mut errors: Vec<ComposeError> = Vec::new();
    for key in rest.keys().filter(|k| !READ.contains(&k.as_str())) {
        errors.push(ComposeError::UnsupportedKey {
            at: ctx.at(name, key),
            key: key.clone(),
            reason: unsupported_reason(key),
        });
    }
    let mut check = |key: &str, r: Res<()>| {
        if let Err(m) = r {
            errors.push(ctx.invalid(name, key, m));
        }
    };
    check("container_name", opt_str(g("container_name")).map(|v| spec.container_name = v));
    check("hostname", opt_str(g("hostname")).map(|v| h.hostname = v));
    check("domainname", opt_str(g("domainname")).map(|v| h.domainname = v));
    check("expose", str_list(g("expose")).map(|v| h.expose = v));
    check("cap_add", str_list(g("cap_add")).map(|v| h.cap_add = v));
    check("cap_drop", str_list(g("cap_drop")).map(|v| h.cap_drop = v));
    check("read_only", boolean(g("read_only")).map(|v| h.read_only = v.unwrap_or(false)));
    check("network_mode", opt_str(g("network_mode")).map(|v| h.network_mode = v));
    check("security_opt", str_list(g("security_opt")).map(|v| h.security_opt = v));
    check("tmpfs", str_list(g("tmpfs")).map(|v| h.tmpfs = v));
    check("links", str_list(g("links")).map(|v| h.links = v));
    check("external_links", str_list(g("external_links")).map(|v| h.external_links = v));
    check("dns", str_list(g("dns")).map(|v| h.dns = v));
    check("dns_search", str_list(g("dns_search")).map(|v| h.dns_search = v));
    check("dns_opt", str_list(g("dns_opt")).map(|v| h.dns_opt = v));
    check("sysctls", str_map(g("sysctls"), '=').map(|v| h.sysctls = v));
    check("ulimits", ulimits(g("ulimits")).map(|(v, single)| (h.ulimits, h.ulimits_single) = (v, single)));
    check("platform", opt_str(g("platform")).map(|v| h.platform = v));
    check(
        "logging",
        (|| {
            if let Some(l) = g("logging").filter(|l| l.is_mapping()) {
                let driver = opt_str(l.get("driver"))?;
                h.logging = Some(LoggingSpec { driver, options: str_map(l.get("options"), '=')? });
            }
            Ok(())
        })(),
    );
    check("pids_limit", int(g("pids_limit")).map(|v| h.pids_limit = v));
    check("runtime", opt_str(g("runtime")).map(|v| h.runtime = v));
    check("stdin_open", boolean(g("stdin_open")).map(|v| h.stdin_open = v.unwrap_or(false)));
    check("tty", boolean(g("tty")).map(|v| h.tty = v.unwrap_or(false)));
    check("privileged", boolean(g("privileged")).map(|v| h.privileged = v.unwrap_or(false)));
    check("mem_limit", bytes(g("mem_limit")).map(|v| h.mem_limit = v));
    check("memswap_limit", bytes(g("memswap_limit")).map(|v| h.memswap_limit = v));
    check("mem_reservation", bytes(g("mem_reservation")).map(|v| h.mem_reservation = v));
    check("mem_swappiness", int(g("mem_swappiness")).map(|v| h.mem_swappiness = v));
    check("cpus", float(g("cpus")).map(|v| h.cpus = v));
    check("cpu_shares", int(g("cpu_shares")).map(|v| h.cpu_shares = v));
    check("cpu_period", int(g("cpu_period")).map(|v| h.cpu_period = v));
    check("cpu_quota", int(g("cpu_quota")).map(|v| h.cpu_quota = v));
    check("cpuset", opt_str(g("cpuset")).map(|v| h.cpuset = v));
    check("shm_size", bytes(g("shm_size")).map(|v| h.shm_size = v));
    check(
        "devices",
        (|| {
            if let Some(Value::Sequence(items)) = g("devices") {
                h.devices = items.iter().map(device).collect::<Res<_>>()?;
            }
            Ok(())
        })(),
    );
    check("gpus", super::device_requests::gpus(g("gpus")).map(|v| h.gpus = v));
    check("device_cgroup_rules", str_list(g("device_cgroup_rules")).map(|v| h.device_cgroup_rules = v));
    check("group_add", str_list(g("group_add")).map(|v| h.group_add = v));
    check("ipc", opt_str(g("ipc")).map(|v| h.ipc = v));
    check("pid", opt_str(g("pid")).map(|v| h.pid = v));
    check("uts", opt_str(g("uts")).map(|v| h.uts = v));
    check("cgroup", opt_str(g("cgroup")).map(|v| h.cgroup = v));
    check("cgroup_parent", opt_str(g("cgroup_parent")).map(|v| h.cgroup_parent = v));
    check("oom_kill_disable", boolean(g("oom_kill_disable")).map(|v| h.oom_kill_disable = v));
    check("oom_score_adj", int(g("oom_score_adj")).map(|v| h.oom_score_adj = v));
    check("userns_mode", opt_str(g("userns_mode")).map(|v| h.userns_mode = v));
    check("mac_address", opt_str(g("mac_address")).map(|v| h.mac_address = v));
    check("storage_opt", str_map(g("storage_opt"), '=').map(|v| h.storage_opt = v));
    check("annotations", str_map(g("annotations"), '=').map(|v| h.annotations = v));
    check("secrets", file_mounts(g("secrets"), true).map(|v| spec.secrets = v));
    check("configs", file_mounts(g("configs"), false).map(|v| spec.configs = v));
    // Compose refuses a key and its `deploy.resources` twin with distinct values.
    if let Some(l) = &spec.deploy.limits {
        let twins = [
            ("cpus", h.cpus.zip(l.cpus).is_some_and(|(a, b)| a != b)),
            ("mem_limit", h.mem_limit.zip(l.memory).is_some_and(|(a, b)| a != b as i64)),
            ("pids_limit", h.pids_limit.zip(l.pids).is_some_and(|(a, b)| a != b)),
        ];
        for (key, distinct) in twins {
            if distinct {
                check(key, Err(format!("`{key}` and `deploy.resources.limits` set distinct values")));
            }
        }
    }
    spec.host = h;
    if let Some(e) = ComposeError::from_list(errors) {
        return Err(e);
    }
    Ok(())
}

/// Long-syntax mount options (`bind`, `volume`, `tmpfs`) and `bind.create_host_path` (default
/// true, as Compose fills it in).
pub fn mount_options(rest: &BTreeMap<String, Value>) -> Res<(MountOptions, bool)> {
    if let Some(k) = rest.keys().find(|k| !matches!(k.as_str(), "bind" | "volume" | "tmpfs")) {
        return Err(format!("`{k}` is not supported by slipway on a mount"));
    }
    let mut o = MountOptions::default();
    let mut create = false;
    if let Some(b) = rest.get("bind") {
        o.propagation = opt_str(b.get("propagation"))?;
        o.selinux = opt_str(b.get("selinux"))?;
        if let Some(c) = boolean(b.get("create_host_path"))? {
            create = c;
        }
    }
    if let Some(v) = rest.get("volume") {
        o.nocopy = boolean(v.get("nocopy"))?.unwrap_or(false);
        o.subpath = opt_str(v.get("subpath"))?;
    }
    if let Some(t) = rest.get("tmpfs") {
        o.tmpfs_size = bytes(t.get("size"))?;
        o.tmpfs_mode = match t.get("mode") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let s = scalar(v)?;
                Some(s.parse::<i64>().map_err(|_| format!("tmpfs mode `{s}` is not a number"))?)
            }
        };
    }
    Ok((o, create))
}
