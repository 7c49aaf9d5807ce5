//! How the undo confirms that what it put back serves (deploy room): the engine reports the old
//! container running (and healthy), each port it publishes answers a TCP connect from the engine
//! host's side (not behind the proxy), or the proxy shows its backend live. Each confirmation is
//! named in the [`super::UndoReport`]; a published port that stays silent within its bound is a
//! typed [`SilentPort`], never "restored".

use std::time::Duration;

use serde::Serialize;

use super::error::DeployError;
use super::seam::{Engine, PublishedPort};
use super::undo::UndoFailure;
use crate::wait::wait_until;

/// The most a published port gets to answer after the old container runs again (it runs, and
/// is healthy when it has a healthcheck, before this starts): the undo runs on every failure.
const PORT_BOUND: Duration = Duration::from_secs(5);

/// One connect attempt's bound inside [`PORT_BOUND`].
const CONNECT_BOUND: Duration = Duration::from_secs(1);

/// How long a connection to a published port must stay open (or the server speak) to count as
/// answered: the engine's userland proxy accepts on the host port even when nothing listens in
/// the container, and closes at once. Through an ssh tunnel the close takes a round trip.
pub(crate) const DIRECT_SETTLE: Duration = Duration::from_millis(200);
/// [`DIRECT_SETTLE`] through an ssh tunnel.
pub(crate) const TUNNEL_SETTLE: Duration = Duration::from_millis(500);

/// What confirmed one undo action, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Confirmation {
    /// The engine reports the container stopped.
    EngineStopped,
    /// The engine reports the container running, and `health` when it has a healthcheck.
    EngineRunning {
        /// Its health status (`healthy`), when it has a healthcheck.
        health: Option<String>,
    },
    /// A TCP connect to a port it publishes was accepted from the engine host's side.
    PortAnswered {
        /// The host port.
        port: u16,
    },
    /// The proxy (Traefik) confirmed the change to the route's backends.
    Proxy {
        /// The route's key.
        route: String,
        /// The backend put back or taken out.
        backend: String,
    },
}

/// A port the restored old container publishes that did not answer within the bound: that
/// service is not restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SilentPort {
    /// Service.
    pub service: String,
    /// The old container.
    pub container: String,
    /// The host port.
    pub port: u16,
    /// Why it counts as silent (the last connect's outcome: a [`PortSilence`]'s text).
    pub reason: String,
}

/// Why a published port did not answer a connect (the typed cause behind
/// [`SilentPort::reason`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum PortSilence {
    /// The connect failed (refused, unknown host): the health room's outcome.
    #[error("{0}")]
    Unreachable(crate::health::Outcome),
    /// The connection was accepted and closed at once.
    #[error("the connection was closed at once (nothing listens behind the published port)")]
    ClosedAtOnce,
    /// Reading the first byte failed.
    #[error("{}", crate::health::tcp::io_reason(.0))]
    Read(#[source] std::io::Error),
    /// No answer within the connect's bound.
    #[error("no answer within {}ms", .0.as_millis())]
    NoAnswer(Duration),
    /// No tunnel could be opened through the `ssh://` connection.
    #[error("{0}")]
    Tunnel(#[source] crate::engine::EngineError),
    /// The `ssh://` connection gave no tunnel.
    #[error("no tunnel")]
    NoTunnel,
    /// A `tcp://` engine's address could not be read.
    #[error("engine address {host}: {source}")]
    EngineAddress {
        /// The engine's address.
        host: String,
        /// The parser's error.
        #[source]
        source: url::ParseError,
    },
    /// The connect ran on the engine's host (through its ssh tunnel) and did not answer there.
    #[error("from {host}: {source}")]
    From {
        /// The engine's host.
        host: String,
        /// Why.
        #[source]
        source: Box<PortSilence>,
    },
    /// No attempt answered within the whole bound; the last attempt's outcome.
    #[error("did not answer within {}ms: {}", .bound.as_millis(), .last.as_ref().map_or_else(|| "no connect attempt finished".to_string(), |l| l.to_string()))]
    Silent {
        /// The whole bound.
        bound: Duration,
        /// The last attempt's outcome, when one finished.
        #[source]
        last: Option<Box<PortSilence>>,
    },
}

/// The old container runs again (and is healthy when it has a healthcheck), within `bound`.
pub(crate) async fn confirm_running(
    engine: &dyn Engine,
    id: &str,
    bound: Duration,
) -> Result<Confirmation, UndoFailure> {
    let what = format!("container {id:.12} to run again");
    let poll = wait_until(&what, bound, Duration::from_millis(100), || async {
        match engine.state(id).await {
            Err(e) => Some(Err(UndoFailure::from(e))),
            Ok(s) if !s.running && s.exit_code.is_some() => Some(Err(UndoFailure::ExitedAgain { code: s.exit_code })),
            Ok(s) if s.running && s.health.as_deref().is_none_or(|h| h == "healthy") => {
                Some(Ok(Confirmation::EngineRunning { health: s.health }))
            }
            Ok(s) if s.health.as_deref() == Some("unhealthy") => Some(Err(UndoFailure::Unhealthy)),
            Ok(_) => None,
        }
    });
    match tokio::time::timeout(bound + Duration::from_secs(5), poll).await {
        Ok(Ok(r)) => r,
        Ok(Err(t)) => Err(UndoFailure::NotRunning(t)),
        Err(_) => Err(UndoFailure::NoAnswer { what, bound }),
    }
}

/// Each port `container` publishes answers, all at once, within `bound` (at most
/// [`PORT_BOUND`]): the answered ones, and the silent ones.
pub(crate) async fn confirm_ports(
    engine: &dyn Engine,
    service: &str,
    container: &str,
    bound: Duration,
) -> Result<(Vec<Confirmation>, Vec<SilentPort>), DeployError> {
    let ports = engine.published_ports(container).await?;
    let bound = bound.clamp(CONNECT_BOUND, PORT_BOUND);
    let checks = ports.iter().map(|p| answer_within(engine, p, bound));
    let mut answered = Vec::new();
    let mut silent = Vec::new();
    for (port, result) in ports.iter().zip(futures::future::join_all(checks).await) {
        match result {
            Ok(()) => answered.push(Confirmation::PortAnswered { port: port.port }),
            // The report is the user-facing data: the typed cause's text.
            Err(why) => silent.push(SilentPort {
                service: service.into(),
                container: container.into(),
                port: port.port,
                reason: why.to_string(),
            }),
        }
    }
    Ok((answered, silent))
}

/// Connect to `port` until it answers, bounded by `bound` from outside (connects included).
async fn answer_within(engine: &dyn Engine, port: &PublishedPort, bound: Duration) -> Result<(), PortSilence> {
    let mut last = None;
    let poll = async {
        loop {
            let attempt = CONNECT_BOUND.min(bound);
            match tokio::time::timeout(attempt, engine.port_answers(port, attempt)).await {
                Ok(Ok(())) => return,
                Ok(Err(why)) => last = Some(Box::new(why)),
                Err(_) => last = Some(Box::new(PortSilence::NoAnswer(attempt))),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    match tokio::time::timeout(bound, poll).await {
        Ok(()) => Ok(()),
        Err(_) => Err(PortSilence::Silent { bound, last }),
    }
}

/// A TCP connect to `host:port` that stays open for `settle` or gets the server's first byte.
/// Not bounded: the caller wraps it.
pub(crate) async fn tcp_answers(host: String, port: u16, settle: Duration) -> Result<(), PortSilence> {
    use tokio::io::AsyncReadExt;
    let mut stream = crate::health::tcp::connect(&host, port).await.map_err(PortSilence::Unreachable)?;
    let mut byte = [0u8; 1];
    match tokio::time::timeout(settle, stream.read(&mut byte)).await {
        Err(_) | Ok(Ok(1..)) => Ok(()),
        Ok(Ok(_)) => Err(PortSilence::ClosedAtOnce),
        Ok(Err(e)) => Err(PortSilence::Read(e)),
    }
}
