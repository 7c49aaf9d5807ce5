//! Which engine to reach, decided the way the docker CLI decides it: `--host` and `--context`
//! (not both), else `DOCKER_HOST`, else `DOCKER_CONTEXT`, else `currentContext` in
//! `~/.docker/config.json`, else the local socket. TLS from `--tls*` flags, `DOCKER_TLS_VERIFY`
//! and `DOCKER_CERT_PATH` (default `~/.docker`), or a context's TLS directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::context::{current_context, read_context};
use super::relay::RelaySlot;
use super::ssh::{SshMaster, SshTarget};
use super::ssh_control::SshSettings;
use super::tls::TlsSettings;
use super::transport::FailureLog;
use super::{EngineError, TransportError};

/// The local engine's socket.
pub const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

/// What the caller asked for (`-H`, `--context`, `--tls*`), before the environment is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// `-H/--host`: `unix:///path`, `tcp://h:p`, `https://h:p`, `ssh://[user@]host[:port][/socket]`.
    pub host: Option<String>,
    /// `--context NAME`.
    pub context: Option<String>,
    /// `--tls`: TLS without verifying the engine's certificate.
    pub tls: bool,
    /// `--tlsverify`: TLS, verifying the engine's certificate against the CA.
    pub tls_verify: bool,
    /// `--tlscacert`.
    pub tls_ca: Option<PathBuf>,
    /// `--tlscert`.
    pub tls_cert: Option<PathBuf>,
    /// `--tlskey`.
    pub tls_key: Option<PathBuf>,
    /// An ssh_config file for `ssh://` hosts (`ssh -F`; default: the user's own).
    pub ssh_config: Option<PathBuf>,
    /// Keep the SSH master connection this long after the command for the next one to reuse
    /// (`ControlPersist`; also `SLIPWAY_SSH_PERSIST=60s`). Opt-in: it leaves an `ssh` process
    /// running until idle that long. Default: the master ends with the command.
    pub ssh_persist: Option<std::time::Duration>,
}

impl ConnectOptions {
    /// Options naming `host` (or nothing: the environment decides).
    pub fn host(host: Option<&str>) -> Self {
        ConnectOptions { host: host.map(str::to_string), ..Default::default() }
    }
    /// Use Docker context `name`.
    pub fn context(mut self, name: Option<&str>) -> Self {
        self.context = name.map(str::to_string);
        self
    }
    /// Use this ssh_config for `ssh://` hosts.
    pub fn ssh_config(mut self, path: Option<PathBuf>) -> Self {
        self.ssh_config = path;
        self
    }
    /// Keep the SSH master for later commands (see [`ConnectOptions::ssh_persist`]).
    pub fn ssh_persist(mut self, idle: Option<std::time::Duration>) -> Self {
        self.ssh_persist = idle;
        self
    }
    /// TLS flags as the docker CLI takes them.
    pub fn tls(
        mut self,
        tls: bool,
        verify: bool,
        ca: Option<PathBuf>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Self {
        (self.tls, self.tls_verify, self.tls_ca, self.tls_cert, self.tls_key) = (tls, verify, ca, cert, key);
        self
    }
}

/// Where the engine is, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A unix socket path.
    Unix(String),
    /// Plain HTTP to `host:port`.
    Http(String),
    /// HTTPS to `host:port`.
    Tls { addr: String, settings: TlsSettings },
    /// The system ssh with `docker system dial-stdio`.
    Ssh(SshTarget),
}

/// One resolved engine connection, shared by every room a command touches. Clones share one
/// SSH master connection, which ends when the last clone (and every client made from it) is gone.
#[derive(Clone)]
pub struct Connection {
    shown: String,
    pub(crate) endpoint: Endpoint,
    pub(crate) ssh: SshSettings,
    pub(crate) master: Arc<tokio::sync::OnceCell<Arc<SshMaster>>>,
    pub(crate) failures: FailureLog,
    /// The probe relay of a tcp:// or TLS engine (unused otherwise); its helper container is
    /// removed when the last clone goes.
    pub(crate) relay: Arc<RelaySlot>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("host", &self.shown).finish()
    }
}

impl Connection {
    /// Resolve `options` against the process environment and `~/.docker`.
    pub fn resolve(options: &ConnectOptions) -> Result<Self, EngineError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let config_dir =
            env("DOCKER_CONFIG").map(PathBuf::from).or_else(|| env("HOME").map(|h| Path::new(&h).join(".docker")));
        resolve_with(options, &env, config_dir.as_deref())
    }

    /// `host` (`-H`), else the environment (`DOCKER_HOST`, contexts), else the local socket.
    pub fn from_host(host: Option<&str>) -> Result<Self, EngineError> {
        Self::resolve(&ConnectOptions::host(host))
    }

    /// The local socket (`unix:///var/run/docker.sock`), whatever the environment says.
    pub fn local() -> Self {
        Self::new(DEFAULT_SOCKET.to_string(), Endpoint::Unix("/var/run/docker.sock".into()), SshSettings::default())
    }

    pub(crate) fn new(shown: String, endpoint: Endpoint, ssh: SshSettings) -> Self {
        let relay = Arc::new(RelaySlot::new(shown.clone(), endpoint.clone(), ssh.clone()));
        Connection {
            shown,
            endpoint,
            ssh,
            master: Arc::new(tokio::sync::OnceCell::new()),
            failures: FailureLog::default(),
            relay,
        }
    }

    /// The engine's address as shown in messages (`ssh://root@host`, `tcp://h:2376`); no secrets.
    pub fn host(&self) -> &str {
        &self.shown
    }

    /// The last transport failure (connection dropped, host unreachable, ...) that a client made
    /// from this connection (or a clone) saw at or after `since`: how a deploy tells a failed
    /// connection from a failed step.
    pub fn transport_failure_since(&self, since: std::time::Instant) -> Option<TransportError> {
        let last = self.failures.lock().ok()?;
        last.as_ref().filter(|(at, _)| *at >= since).map(|(_, t)| t.clone())
    }

    /// End this connection's SSH master now, also a persistent one
    /// ([`ConnectOptions::ssh_persist`]) that would otherwise outlive the command.
    pub fn close_ssh_master(&self) {
        if let Some(master) = self.master.get() {
            master.exit();
        }
    }

    /// True when the engine is reached over ssh or TCP (not a local socket).
    pub fn is_remote(&self) -> bool {
        !matches!(self.endpoint, Endpoint::Unix(_))
    }
}

/// [`Connection::resolve`] with the environment and the docker config directory given.
pub(crate) fn resolve_with(
    options: &ConnectOptions,
    env: &dyn Fn(&str) -> Option<String>,
    config_dir: Option<&Path>,
) -> Result<Connection, EngineError> {
    if let (Some(h), Some(c)) = (&options.host, &options.context) {
        return Err(EngineError::InvalidHost {
            host: h.clone(),
            reason: format!("--host and --context {c:?} conflict; give one of them"),
        });
    }
    let context = match (&options.context, &options.host) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(_)) => None,
        (None, None) if env("DOCKER_HOST").is_some() => None,
        (None, None) => env("DOCKER_CONTEXT").or_else(|| config_dir.and_then(current_context)),
    };
    let persist = match options.ssh_persist {
        Some(d) => Some(d),
        None => match env("SLIPWAY_SSH_PERSIST") {
            None => None,
            Some(v) => Some(crate::duration::parse(&v).map_err(|_| EngineError::InvalidHost {
                host: "SLIPWAY_SSH_PERSIST".into(),
                reason: format!("{v:?} is not a duration like 60s or 5m"),
            })?),
        },
    };
    let ssh_config = SshSettings {
        config: options.ssh_config.clone().or_else(|| env("SLIPWAY_SSH_CONFIG").map(PathBuf::from)),
        persist: persist.filter(|d| !d.is_zero()),
    };
    if let Some(name) = context.filter(|c| c != "default") {
        let dir = config_dir.ok_or_else(|| EngineError::Context {
            name: name.clone(),
            reason: "no docker config directory (set HOME or DOCKER_CONFIG)".into(),
        })?;
        let ctx = read_context(dir, &name)?;
        let tls = ctx.tls_dir.map(|d| TlsSettings::from_dir(&d, !ctx.skip_tls_verify));
        return endpoint(&ctx.host, tls, ssh_config);
    }
    let host = options.host.clone().or_else(|| env("DOCKER_HOST")).unwrap_or_else(|| DEFAULT_SOCKET.to_string());
    let verify = options.tls_verify || env("DOCKER_TLS_VERIFY").is_some();
    let tls = if options.tls || verify || host.starts_with("https://") {
        let cert_dir = env("DOCKER_CERT_PATH").map(PathBuf::from).or_else(|| config_dir.map(Path::to_path_buf));
        let mut s = cert_dir.map(|d| TlsSettings::from_dir(&d, true)).unwrap_or_default();
        s.verify = verify || !options.tls;
        s.ca = options.tls_ca.clone().or(s.ca);
        s.cert = options.tls_cert.clone().or(s.cert);
        s.key = options.tls_key.clone().or(s.key);
        Some(s)
    } else {
        None
    };
    endpoint(&host, tls, ssh_config)
}

fn endpoint(host: &str, tls: Option<TlsSettings>, ssh_config: SshSettings) -> Result<Connection, EngineError> {
    let invalid = |reason: &str| EngineError::InvalidHost { host: host.to_string(), reason: reason.to_string() };
    let (scheme, rest) =
        host.split_once("://").ok_or_else(|| invalid("expected unix://, tcp://, https:// or ssh://"))?;
    let shown = host.trim_end_matches('/').to_string();
    let ep = match scheme {
        "unix" => Endpoint::Unix(rest.to_string()),
        "tcp" | "http" | "https" => {
            let addr = rest.trim_end_matches('/');
            if addr.is_empty() || !addr.contains(':') {
                return Err(invalid("expected HOST:PORT"));
            }
            match tls {
                Some(settings) => Endpoint::Tls { addr: addr.to_string(), settings },
                None if scheme == "https" => Endpoint::Tls {
                    addr: addr.to_string(),
                    settings: TlsSettings { verify: true, ..Default::default() },
                },
                None => Endpoint::Http(addr.to_string()),
            }
        }
        "ssh" => Endpoint::Ssh(SshTarget::parse(host)?),
        _ => return Err(invalid("expected unix://, tcp://, https:// or ssh://")),
    };
    Ok(Connection::new(shown, ep, ssh_config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| pairs.iter().find(|(pk, _)| pk == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn hosts_resolve_like_the_docker_cli() {
        let none = env_of(&[]);
        let c = resolve_with(&ConnectOptions::default(), &none, None).unwrap();
        assert_eq!(c.endpoint, Endpoint::Unix("/var/run/docker.sock".into()));
        let c = resolve_with(&ConnectOptions::host(Some("ssh://root@10.231.0.11:2222")), &none, None).unwrap();
        assert!(matches!(&c.endpoint, Endpoint::Ssh(t) if t.port == Some(2222) && t.user.as_deref() == Some("root")));
        assert!(c.is_remote());
        let env =
            env_of(&[("DOCKER_HOST", "tcp://10.0.0.2:2376"), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/c")]);
        let c = resolve_with(&ConnectOptions::default(), &env, None).unwrap();
        match &c.endpoint {
            Endpoint::Tls { addr, settings } => {
                assert_eq!(addr, "10.0.0.2:2376");
                assert!(settings.verify);
                assert_eq!(settings.ca.as_deref(), Some(Path::new("/c/ca.pem")));
            }
            other => panic!("{other:?}"),
        }
        let persist = env_of(&[("SLIPWAY_SSH_PERSIST", "90s")]);
        let c = resolve_with(&ConnectOptions::host(Some("ssh://h")), &persist, None).unwrap();
        assert_eq!(c.ssh.persist, Some(std::time::Duration::from_secs(90)), "persistence is opt-in by env");
        assert_eq!(resolve_with(&ConnectOptions::host(Some("ssh://h")), &none, None).unwrap().ssh.persist, None);
        let bad = env_of(&[("SLIPWAY_SSH_PERSIST", "soon")]);
        assert!(resolve_with(&ConnectOptions::host(Some("ssh://h")), &bad, None).unwrap_err().is_invalid_input());
        let plain = resolve_with(&ConnectOptions::host(Some("tcp://127.0.0.1:2375")), &none, None).unwrap();
        assert_eq!(plain.endpoint, Endpoint::Http("127.0.0.1:2375".into()));
        let tls_only = ConnectOptions::host(Some("tcp://h:2376")).tls(true, false, None, None, None);
        let c = resolve_with(&tls_only, &none, None).unwrap();
        assert!(matches!(&c.endpoint, Endpoint::Tls { settings, .. } if !settings.verify));
        for bad in ["10.0.0.1", "ftp://x", "tcp://nohostport"] {
            assert!(
                resolve_with(&ConnectOptions::host(Some(bad)), &none, None).unwrap_err().is_invalid_input(),
                "{bad}"
            );
        }
        let both = ConnectOptions::host(Some("tcp://h:1")).context(Some("prod"));
        assert!(resolve_with(&both, &none, None).unwrap_err().to_string().contains("conflict"));
    }

    #[test]
    fn contexts_come_from_flag_env_and_config_in_that_order() {
        let dir = tempfile::tempdir().unwrap();
        for (name, host) in [("prod", "ssh://deploy@203.0.113.7"), ("ci", "ssh://ci@203.0.113.8")] {
            let id = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(name.as_bytes()));
            let meta = dir.path().join("contexts/meta").join(id);
            std::fs::create_dir_all(&meta).unwrap();
            let body = serde_json::json!({"Name": name, "Endpoints": {"docker": {"Host": host}}});
            std::fs::write(meta.join("meta.json"), body.to_string()).unwrap();
        }
        std::fs::write(dir.path().join("config.json"), r#"{"currentContext":"prod"}"#).unwrap();
        let host_of = |o: &ConnectOptions, env: &[(&str, &str)]| {
            resolve_with(o, &env_of(env), Some(dir.path())).map(|c| c.host().to_string())
        };
        let d = ConnectOptions::default();
        assert_eq!(host_of(&d, &[]).unwrap(), "ssh://deploy@203.0.113.7");
        assert_eq!(host_of(&d, &[("DOCKER_CONTEXT", "ci")]).unwrap(), "ssh://ci@203.0.113.8");
        assert_eq!(
            host_of(&d, &[("DOCKER_HOST", "unix:///x.sock"), ("DOCKER_CONTEXT", "ci")]).unwrap(),
            "unix:///x.sock"
        );
        assert_eq!(
            host_of(&d.clone().context(Some("ci")), &[("DOCKER_HOST", "unix:///x")]).unwrap(),
            "ssh://ci@203.0.113.8"
        );
        assert_eq!(host_of(&d.clone().context(Some("default")), &[]).unwrap(), DEFAULT_SOCKET);
        assert!(host_of(&d.context(Some("gone")), &[]).is_err());
    }
}
