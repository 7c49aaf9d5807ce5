//! Probe targets as strings, the way the CLI and Python take them:
//! `http://...`, `https://...`, `tcp://HOST:PORT`, `postgres://[user@]HOST:PORT/DB`,
//! `redis://[:password@]HOST:PORT`, `container://NAME`, `exec://NAME/command args`,
//! `log://NAME?pattern=REGEX[&since=DURATION]`, and `disk:///PATH?min_free=BYTES|PCT%`,
//! `memory://NAME?max_percent=PCT`. The log pattern is taken verbatim (not URL-decoded).

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::SystemTime;

use regex::Regex;

use super::docker::{ContainerProbe, Engine};
use super::exec::ExecProbe;
use super::http::{redact_url, HttpProbe};
use super::log::LogProbe;
use super::postgres::PostgresProbe;
use super::redis::{RedisProbe, Secret};
use super::resources::{DiskProbe, MemoryProbe, MinFree};
use super::tcp::TcpProbe;
use super::{HealthError, HealthProbe};

const ACCEPTED: &str = "expected http://, https://, tcp://HOST:PORT, postgres://[user@]HOST:PORT/DB, \
redis://[:password@]HOST:PORT, container://NAME, exec://NAME/command args, log://NAME?pattern=REGEX, \
disk:///PATH?min_free=N, memory://NAME?max_percent=N";

/// Options applied while turning targets into probes: the engine for Docker probes and the HTTP
/// settings for `http://` / `https://` targets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TargetOptions {
    /// Where Docker probes find the engine (default: local).
    pub engine: Engine,
    /// Extra HTTP headers (`Host` included).
    pub headers: Vec<(String, String)>,
    /// Accepted HTTP status codes (default 200-299).
    pub status: Option<RangeInclusive<u16>>,
    /// Text the HTTP body must contain.
    pub body_contains: Option<String>,
    /// Verify TLS certificates (default true).
    pub verify_tls: bool,
    /// Extra CA to trust (PEM).
    pub ca_pem: Option<Vec<u8>>,
    /// Probe network targets from this engine's side (an SSH tunnel, or the relay helper of a
    /// tcp:// or TLS engine) instead of from here; a local engine's are probed from here.
    pub via: Option<crate::engine::Connection>,
    /// The container being probed: the relay joins its networks, so its address and the names
    /// on them resolve as from the project's network.
    pub near: Option<String>,
}

impl Default for TargetOptions {
    fn default() -> Self {
        TargetOptions {
            engine: Engine::local(),
            headers: Vec::new(),
            status: None,
            body_contains: None,
            verify_tls: true,
            ca_pem: None,
            via: None,
            near: None,
        }
    }
}

impl TargetOptions {
    /// Use `engine` for Docker probes.
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }
    /// Add an HTTP header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Accept these HTTP status codes.
    pub fn status(mut self, range: RangeInclusive<u16>) -> Self {
        self.status = Some(range);
        self
    }
    /// Require the HTTP body to contain `s`.
    pub fn body_contains(mut self, s: impl Into<String>) -> Self {
        self.body_contains = Some(s.into());
        self
    }
    /// Verify TLS certificates or not.
    pub fn verify_tls(mut self, verify: bool) -> Self {
        self.verify_tls = verify;
        self
    }
    /// Probe through `connection`'s engine, the one choice of every face (`slipway probe -H`,
    /// Python's `probe(host=)`, the deployer): container://, exec://, log:// and memory://
    /// targets ask that engine, and when it is remote, network targets are probed from its side
    /// (an ssh tunnel, or the relay helper over tcp:// and TLS); a local engine's network targets
    /// are probed from this machine, which is its host.
    pub fn on_engine(self, connection: crate::engine::Connection) -> Self {
        let via = connection.is_remote().then(|| connection.clone());
        self.via(via).engine(super::docker::Engine::connection(connection))
    }
    /// Probe network targets from `connection`'s host (see [`TargetOptions::via`]).
    pub fn via(mut self, connection: Option<crate::engine::Connection>) -> Self {
        self.via = connection;
        self
    }
    /// The container being probed (see [`TargetOptions::near`]).
    pub fn near(mut self, container: Option<&str>) -> Self {
        self.near = container.map(str::to_string);
        self
    }
    /// Trust this CA (PEM).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }
}

/// Parse `200`, `200-399` or `2xx` into a status range.
pub fn parse_status_range(s: &str) -> Result<RangeInclusive<u16>, HealthError> {
    let bad = || HealthError::InvalidOption {
        option: "status".into(),
        reason: format!("{s:?} is not a status, a range (200-399) or a class (2xx)"),
    };
    let s = s.trim();
    let range = if let Some(class) = s.strip_suffix("xx").or_else(|| s.strip_suffix("XX")) {
        let c: u16 = class.parse().map_err(|_| bad())?;
        c * 100..=c * 100 + 99
    } else if let Some((a, b)) = s.split_once('-') {
        a.trim().parse().map_err(|_| bad())?..=b.trim().parse().map_err(|_| bad())?
    } else {
        let c: u16 = s.parse().map_err(|_| bad())?;
        c..=c
    };
    if range.start() > range.end() || *range.start() < 100 || *range.end() > 599 {
        return Err(bad());
    }
    Ok(range)
}

/// Parse `target` into a probe with default options (local engine, plain HTTP settings).
pub fn parse_target(target: &str) -> Result<Arc<dyn HealthProbe>, HealthError> {
    parse_target_with(target, &TargetOptions::default())
}

/// Parse `target` into a probe with `options`.
pub fn parse_target_with(target: &str, options: &TargetOptions) -> Result<Arc<dyn HealthProbe>, HealthError> {
    if let Some(connection) = &options.via {
        if let Some(probe) = super::remote::through_tunnel(target, connection, options)? {
            return Ok(probe);
        }
    }
    let engine = &options.engine;
    let shown = redact_url(target);
    let bad = |reason: &str| HealthError::target(&shown, reason);
    let Some((scheme, rest)) = target.split_once("://") else {
        return Err(bad(ACCEPTED));
    };
    Ok(match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => {
            let mut b = HttpProbe::builder(target).verify_tls(options.verify_tls);
            for (k, v) in &options.headers {
                b = b.header(k, v);
            }
            if let Some(r) = &options.status {
                b = b.status(r.clone());
            }
            if let Some(body) = &options.body_contains {
                b = b.body_contains(body);
            }
            if let Some(pem) = &options.ca_pem {
                b = b.ca_pem(pem.clone());
            }
            Arc::new(b.build()?)
        }
        "tcp" => {
            let (host, port) = host_and_port(rest.trim_end_matches('/')).map_err(|r| bad(&r))?;
            Arc::new(TcpProbe::new(host, port))
        }
        "postgres" | "postgresql" => {
            let u =
                url::Url::parse(target).map_err(|source| HealthError::TargetUrl { target: shown.clone(), source })?;
            let host = u.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("missing host"))?;
            let user = (!u.username().is_empty()).then(|| decode(u.username()));
            let db = u.path().trim_start_matches('/');
            let db = (!db.is_empty()).then(|| decode(db));
            Arc::new(PostgresProbe::new(host, u.port().unwrap_or(5432), user, db))
        }
        "redis" => {
            let u =
                url::Url::parse(target).map_err(|source| HealthError::TargetUrl { target: shown.clone(), source })?;
            let host = u.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("missing host"))?;
            let user = (!u.username().is_empty()).then(|| decode(u.username()));
            let password = u.password().map(|p| Secret::new(decode(p)));
            Arc::new(RedisProbe::new(host, u.port().unwrap_or(6379), user, password))
        }
        "container" => {
            let name = rest.trim_end_matches('/');
            check_name(name).map_err(|r| bad(&r))?;
            Arc::new(ContainerProbe::new(engine.clone(), name))
        }
        "exec" => {
            let (name, command) = rest.split_once('/').ok_or_else(|| bad("expected exec://NAME/command args"))?;
            check_name(name).map_err(|r| bad(&r))?;
            let argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
            if argv.is_empty() {
                return Err(bad("missing command after exec://NAME/"));
            }
            Arc::new(ExecProbe::new(engine.clone(), name, argv))
        }
        "log" => {
            let (name, query) = rest.split_once('?').ok_or_else(|| bad("expected log://NAME?pattern=REGEX"))?;
            let name = name.trim_end_matches('/');
            check_name(name).map_err(|r| bad(&r))?;
            let params = query_params(query, &["pattern", "since"]).map_err(|r| bad(&r))?;
            let pattern = params.iter().find(|(k, _)| k == "pattern").map(|(_, v)| v.as_str());
            let pattern = pattern.filter(|p| !p.is_empty()).ok_or_else(|| bad("missing pattern=REGEX"))?;
            let re =
                Regex::new(pattern).map_err(|source| HealthError::TargetPattern { target: shown.clone(), source })?;
            let mut probe = LogProbe::new(engine.clone(), name, re);
            if let Some((_, since)) = params.iter().find(|(k, _)| k == "since") {
                let ago = crate::duration::parse(since)?;
                probe = probe.since(SystemTime::now().checked_sub(ago).unwrap_or(SystemTime::UNIX_EPOCH));
            }
            Arc::new(probe)
        }
        "disk" => {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if !path.starts_with('/') {
                return Err(bad("expected an absolute path: disk:///PATH?min_free=1073741824 or min_free=10%"));
            }
            let params = query_params(query, &["min_free"]).map_err(|r| bad(&r))?;
            let min = match params.first().map(|(_, v)| v.as_str()) {
                None => MinFree::Percent(5.0),
                Some(v) => {
                    parse_min_free(v).ok_or_else(|| bad("min_free must be a number of bytes or a percentage"))?
                }
            };
            Arc::new(DiskProbe::new(path, min))
        }
        "memory" => {
            let (name, query) = rest.split_once('?').unwrap_or((rest, ""));
            check_name(name).map_err(|r| bad(&r))?;
            let params = query_params(query, &["max_percent"]).map_err(|r| bad(&r))?;
            let max = match params.first() {
                None => 90.0,
                Some((_, v)) => v
                    .trim_end_matches('%')
                    .parse::<f64>()
                    .ok()
                    .filter(|p| *p > 0.0 && *p <= 100.0)
                    .ok_or_else(|| bad("max_percent must be a number in (0, 100]"))?,
            };
            Arc::new(MemoryProbe::new(engine.clone(), name, max))
        }
        _ => return Err(bad(&format!("unknown scheme {scheme:?}; {ACCEPTED}"))),
    })
}

/// `HOST:PORT`, IPv6 literals in brackets (`[::1]:80`).
fn host_and_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let (h, after) = inner.split_once(']').ok_or("unclosed [ in host")?;
        (h, after.strip_prefix(':').ok_or("missing port (expected [IPV6]:PORT)")?)
    } else {
        let (h, p) = s.rsplit_once(':').ok_or("missing port (expected HOST:PORT)")?;
        if h.contains(':') {
            return Err("IPv6 addresses go in brackets: [::1]:PORT".into());
        }
        (h, p)
    };
    if host.is_empty() {
        return Err("missing host (expected HOST:PORT)".into());
    }
    let port = port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("invalid port {port:?}"))?;
    Ok((host.to_string(), port))
}

/// Container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*` (names or ids).
fn check_name(name: &str) -> Result<(), String> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a container name"))
    }
}

/// `k=v&k=v` where a new pair only starts at `&KEY=` for a known key (so `&` inside a regex stays).
fn query_params(query: &str, keys: &[&str]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = query;
    while !rest.is_empty() {
        let (k, after) = rest.split_once('=').ok_or_else(|| format!("expected KEY=VALUE in {rest:?}"))?;
        if !keys.contains(&k) {
            return Err(format!("unknown parameter {k:?} (known: {})", keys.join(", ")));
        }
        let next = keys.iter().filter_map(|key| after.find(&format!("&{key}="))).min().unwrap_or(after.len());
        out.push((k.to_string(), after[..next].to_string()));
        rest = after.get(next + 1..).unwrap_or("");
    }
    Ok(out)
}

fn parse_min_free(v: &str) -> Option<MinFree> {
    if let Some(p) = v.strip_suffix('%') {
        p.parse::<f64>().ok().filter(|p| (0.0..=100.0).contains(p)).map(MinFree::Percent)
    } else {
        v.parse::<u64>().ok().map(MinFree::Bytes)
    }
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn parses_every_scheme() {
        let cases = [
            ("http://127.0.0.1:8080/health", "http://127.0.0.1:8080/health"),
            ("tcp://127.0.0.1:5432", "tcp://127.0.0.1:5432"),
            ("tcp://[::1]:80", "tcp://[::1]:80"),
            ("postgres://app@127.0.0.1:5433/appdb", "postgres://app@127.0.0.1:5433/appdb"),
            ("postgres://app:pw@db/appdb", "postgres://app@db:5432/appdb"),
            ("redis://:s3cret@127.0.0.1:6380", "redis://:***@127.0.0.1:6380"),
            ("redis://localhost", "redis://localhost:6379"),
            ("container://web-1", "container://web-1"),
            ("exec://web/wget -q -O- http://localhost/", "exec://web/wget -q -O- http://localhost/"),
            ("log://worker?pattern=ready version=\\d+&since=5m", "log://worker?pattern=ready version=\\d+"),
            ("disk:///var/lib?min_free=10%", "disk:///var/lib"),
            ("memory://web?max_percent=80", "memory://web?max_percent=80"),
        ];
        for (input, target) in cases {
            let p = parse_target(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.target(), target, "{input}");
        }
    }

    #[test]
    fn bad_targets_are_invalid_input_without_secrets() {
        for bad in [
            "127.0.0.1:80",
            "ftp://x",
            "tcp://127.0.0.1",
            "tcp://:80",
            "tcp://h:99999",
            "container://",
            "container://bad name",
            "exec://web",
            "exec://web/",
            "log://worker",
            "log://worker?pattern=(",
            "log://worker?nope=1",
            "redis://:s3cret@",
            "disk://relative",
        ] {
            let e = match parse_target(bad) {
                Ok(p) => panic!("{bad} parsed as {p:?}"),
                Err(e) => e,
            };
            assert_eq!(crate::Error::from(e).kind(), ErrorKind::InvalidInput, "{bad}");
        }
        assert_eq!(parse_status_range("2xx").unwrap(), 200..=299);
        assert_eq!(parse_status_range("200-399").unwrap(), 200..=399);
        assert_eq!(parse_status_range("204").unwrap(), 204..=204);
        assert!(parse_status_range("399-200").is_err() && parse_status_range("9xx").is_err());
        let e = parse_target("redis://:s3cret@").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
