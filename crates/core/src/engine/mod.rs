//! The engine room: one way to reach a Docker Engine, used by every room that talks to one.
//!
//! - [`connection`]: which engine (`-H`, `--context`, `DOCKER_HOST`, `DOCKER_CONTEXT`, the current
//!   context, TLS flags and `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`), as a shared [`Connection`].
//! - One file per transport: the local socket and plain TCP are bollard's own; [`ssh`] (the system
//!   `ssh` with `docker system dial-stdio`, one master connection per command) and [`tls`] (rustls)
//!   go through [`transport`], a pooled HTTP client over dialed streams.
//! - [`error`]: [`EngineError`] and the classified [`TransportError`].
//! - `tunnel`: [`Tunnel`], a local port opened from the engine's side, for probes: `ssh -W`
//!   over ssh, an exec of the relay helper (`relay`, `relay_image`) over tcp:// and TLS.
//!
//! The API version is negotiated so a newer client works with Debian's engine (API 1.41).

pub mod connection;
mod context;
pub mod error;
pub mod relay;
mod relay_image;
mod relay_prune;
mod ssh;
mod ssh_control;
mod tls;
mod transport;
mod tunnel;

use std::sync::Arc;
use std::time::Duration;

use bollard::API_DEFAULT_VERSION;

/// The engine client every room uses (bollard's), re-exported for the faces.
pub use bollard::Docker;
pub use connection::{ConnectOptions, Connection};
pub use error::{EngineError, TransportError};
pub use relay::RELAY_LABEL;
pub use relay_prune::{detach_relays, remove_left_over_relays};
pub use tunnel::Tunnel;

use connection::Endpoint;

/// Seconds a single engine request may take before it fails.
pub(crate) const REQUEST_TIMEOUT_SECS: u64 = 120;
/// Seconds connecting (ssh master, TLS handshake, version negotiation) may take.
const CONNECT_BOUND_SECS: u64 = 30;

/// A client for `connection`'s engine, API version negotiated. Clients made from clones of one
/// `Connection` share its SSH master connection.
pub async fn connect(connection: &Connection) -> Result<Docker, EngineError> {
    let host = connection.host().to_string();
    let api = |source| EngineError::Api { host: host.clone(), source };
    let docker = match &connection.endpoint {
        Endpoint::Unix(path) => {
            Docker::connect_with_socket(path, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION).map_err(api)?
        }
        Endpoint::Http(addr) => {
            Docker::connect_with_http(&format!("http://{addr}"), REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
                .map_err(api)?
        }
        Endpoint::Tls { addr, settings } => {
            let dial = tls::TlsDial::new(&host, addr, settings, Duration::from_secs(ssh::CONNECT_TIMEOUT_SECS))?;
            transport::docker_over(Arc::new(dial), connection.failures.clone()).map_err(api)?
        }
        Endpoint::Ssh(target) => {
            let master = connection
                .master
                .get_or_try_init(|| async { ssh::SshMaster::start(target, &connection.ssh).await.map(Arc::new) })
                .await?
                .clone();
            transport::docker_over(Arc::new(ssh::SshDial(master)), connection.failures.clone()).map_err(api)?
        }
    };
    match tokio::time::timeout(Duration::from_secs(CONNECT_BOUND_SECS), docker.negotiate_version()).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(match EngineError::transport_of(&e) {
            Some(t) => EngineError::Transport(t),
            None => api(e),
        }),
        Err(_) => Err(TransportError::Timeout { host, secs: CONNECT_BOUND_SECS }.into()),
    }
}

/// [`connect`] to `host` (`-H`), else what the environment names (`DOCKER_HOST`, contexts), else
/// the local socket.
pub async fn connect_host(host: Option<&str>) -> Result<Docker, EngineError> {
    connect(&Connection::from_host(host)?).await
}
