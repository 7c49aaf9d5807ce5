//! The proxy room: slipway's managed edge. `slipway proxy up | status | logs | down` runs
//! Traefik v3 as one container on the target host (`slipway-proxy`), through the engine
//! connection only (the local socket, `ssh://`, TLS alike):
//!
//! - [`settings`]: [`ProxySettings`] (builder), validated into Traefik's static configuration on
//!   its command line and a hash of it;
//! - `up`: idempotent create / no-op / recreate (with the measured gap), nothing half-made;
//! - `status`: what runs, with which settings, and what Traefik's API says; logs; down;
//! - [`error`], [`event`]: [`ProxyError`] (each variant says what to do), [`ProxyEvent`].
//!
//! The dynamic configuration lives on the volume `<name>-dynamic` (watched by Traefik's file
//! provider); the route room writes it through the engine ([`crate::route::traefik::ProxyContainer`]),
//! and the deployer routes a stack's labelled services through the managed proxy when it runs.
//! ACME certificates persist on `<name>-acme` (`acme.json`, created 0600 by Traefik).

mod error;
mod event;
pub mod settings;
mod status;
mod up;

use bollard::Docker;

pub use error::{NotReadyReason, ProxyError};
pub use event::ProxyEvent;
pub use settings::{AcmeSettings, ListenAddress, ProxySettings, ResolvedSettings, DEFAULT_IMAGE, DEFAULT_NAME};
pub use status::{ProxyDown, ProxyStatus};
pub use up::{ProxyUp, UpAction};

use crate::events::{Event, Observer};
use crate::route::traefik::{ProxyContainer, MANAGED_API, MANAGED_DYNAMIC_DIR, MANAGED_LABEL};

/// Where the dynamic configuration volume is mounted in the proxy.
pub const DYNAMIC_DIR: &str = MANAGED_DYNAMIC_DIR;
/// Where the ACME volume is mounted in the proxy.
pub const ACME_DIR: &str = "/slipway/acme";
/// Where the extra ACME CA file is copied in the proxy.
pub const CA_PATH: &str = "/slipway/ca/acme-ca.pem";
/// Where the API listens inside the proxy (not published).
pub const API_ADDR: &str = MANAGED_API;
/// Label marking the managed proxy's container and volumes.
pub const PROXY_LABEL: &str = MANAGED_LABEL;
/// Label holding the settings' hash.
pub const HASH_LABEL: &str = "dev.slipway.proxy.settings-hash";
/// Label holding the settings (JSON; no secrets: image, addresses, ACME email and server).
pub const SETTINGS_LABEL: &str = "dev.slipway.proxy.settings";

/// The managed proxy on one engine.
#[derive(Debug, Clone)]
pub struct ManagedProxy {
    docker: Docker,
    host: String,
}

impl ManagedProxy {
    /// The proxy on `docker`'s engine; `host` names the engine in errors (`-H` as given).
    pub fn new(docker: Docker, host: impl Into<String>) -> Self {
        ManagedProxy { docker, host: host.into() }
    }

    /// The engine `connection` names, API version negotiated.
    pub async fn connect(connection: &crate::engine::Connection) -> Result<Self, ProxyError> {
        let docker = crate::engine::connect(connection).await?;
        Ok(ManagedProxy { docker, host: connection.host().to_string() })
    }

    /// The engine client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The engine, as named in errors.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Run the proxy with `settings`: created when absent, nothing done when it already runs
    /// with the same settings, recreated (the gap measured and reported) when they changed.
    pub async fn up(&self, settings: &ProxySettings, observer: &dyn Observer) -> Result<ProxyUp, ProxyError> {
        up::up(self, settings, observer).await
    }

    /// What runs as proxy `name`, with which settings, and what its API says.
    pub async fn status(&self, name: &str) -> Result<ProxyStatus, ProxyError> {
        status::status(self, name).await
    }

    /// The last `tail` log lines of proxy `name` (all with `None`).
    pub async fn logs(&self, name: &str, tail: Option<usize>) -> Result<Vec<String>, ProxyError> {
        status::logs(self, name, tail).await
    }

    /// Stop and remove proxy `name`; its volumes (configuration, certificates) are kept.
    pub async fn down(&self, name: &str, observer: &dyn Observer) -> Result<ProxyDown, ProxyError> {
        status::down(self, name, observer).await
    }

    /// Whether proxy `name` runs on this engine (the deployer's question).
    pub async fn is_running(&self, name: &str) -> bool {
        running(&self.docker, name).await
    }
}

/// Whether container `name` is a running managed proxy.
pub(crate) async fn running(docker: &Docker, name: &str) -> bool {
    ProxyContainer::new(docker.clone(), name).is_running().await
}

pub(crate) fn emit(observer: &dyn Observer, event: ProxyEvent) {
    observer.event(&Event::Proxy(event));
}
