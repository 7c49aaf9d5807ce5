//! Tunnels: a local port whose connections are opened from the engine's host (`ssh -W` through
//! the command's master connection), so probes of container addresses run from the target's side
//! when the engine is remote. Only `ssh://` connections have them.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::connection::{Connection, Endpoint};
use super::ssh::SshMaster;
use super::EngineError;

/// A listening local port forwarding to one address on the engine's side. Closed on drop.
#[derive(Debug)]
pub struct Tunnel {
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl Tunnel {
    /// The local address (`127.0.0.1:PORT`) to connect to instead of the remote one.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Connection {
    /// True when the engine's host is reached over SSH (container addresses are then reached
    /// through [`Connection::tunnel`]).
    pub fn has_tunnels(&self) -> bool {
        matches!(self.endpoint, Endpoint::Ssh(_))
    }

    /// A local port forwarding to `host:port` as the engine's host sees it; `None` when this
    /// connection is not `ssh://`. Needs a tokio runtime. A connection the remote side cannot
    /// open is closed at once (the client sees an end without an answer).
    pub fn tunnel(&self, host: &str, port: u16) -> Result<Option<Tunnel>, EngineError> {
        let Endpoint::Ssh(target) = &self.endpoint else { return Ok(None) };
        let spawn_err = |source| EngineError::Spawn { host: self.host().to_string(), source };
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(spawn_err)?;
        std_listener.set_nonblocking(true).map_err(spawn_err)?;
        let local = std_listener.local_addr().map_err(spawn_err)?;
        let handle = tokio::runtime::Handle::try_current().map_err(|e| spawn_err(std::io::Error::other(e)))?;
        let listener = {
            let _enter = handle.enter();
            TcpListener::from_std(std_listener).map_err(spawn_err)?
        };
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
        Ok(Some(Tunnel { local, task }))
    }
}
