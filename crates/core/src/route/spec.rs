//! `RouteSpec`: how a web service is routed, derived from its compose labels
//! (`traefik.http.routers.*`, `traefik.http.services.*.loadbalancer.*`) and `x-slipway.route`.
//! A service with neither is not routed (a worker): [`RouteSpec::from_service`] returns `None`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::RouteError;
use crate::stack::ServiceSpec;

/// Default drain period after the old backend leaves the rotation (confirmed out through the
/// proxy's API): it covers requests the proxy dispatched just before its reload; requests still in
/// flight when SIGTERM arrives are the app's to finish within its `stop_grace_period`.
const DEFAULT_DRAIN: Duration = Duration::from_millis(500);
/// Default interval of the proxy's own health check on the service.
const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(1);
/// Default timeout of one proxy health check.
const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// A routed web service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RouteSpec {
    /// The stack (compose project) name.
    pub stack: String,
    /// The service name.
    pub service: String,
    /// The routers sending traffic to the service, sorted by name.
    pub routers: Vec<RouterRule>,
    /// The container port the backends listen on.
    pub port: u16,
    /// `http` or `https` towards the backends.
    pub scheme: String,
    /// The proxy's own health check on every backend.
    pub health: HealthCheckSpec,
    /// How long in-flight requests get after a backend leaves the rotation.
    #[serde(with = "humantime_serde_ms")]
    pub drain: Duration,
    /// Retry attempts on connection errors (a retry middleware); 0 = none.
    pub retry_attempts: u32,
    /// The Docker network on which the proxy reaches the containers (`traefik.docker.network` or
    /// `x-slipway.route.network`); `None` = the container's first network with an address.
    pub network: Option<String>,
}

/// One router: which requests reach the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RouterRule {
    /// The router's name (from the label key).
    pub name: String,
    /// The rule, e.g. ``Host(`app.example.com`)``.
    pub rule: String,
    /// Entry points (empty = all of the proxy's entry points).
    pub entrypoints: Vec<String>,
    /// TLS termination, when the router is HTTPS.
    pub tls: Option<TlsSpec>,
    /// Middlewares by name, passed through as written.
    pub middlewares: Vec<String>,
    /// Explicit priority.
    pub priority: Option<i64>,
}

/// TLS settings of a router, passed through to the proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TlsSpec {
    /// The ACME certificate resolver (`tls.certresolver`); `None` = the proxy's default store.
    pub cert_resolver: Option<String>,
    /// TLS options name (`tls.options`).
    pub options: Option<String>,
}

/// The proxy's health check on each backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HealthCheckSpec {
    /// The HTTP path (2xx/3xx = healthy).
    pub path: String,
    /// Between checks.
    #[serde(with = "humantime_serde_ms")]
    pub interval: Duration,
    /// Per check.
    #[serde(with = "humantime_serde_ms")]
    pub timeout: Duration,
}

impl RouteSpec {
    /// A route with one router and defaults (for callers that do not start from compose).
    pub fn new(stack: &str, service: &str, rule: &str, port: u16) -> Self {
        RouteSpec {
            stack: stack.to_string(),
            service: service.to_string(),
            routers: vec![RouterRule {
                name: service.to_string(),
                rule: rule.to_string(),
                entrypoints: Vec::new(),
                tls: None,
                middlewares: Vec::new(),
                priority: None,
            }],
            port,
            scheme: "http".into(),
            health: HealthCheckSpec {
                path: "/".into(),
                interval: DEFAULT_HEALTH_INTERVAL,
                timeout: DEFAULT_HEALTH_TIMEOUT,
            },
            drain: DEFAULT_DRAIN,
            retry_attempts: 2,
            network: None,
        }
    }

    /// Derive the route of a compose service, or `None` when it is not a routed web service
    /// (no `traefik.*` router labels, no `traefik.enable=true`, no `x-slipway.route`, or
    /// `traefik.enable=false` / `x-slipway.route: false`).
    pub fn from_service(stack: &str, svc: &ServiceSpec) -> Result<Option<Self>, RouteError> {
        let labels: BTreeMap<String, &str> =
            svc.labels.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str())).collect();
        let slipway = svc.extensions.get("x-slipway").and_then(|x| x.get("route"));
        if labels.get("traefik.enable").is_some_and(|v| v.eq_ignore_ascii_case("false"))
            || slipway.is_some_and(|r| r == &serde_json::Value::Bool(false))
        {
            return Ok(None);
        }
        let invalid = |reason: String| RouteError::InvalidSpec { service: svc.name.clone(), reason };
        let mut routers: BTreeMap<String, RouterRule> = BTreeMap::new();
        for (key, value) in &labels {
            let Some(rest) = key.strip_prefix("traefik.http.routers.") else { continue };
            let Some((name, field)) = rest.split_once('.') else { continue };
            let r = routers.entry(name.to_string()).or_insert_with(|| RouterRule {
                name: name.to_string(),
                rule: String::new(),
                entrypoints: Vec::new(),
                tls: None,
                middlewares: Vec::new(),
                priority: None,
            });
            match field {
                "rule" => r.rule = value.to_string(),
                "entrypoints" => r.entrypoints = split_list(value),
                "middlewares" => r.middlewares = split_list(value),
                "priority" => {
                    r.priority = Some(value.parse().map_err(|_| invalid(format!("{key}={value}: not an integer")))?)
                }
                "tls" if value.eq_ignore_ascii_case("true") => {
                    r.tls.get_or_insert_with(TlsSpec::default);
                }
                "tls.certresolver" => {
                    r.tls.get_or_insert_with(TlsSpec::default).cert_resolver = Some(value.to_string())
                }
                "tls.options" => r.tls.get_or_insert_with(TlsSpec::default).options = Some(value.to_string()),
                _ => tracing::debug!(service = %svc.name, label = %key, "traefik router label not used by slipway"),
            }
        }
        let enabled = labels.get("traefik.enable").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if routers.is_empty() && !enabled && slipway.is_none() {
            return Ok(None);
        }
        for r in routers.values_mut() {
            if r.rule.is_empty() {
                r.rule = format!("Host(`{}`)", svc.name);
            }
        }
        if routers.is_empty() {
            let mut spec = RouteSpec::new(stack, &svc.name, &format!("Host(`{}`)", svc.name), 0);
            spec.routers[0].name = svc.name.clone();
            routers.insert(svc.name.clone(), spec.routers.remove(0));
        }
        let lb = |field: &str| {
            labels.iter().find_map(|(k, v)| {
                let rest = k.strip_prefix("traefik.http.services.")?;
                let (_, f) = rest.split_once('.')?;
                (f == field).then_some(*v)
            })
        };
        let opt = |name: &str| slipway.and_then(|r| r.get(name));
        let opt_str = |name: &str| opt(name).and_then(|v| v.as_str());
        let port = match (lb("loadbalancer.server.port"), opt("port")) {
            (Some(p), _) => p.parse().map_err(|_| invalid(format!("loadbalancer.server.port={p}: not a port")))?,
            (None, Some(p)) => p
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| invalid(format!("x-slipway.route.port={p}: not a port")))?,
            (None, None) => match svc.ports.as_slice() {
                [one] => one.target,
                _ => {
                    return Err(invalid(
                        "no backend port: set traefik.http.services.<name>.loadbalancer.server.port".into(),
                    ))
                }
            },
        };
        let duration = |label: Option<&str>, key: &'static str, default: Duration| -> Result<Duration, RouteError> {
            match label.or_else(|| opt_str(key)) {
                Some(text) => humantime::parse_duration(text).map_err(|source| RouteError::InvalidDuration {
                    service: svc.name.clone(),
                    key,
                    value: text.to_string(),
                    source,
                }),
                None => Ok(default),
            }
        };
        let health = HealthCheckSpec {
            path: lb("loadbalancer.healthcheck.path").or_else(|| opt_str("health_path")).unwrap_or("/").to_string(),
            interval: duration(lb("loadbalancer.healthcheck.interval"), "health_interval", DEFAULT_HEALTH_INTERVAL)?,
            timeout: duration(lb("loadbalancer.healthcheck.timeout"), "health_timeout", DEFAULT_HEALTH_TIMEOUT)?,
        };
        let retry_attempts = match opt("retry_attempts") {
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| invalid(format!("x-slipway.route.retry_attempts={v}: not a count")))?,
            None => 2,
        };
        Ok(Some(RouteSpec {
            stack: stack.to_string(),
            service: svc.name.clone(),
            routers: routers.into_values().collect(),
            port,
            scheme: lb("loadbalancer.server.scheme").unwrap_or("http").to_string(),
            health,
            drain: duration(None, "drain", DEFAULT_DRAIN)?,
            retry_attempts,
            network: labels.get("traefik.docker.network").copied().or_else(|| opt_str("network")).map(String::from),
        }))
    }

    /// The name of this route in the proxy's configuration: `<stack>-<service>`.
    pub fn key(&self) -> String {
        format!("{}-{}", self.stack, self.service)
    }
}

fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

mod humantime_serde_ms {
    //! Durations as integer milliseconds in JSON.
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
