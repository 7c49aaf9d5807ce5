//! One service of the model resolved into a `ServiceSpec`: string/list forms unified, env files
//! read into the environment, short syntaxes parsed, durations and sizes checked.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml_ng::Value;

use super::error::{ComposeError, Location};
use super::event::ComposeWarning;
use super::interpolate::interpolate;
use super::model::{self, ListOrMap, Service, StrOrList};
use super::syntax;
use super::yaml::{KeyPath, Sources};
use crate::stack::{
    Dependency, DependencyCondition, HealthcheckSpec, MountKind, MountOptions, MountSpec, PortSpec, PullPolicy,
    ServiceNetwork, ServiceSpec,
};

/// What resolving a service needs from the project.
pub struct Ctx<'a> {
    /// The files, for locations.
    pub sources: &'a Sources,
    /// The project directory.
    pub project_dir: &'a Path,
    /// Variables: process environment over `.env`.
    pub env: &'a BTreeMap<String, String>,
    /// Warnings found.
    pub warnings: &'a mut Vec<ComposeWarning>,
}

impl Ctx<'_> {
    pub(super) fn at(&self, service: &str, rest: &str) -> Location {
        let mut p = KeyPath::parse("services").key(service);
        for k in rest.split('.').filter(|k| !k.is_empty()) {
            // `devices[0]`: the key, then the list index.
            let indexed = k.strip_suffix(']').and_then(|k| k.split_once('['));
            p = match indexed.and_then(|(key, i)| Some((key, i.parse::<usize>().ok()?))) {
                Some((key, i)) => p.key(key).index(i),
                None => p.key(k),
            };
        }
        self.sources.locate(&p)
    }
    pub(super) fn invalid(&self, service: &str, rest: &str, message: impl Into<String>) -> ComposeError {
        ComposeError::InvalidValue { at: self.at(service, rest), message: message.into() }
    }
}

fn list(v: StrOrList) -> Vec<String> {
    match v {
        StrOrList::One(s) => vec![s.0],
        StrOrList::Many(v) => v.into_iter().map(|s| s.0).collect(),
    }
}

fn split_words(ctx: &Ctx, name: &str, key: &str, v: StrOrList) -> Result<Vec<String>, ComposeError> {
    match v {
        StrOrList::One(s) => shlex::split(&s.0).ok_or_else(|| ctx.invalid(name, key, "unbalanced quotes")),
        many => Ok(list(many)),
    }
}

/// `K=V` lists and mappings as a map; `K` alone / `K:` null give `None`.
pub(super) fn kv(v: ListOrMap, sep: &[char]) -> BTreeMap<String, Option<String>> {
    match v {
        ListOrMap::Map(m) => m.into_iter().map(|(k, v)| (k, v.0)).collect(),
        ListOrMap::List(l) => l
            .into_iter()
            .map(|s| match s.0.split_once(sep) {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (s.0, None),
            })
            .collect(),
    }
}

pub(super) fn duration(
    ctx: &Ctx,
    name: &str,
    key: &str,
    v: Option<model::Str>,
) -> Result<Option<std::time::Duration>, ComposeError> {
    v.map(|s| syntax::parse_duration(&s.0).map_err(|m| ctx.invalid(name, key, m))).transpose()
}

/// Resolve one service.
pub fn resolve(
    name: &str,
    svc: Service,
    ext: BTreeMap<String, Value>,
    ctx: &mut Ctx,
) -> Result<ServiceSpec, ComposeError> {
    let mut spec = ServiceSpec { name: name.to_string(), ..Default::default() };
    // A `build:` without `image:` is read (config, build); deploys refuse it (`check_deployable`).
    spec.image = match (svc.image, svc.build.is_some()) {
        (Some(i), build) => {
            if build {
                ctx.warnings.push(ComposeWarning::BuildIgnored { service: name.into(), at: ctx.at(name, "build") });
            }
            Some(i.0)
        }
        (None, true) => None,
        (None, false) => return Err(ComposeError::MissingImage { at: ctx.at(name, ""), service: name.into() }),
    };
    if let Some(b) = &svc.build {
        spec.build = Some(super::build_section::build(ctx, name, b)?);
    }
    spec.command = svc.command.map(|c| split_words(ctx, name, "command", c)).transpose()?;
    spec.entrypoint = svc.entrypoint.map(|c| split_words(ctx, name, "entrypoint", c)).transpose()?;
    spec.environment = environment(name, svc.env_file, svc.environment, ctx)?;
    for p in svc.ports.unwrap_or_default() {
        spec.ports.extend(port(ctx, name, p)?);
    }
    for (i, m) in svc.volumes.unwrap_or_default().into_iter().enumerate() {
        let (m, opts) = mount(ctx, name, i, m)?;
        if opts != MountOptions::default() {
            spec.mount_options.insert(m.target.clone(), opts);
        }
        spec.volumes.push(m);
    }
    let networks_given = svc.networks.is_some();
    spec.networks = match svc.networks {
        None => [("default".to_string(), ServiceNetwork::default())].into(),
        Some(model::ServiceNetworks::List(l)) => l.into_iter().map(|n| (n.0, ServiceNetwork::default())).collect(),
        Some(model::ServiceNetworks::Map(m)) => m
            .into_iter()
            .map(|(k, v)| {
                let v = v.unwrap_or(model::ServiceNetworkLong {
                    aliases: None,
                    ipv4_address: None,
                    ipv6_address: None,
                    priority: None,
                });
                let aliases = v.aliases.unwrap_or_default().into_iter().map(|a| a.0).collect();
                let net = ServiceNetwork {
                    aliases,
                    ipv4_address: v.ipv4_address.map(|a| a.0),
                    ipv6_address: v.ipv6_address.map(|a| a.0),
                    priority: v.priority,
                };
                (k, net)
            })
            .collect(),
    };
    spec.depends_on = depends_on(ctx, name, svc.depends_on)?;
    if let Some(h) = svc.healthcheck {
        if h.disable == Some(true) {
            spec.healthcheck_disabled = true;
        } else {
            let test = match h.test {
                Some(StrOrList::One(s)) => vec!["CMD-SHELL".to_string(), s.0],
                Some(many) => list(many),
                None => Vec::new(),
            };
            if let Some(first) = test.first() {
                if !matches!(first.as_str(), "CMD" | "CMD-SHELL" | "NONE") {
                    return Err(ctx.invalid(
                        name,
                        "healthcheck.test",
                        "a test list must start with CMD, CMD-SHELL or NONE",
                    ));
                }
            }
            spec.healthcheck = Some(HealthcheckSpec {
                test,
                interval: duration(ctx, name, "healthcheck.interval", h.interval)?,
                timeout: duration(ctx, name, "healthcheck.timeout", h.timeout)?,
                retries: h.retries,
                start_period: duration(ctx, name, "healthcheck.start_period", h.start_period)?,
                start_interval: duration(ctx, name, "healthcheck.start_interval", h.start_interval)?,
            });
        }
    }
    spec.labels = svc
        .labels
        .map(|l| kv(l, &['=']))
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    if let Some(r) = &svc.restart {
        let ok = matches!(r.0.as_str(), "no" | "always" | "unless-stopped" | "on-failure")
            || r.0.strip_prefix("on-failure:").is_some_and(|n| n.parse::<u32>().is_ok());
        if !ok {
            return Err(ctx.invalid(
                name,
                "restart",
                format!("`{}`: use no, always, unless-stopped or on-failure[:N]", r.0),
            ));
        }
    }
    spec.restart = svc.restart.map(|s| s.0);
    spec.user = svc.user.map(|s| s.0);
    spec.working_dir = svc.working_dir.map(|s| s.0);
    spec.stop_grace_period = duration(ctx, name, "stop_grace_period", svc.stop_grace_period)?;
    spec.stop_signal = svc.stop_signal.map(|s| s.0);
    if let Some(p) = svc.pull_policy {
        spec.pull_policy = Some(PullPolicy::parse(&p.0).map_err(|reason| ctx.invalid(name, "pull_policy", reason))?);
    }
    spec.init = svc.init;
    let mut hosts: Vec<String> = Vec::new();
    for (h, ip) in svc.extra_hosts.map(|l| kv(l, &['=', ':'])).unwrap_or_default() {
        let ip = ip.ok_or_else(|| ctx.invalid(name, "extra_hosts", format!("`{h}` has no address: write host=ip")))?;
        hosts.push(format!("{h}:{ip}"));
    }
    spec.extra_hosts = hosts;
    spec.profiles = svc.profiles.unwrap_or_default().into_iter().map(|p| p.0).collect();
    if let Some(d) = svc.deploy {
        spec.deploy = super::service_deploy::deploy(ctx, name, d)?;
    }
    super::host::read(ctx, name, &svc.rest, &mut spec)?;
    // As Compose: `network_mode` replaces the default network; `links` and `network_mode:
    // service:X` make dependencies that restart with their target.
    if spec.host.network_mode.is_some() && !networks_given {
        spec.networks.clear();
    }
    let implied = spec.host.links.iter().map(|l| l.split(':').next().unwrap_or(l).to_string());
    let via_mode = spec.host.network_mode.as_deref().and_then(|m| m.strip_prefix("service:")).map(str::to_string);
    for dep in implied.chain(via_mode).collect::<Vec<_>>() {
        spec.depends_on.entry(dep).or_insert(Dependency {
            condition: DependencyCondition::ServiceStarted,
            required: true,
            restart: true,
        });
    }
    for (k, v) in ext {
        let json = serde_json::to_value(&v).map_err(|e| ctx.invalid(name, &k, e.to_string()))?;
        spec.extensions.insert(k, json);
    }
    Ok(spec)
}

fn environment(
    name: &str,
    env_file: Option<model::EnvFiles>,
    environment: Option<ListOrMap>,
    ctx: &mut Ctx,
) -> Result<BTreeMap<String, Option<String>>, ComposeError> {
    let mut out = BTreeMap::new();
    let files = match env_file {
        None => Vec::new(),
        Some(model::EnvFiles::One(p)) => vec![(p.0, true, None)],
        Some(model::EnvFiles::Many(v)) => v
            .into_iter()
            .map(|e| match e {
                model::EnvFileEntry::Path(p) => (p.0, true, None),
                model::EnvFileEntry::Long(l) => (l.path.0, l.required.unwrap_or(true), l.format.map(|f| f.0)),
            })
            .collect(),
    };
    for (path, required, format) in files {
        let file = ctx.project_dir.join(&path);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(_) if !required => continue,
            Err(source) => return Err(ComposeError::Read { file, source }),
        };
        match format.as_deref() {
            None => {}
            Some("raw") => {
                for line in text.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')) {
                    let (k, v) = line.split_once('=').unwrap_or((line, ""));
                    out.insert(k.trim().to_string(), Some(v.to_string()));
                }
                continue;
            }
            Some(other) => {
                let at = ctx.at(name, "env_file");
                return Err(ComposeError::InvalidValue { at, message: format!("env_file format `{other}`: use raw") });
            }
        }
        for (k, v) in read_dotenv(&file, &text, ctx.env)? {
            if let Some(v) = v {
                out.insert(k, Some(v));
            }
        }
    }
    for (k, v) in environment.map(|e| kv(e, &['='])).unwrap_or_default() {
        let v = v.or_else(|| ctx.env.get(&k).cloned());
        out.insert(k, v);
    }
    Ok(out)
}

/// Read a dotenv file: values are interpolated (earlier keys of the file, then `env`) except
/// single-quoted ones; a bare `KEY` takes its value from `env` or is skipped.
pub fn read_dotenv(
    file: &Path,
    text: &str,
    env: &BTreeMap<String, String>,
) -> Result<Vec<(String, Option<String>)>, ComposeError> {
    let entries = syntax::parse_dotenv(text)
        .map_err(|line| ComposeError::InvalidEnvFile { at: Location::new(file, line, "") })?;
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for ((line, key, value), single) in entries {
        let value = match value {
            None => env.get(&key).cloned(),
            Some(v) if single => Some(v),
            Some(v) => {
                let lookup = |n: &str| seen.get(n).or_else(|| env.get(n)).cloned();
                let r = interpolate(&v, &lookup)
                    .map_err(|_| ComposeError::InvalidEnvFile { at: Location::new(file, line, key.clone()) })?;
                Some(r.value)
            }
        };
        if let Some(v) = &value {
            seen.insert(key.clone(), v.clone());
        }
        out.push((key, value));
    }
    Ok(out)
}

fn port(ctx: &Ctx, name: &str, p: model::Port) -> Result<Vec<PortSpec>, ComposeError> {
    match p {
        model::Port::Short(s) => syntax::parse_port(&s.0).map_err(|m| ctx.invalid(name, "ports", m)),
        model::Port::Long(l) => {
            let target = l.target.ok_or_else(|| ctx.invalid(name, "ports", "a long-syntax port needs `target`"))?;
            let protocol = l.protocol.map(|p| p.0).unwrap_or_else(|| "tcp".into());
            let mode = l.mode.map(|m| m.0).unwrap_or_else(|| "ingress".into());
            if !matches!(mode.as_str(), "ingress" | "host") {
                return Err(ctx.invalid(name, "ports", format!("mode `{mode}`: use ingress or host")));
            }
            Ok(vec![PortSpec {
                target,
                published: l.published.map(|p| p.0).filter(|p| !p.is_empty()),
                host_ip: l.host_ip.map(|p| p.0).filter(|p| !p.is_empty()),
                protocol,
                mode: Some(mode),
            }])
        }
    }
}

fn mount(ctx: &Ctx, name: &str, i: usize, m: model::Mount) -> Result<(MountSpec, MountOptions), ComposeError> {
    let home = ctx.env.get("HOME").cloned();
    let at = |msg: String| ComposeError::InvalidValue {
        at: ctx.sources.locate(&KeyPath::parse("services").key(name).key("volumes").index(i)),
        message: msg,
    };
    match m {
        model::Mount::Short(s) => syntax::parse_mount(&s.0, ctx.project_dir, home.as_deref()).map_err(at),
        model::Mount::Long(l) => {
            let kind = match l.kind.0.as_str() {
                "volume" => MountKind::Volume,
                "bind" => MountKind::Bind,
                "tmpfs" => MountKind::Tmpfs,
                other => return Err(at(format!("type `{other}`: slipway supports volume, bind and tmpfs"))),
            };
            let source = l.source.map(|s| s.0).filter(|s| !s.is_empty());
            if kind == MountKind::Bind && source.is_none() {
                return Err(at("a bind mount needs `source`".into()));
            }
            let source = match kind {
                MountKind::Bind => source.map(|s| syntax::absolute(&s, ctx.project_dir, home.as_deref())),
                _ => source,
            };
            let (opts, create_host_path) = super::host::mount_options(&l.rest).map_err(at)?;
            let spec = MountSpec {
                kind,
                source,
                target: syntax::clean_target(&l.target.0),
                read_only: l.read_only.unwrap_or(false),
                create_host_path: kind == MountKind::Bind && create_host_path,
            };
            Ok((spec, opts))
        }
    }
}

fn depends_on(
    ctx: &Ctx,
    name: &str,
    d: Option<model::DependsOn>,
) -> Result<BTreeMap<String, Dependency>, ComposeError> {
    let started = |_| Dependency { condition: DependencyCondition::ServiceStarted, required: true, restart: false };
    Ok(match d {
        None => BTreeMap::new(),
        Some(model::DependsOn::List(l)) => l.into_iter().map(|s| (s.0, started(()))).collect(),
        Some(model::DependsOn::Map(m)) => {
            let mut out = BTreeMap::new();
            for (dep, v) in m {
                let condition = match v.condition.as_ref().map(|c| c.0.as_str()).unwrap_or("service_started") {
                    "service_started" => DependencyCondition::ServiceStarted,
                    "service_healthy" => DependencyCondition::ServiceHealthy,
                    "service_completed_successfully" => DependencyCondition::ServiceCompletedSuccessfully,
                    other => {
                        return Err(ctx.invalid(
                            name,
                            &format!("depends_on.{dep}.condition"),
                            format!(
                                "`{other}`: use service_started, service_healthy or service_completed_successfully"
                            ),
                        ))
                    }
                };
                let dependency =
                    Dependency { condition, required: v.required.unwrap_or(true), restart: v.restart.unwrap_or(false) };
                out.insert(dep, dependency);
            }
            out
        }
    })
}
