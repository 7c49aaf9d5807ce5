//! Tunnels: a local port whose connections are opened from the engine's host, so probes of
//! container addresses run from the target's side when the engine is remote. Over `ssh://` each
//! connection is an `ssh -W` through the command's master connection; over `tcp://` and TLS it is
//! an exec of `slipway-relay HOST PORT` in the connection's relay helper container (`relay.rs`),
//! its stdin and stdout attached. A local engine has none.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bollard::container::LogOutput;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::connection::{Connection, Endpoint};
use super::relay::{Input, Output, RelaySlot, CONNECTION_MAX_SECS};
use super::ssh::SshMaster;
use super::EngineError;

/// A listening local port forwarding to one address on the engine's side. Closed on drop.
#[derive(Debug)]
pub struct Tunnel {
    local: SocketAddr,
    task: JoinHandle<()>,
    relay: Option<RelayEnd>,
}

/// What a relay tunnel reaches, for [`Tunnel::ready`] and [`Tunnel::connects`].
#[derive(Debug)]
struct RelayEnd {
    slot: Arc<RelaySlot>,
    near: Option<String>,
    host: String,
    port: u16,
}

impl Tunnel {
    /// The local address (`127.0.0.1:PORT`) to connect to instead of the remote one.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// True when the connections go through the relay helper (tcp:// and TLS engines).
    pub fn through_relay(&self) -> bool {
        self.relay.is_some()
    }

    /// Make sure what the tunnel needs on the engine's side is there (the relay's helper
    /// container, joined to the right networks), waiting at most `bound`; the setup goes on in
    /// the background after that, for the next attempt. Nothing to do for an ssh tunnel.
    pub async fn ready(&self, bound: Duration) -> Result<(), EngineError> {
        let Some(r) = &self.relay else { return Ok(()) };
        let (slot, near, host) = (r.slot.clone(), r.near.clone(), r.host.clone());
        let setup = tokio::spawn(async move { slot.ready(near.as_deref(), &host).await.map(|_| ()) });
        match tokio::time::timeout(bound, setup).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => Err(EngineError::RelayFailed { host: r.slot.host().to_string(), reason: e.to_string() }),
            Err(_) => Err(EngineError::RelayTimeout {
                host: r.slot.host().to_string(),
                step: "start its helper container",
                secs: bound.as_secs_f64().ceil() as u64,
            }),
        }
    }

    /// For a relay tunnel, whether the address accepts a TCP connection from the engine's side
    /// (`Err` with the reason, e.g. "Connection refused"), within `bound`; `None` for an ssh
    /// tunnel, whose local end is closed at once when the remote side cannot connect.
    pub async fn connects(&self, bound: Duration) -> Option<Result<(), String>> {
        let r = self.relay.as_ref()?;
        Some(match tokio::time::timeout(bound, r.slot.connects(r.near.as_deref(), &r.host, r.port)).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer through the relay within {}ms", bound.as_millis())),
        })
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Connection {
    /// True when the engine's host is reached over SSH (container addresses are then reached
    /// through [`Connection::tunnel`], by `ssh -W`).
    pub fn has_tunnels(&self) -> bool {
        matches!(self.endpoint, Endpoint::Ssh(_))
    }

    /// True when the engine is reached over `tcp://` or TLS: container addresses are then reached
    /// through the relay helper (when this build has it, see [`EngineError::NoRelayHelper`]).
    pub fn has_relay(&self) -> bool {
        self.relay.applies()
    }

    /// A local port forwarding to `host:port` as the engine's host sees it (see
    /// [`Connection::tunnel_near`]).
    pub fn tunnel(&self, host: &str, port: u16) -> Result<Option<Tunnel>, EngineError> {
        self.tunnel_near(host, port, None)
    }

    /// A local port forwarding to `host:port` as the engine's side sees it; `None` for a local
    /// engine. Over `ssh://`: from the engine's host. Over `tcp://`/TLS: from the relay helper,
    /// joined to the networks of container `near` (the probed one; so `{ip}` and container names
    /// resolve as on the project's network), else to those whose subnet holds `host`. Needs a
    /// tokio runtime. A connection the remote side cannot open is closed at once (the client
    /// sees an end without an answer).
    pub fn tunnel_near(&self, host: &str, port: u16, near: Option<&str>) -> Result<Option<Tunnel>, EngineError> {
        match &self.endpoint {
            Endpoint::Unix(_) => Ok(None),
            Endpoint::Ssh(_) => self.ssh_tunnel(host, port).map(Some),
            Endpoint::Http(_) | Endpoint::Tls { .. } => self.relay_tunnel(host, port, near).map(Some),
        }
    }

    fn listen(&self) -> Result<(TcpListener, SocketAddr, tokio::runtime::Handle), EngineError> {
        let spawn_err = |source| EngineError::Spawn { host: self.host().to_string(), source };
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(spawn_err)?;
        std_listener.set_nonblocking(true).map_err(spawn_err)?;
        let local = std_listener.local_addr().map_err(spawn_err)?;
        let handle = tokio::runtime::Handle::try_current().map_err(|e| spawn_err(std::io::Error::other(e)))?;
        let listener = {
            let _enter = handle.enter();
            TcpListener::from_std(std_listener).map_err(spawn_err)?
        };
        Ok((listener, local, handle))
    }

    fn ssh_tunnel(&self, host: &str, port: u16) -> Result<Tunnel, EngineError> {
        let Endpoint::Ssh(target) = &self.endpoint else {
            return Err(EngineError::InvalidHost { host: self.host().into(), reason: "not ssh://".into() });
        };
        let (listener, local, handle) = self.listen()?;
        let (connection, target, host) = (self.clone(), target.clone(), host.to_string());
        let task = handle.spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let (connection, target, host) = (connection.clone(), target.clone(), host.clone());
                tokio::spawn(async move {
                    let master = connection
                        .master
                        .get_or_try_init(|| async {
                            SshMaster::start(&target, &connection.ssh).await.map(std::sync::Arc::new)
                        })
                        .await;
                    let Ok(master) = master else { return };
                    let Ok(mut outbound) = master.forward(&host, port) else { return };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
        });
        Ok(Tunnel { local, task, relay: None })
    }

    fn relay_tunnel(&self, host: &str, port: u16, near: Option<&str>) -> Result<Tunnel, EngineError> {
        if !super::relay_image::available() {
            return Err(EngineError::NoRelayHelper { host: self.host().to_string() });
        }
        let (listener, local, handle) = self.listen()?;
        let (slot, target, near) = (self.relay.clone(), host.to_string(), near.map(str::to_string));
        let (s, t, n) = (slot.clone(), target.clone(), near.clone());
        let task = handle.spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (slot, target, near) = (s.clone(), t.clone(), n.clone());
                tokio::spawn(async move {
                    let bound = Duration::from_secs(CONNECTION_MAX_SECS + 10);
                    let _ = tokio::time::timeout(bound, async {
                        match slot.open(near.as_deref(), &target, port).await {
                            Ok((output, input)) => pump(inbound, output, input).await,
                            Err(e) => tracing::debug!("relay to {target}:{port}: {e}"),
                        }
                    })
                    .await;
                });
            }
        });
        Ok(Tunnel { local, task, relay: Some(RelayEnd { slot, near, host: target, port }) })
    }
}

/// Copy between a local connection and one relay exec: the local side's end closes the exec's
/// stdin (the program half-closes its socket); the exec's end (its stdout closed) ends both.
async fn pump(inbound: TcpStream, mut output: Output, mut input: Input) {
    let (mut from_local, mut to_local) = inbound.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut from_local, &mut input).await;
        let _ = input.shutdown().await;
    };
    let down = async move {
        while let Some(Ok(frame)) = output.next().await {
            if let LogOutput::StdOut { message } = frame {
                if to_local.write_all(&message).await.is_err() {
                    break;
                }
            }
        }
        let _ = to_local.shutdown().await;
    };
    tokio::pin!(up, down);
    let mut up_done = false;
    loop {
        tokio::select! {
            () = &mut up, if !up_done => up_done = true,
            () = &mut down => break,
        }
    }
}
