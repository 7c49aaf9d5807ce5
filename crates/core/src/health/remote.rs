//! Probes from the engine's side: when the engine is remote, `http(s)://`, `tcp://`,
//! `postgres://` and `redis://` targets (container addresses such as `{ip}`) are probed through a
//! [`Tunnel`] opened from the target's side, not from the operator's machine, which cannot route
//! to them: `ssh -W` from the engine's host over `ssh://`, the relay helper container (on the
//! probed container's networks) over `tcp://` and TLS. The probe itself is unchanged; only its
//! address is the tunnel's local end. A build without the relay helper probes a tcp:// or TLS
//! engine's targets from this machine, labelled so.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::AsyncReadExt;

use super::http::redact_url;
use super::{bounded, Finding, HealthError, HealthProbe, Outcome, ProbeResult, TargetOptions};
use crate::engine::{Connection, EngineError, Tunnel};

/// How long a tunneled TCP connection must stay open (or the server speak) to count as accepted:
/// a connection the remote side cannot open is closed by ssh at once.
const TCP_SETTLE: Duration = Duration::from_millis(500);

/// `target` probed through a tunnel of `connection`, or `None` when the scheme or the connection
/// does not tunnel.
pub(crate) fn through_tunnel(
    target: &str,
    connection: &Connection,
    options: &TargetOptions,
) -> Result<Option<Arc<dyn HealthProbe>>, HealthError> {
    let shown = redact_url(target);
    let bad = |reason: String| HealthError::target(&shown, reason);
    let scheme = target.split_once("://").map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        "postgres" | "postgresql" => 5432,
        "redis" => 6379,
        "tcp" => 0,
        _ => return Ok(None),
    };
    if !connection.has_tunnels() && !connection.has_relay() {
        return from_operator(target, connection, options);
    }
    let mut url = url::Url::parse(target).map_err(|e| bad(format!("not a URL: {e}")))?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("missing host".into()))?.to_string();
    let port = url.port().unwrap_or(default_port);
    if port == 0 {
        return Err(bad("missing port (expected tcp://HOST:PORT)".into()));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let tunnel = match connection.tunnel_near(&bare, port, options.near.as_deref()) {
        Ok(Some(t)) => Arc::new(t),
        Ok(None) | Err(EngineError::NoRelayHelper { .. }) => return from_operator(target, connection, options),
        Err(e) => return Err(HealthError::HttpClient { target: shown, reason: e.to_string() }),
    };
    let local = tunnel.local_addr();
    let inner: Arc<dyn HealthProbe> = if scheme == "tcp" {
        Arc::new(TunneledTcp { local, tunnel: tunnel.clone() })
    } else {
        url.set_host(Some("127.0.0.1")).map_err(|e| bad(e.to_string()))?;
        url.set_port(Some(local.port())).map_err(|_| bad("cannot set the port".into()))?;
        let mut local_options = options.clone();
        (local_options.via, local_options.near) = (None, None);
        if matches!(scheme.as_str(), "http" | "https")
            && !options.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host"))
        {
            local_options = local_options.header("Host", format!("{host}:{port}"));
        }
        super::target::parse_target_with(url.as_str(), &local_options)?
    };
    Ok(Some(Arc::new(FromEngineSide { shown, host: connection.host().to_string(), tunnel, inner })))
}

/// A tcp:// or TLS engine with a build of slipway that has no relay helper: network targets are
/// probed from this machine. They are labelled so: an unreachable container address says where
/// it was tried from and what to use instead, rather than a bare timeout. A local engine's
/// targets are left as they are.
fn from_operator(
    target: &str,
    connection: &Connection,
    options: &TargetOptions,
) -> Result<Option<Arc<dyn HealthProbe>>, HealthError> {
    if !connection.is_remote() {
        return Ok(None);
    }
    let mut local_options = options.clone();
    (local_options.via, local_options.near) = (None, None);
    let inner = super::target::parse_target_with(target, &local_options)?;
    Ok(Some(Arc::new(FromOperatorSide { host: connection.host().to_string(), inner })))
}

/// A network probe of a remote engine's container run from the operator's machine.
#[derive(Debug)]
struct FromOperatorSide {
    host: String,
    inner: Arc<dyn HealthProbe>,
}

#[async_trait]
impl HealthProbe for FromOperatorSide {
    fn target(&self) -> String {
        self.inner.target()
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        let mut r = self.inner.probe(timeout).await;
        if let Outcome::Unreachable { reason } = &r.outcome {
            r.outcome = Outcome::unreachable(format!(
                "from this machine, not from the engine's host {} (this build of slipway has no relay helper to \
                 probe from the engine's side over tcp://, and container addresses are rarely routable from here): \
                 {reason}; reach the engine over ssh:// to probe from its side, or gate on the container's \
                 healthcheck or an exec:// probe",
                self.host
            ));
        }
        r
    }
}

/// A probe run through a tunnel; reports the original target.
#[derive(Debug)]
struct FromEngineSide {
    shown: String,
    host: String,
    tunnel: Arc<Tunnel>,
    inner: Arc<dyn HealthProbe>,
}

#[async_trait]
impl HealthProbe for FromEngineSide {
    fn target(&self) -> String {
        self.shown.clone()
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        let start = Instant::now();
        if let Err(e) = self.tunnel.ready(timeout).await {
            return ProbeResult::new(Outcome::unreachable(format!("from {}: {e}", self.host)), start.elapsed());
        }
        let mut r = self.inner.probe(timeout.saturating_sub(start.elapsed())).await;
        r.latency = start.elapsed();
        if let Outcome::Unreachable { reason } = &r.outcome {
            r.outcome = Outcome::unreachable(format!("from {}: {reason}", self.host));
        }
        r
    }
}

/// `tcp://` through a tunnel. Through ssh: accepted when the connection stays open or the server
/// speaks. Through the relay: accepted when the helper says it connected (its exec takes longer
/// to start than a settle time could tell apart).
#[derive(Debug)]
struct TunneledTcp {
    local: SocketAddr,
    tunnel: Arc<Tunnel>,
}

#[async_trait]
impl HealthProbe for TunneledTcp {
    fn target(&self) -> String {
        format!("tcp://{}", self.local)
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        bounded(timeout, async {
            if let Some(answer) = self.tunnel.connects(timeout).await {
                return Finding::from(match answer {
                    Ok(()) => Outcome::Healthy,
                    Err(reason) => Outcome::unreachable(reason),
                });
            }
            let mut s = match tokio::net::TcpStream::connect(self.local).await {
                Ok(s) => s,
                Err(e) => return Finding::from(Outcome::unreachable(format!("tunnel: {e}"))),
            };
            let mut byte = [0u8; 1];
            match tokio::time::timeout(TCP_SETTLE, s.read(&mut byte)).await {
                Err(_) | Ok(Ok(1..)) => Finding::from(Outcome::Healthy),
                Ok(Ok(_)) => Finding::from(Outcome::unreachable("connection refused or closed on the engine's side")),
                Ok(Err(e)) => Finding::from(Outcome::unreachable(super::tcp::io_reason(&e))),
            }
        })
        .await
    }
}
