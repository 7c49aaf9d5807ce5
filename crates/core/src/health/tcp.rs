//! TCP connect probe, and the connect helper the PostgreSQL and Redis probes share.

use std::time::Duration;

use async_trait::async_trait;
use tokio::net::TcpStream;

use super::{bounded, Finding, HealthProbe, Outcome, ProbeResult};

/// Healthy when a TCP connection to `host:port` is accepted.
#[derive(Debug, Clone)]
pub struct TcpProbe {
    host: String,
    port: u16,
}

impl TcpProbe {
    /// Probe `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        TcpProbe { host: host.into(), port }
    }
}

#[async_trait]
impl HealthProbe for TcpProbe {
    fn target(&self) -> String {
        format!("tcp://{}", host_port(&self.host, self.port))
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        bounded(timeout, async {
            match connect(&self.host, self.port).await {
                Ok(_) => Finding::from(Outcome::Healthy),
                Err(outcome) => Finding::from(outcome),
            }
        })
        .await
    }
}

/// `host:port`, with brackets around IPv6 literals.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Resolve `host` and connect to the first address that accepts. Failures are `Unreachable`
/// outcomes naming the cause (unknown host, refused, ...). Not bounded: callers wrap it.
pub(crate) async fn connect(host: &str, port: u16) -> Result<TcpStream, Outcome> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = match tokio::net::lookup_host((host, port)).await {
        Ok(a) => a.collect(),
        Err(e) => return Err(Outcome::unreachable(format!("cannot resolve host {host}: {e}"))),
    };
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    match last {
        Some((addr, e)) => Err(Outcome::unreachable(format!("cannot connect to {addr}: {}", io_reason(&e)))),
        None => Err(Outcome::unreachable(format!("cannot resolve host {host}: no addresses"))),
    }
}

/// A short cause for an I/O error (`connection refused`, `connection reset`, ...).
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "connection refused (nothing listens on that port)".into(),
        K::ConnectionReset => "connection reset by peer".into(),
        K::ConnectionAborted => "connection aborted".into(),
        K::UnexpectedEof => "connection closed without an answer".into(),
        K::TimedOut => "timed out".into(),
        _ => e.to_string(),
    }
}
