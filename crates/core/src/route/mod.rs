//! Routing: how a service's traffic reaches a new container and leaves the old one.
//!
//! The [`TrafficRouter`] trait is the hook the deployer calls between "new container healthy" and
//! "stop the old container": [`TrafficRouter::switch`] puts the new backend into the rotation
//! (confirmed live by the proxy itself), takes the old one out (confirmed the same way) and waits
//! out the drain period; only after it returns may the caller stop the old container.
//! [`traefik::TraefikRouter`] drives Traefik v3 through its file provider and API. It is the one
//! traffic trait: the deployer's rollout state machine calls it directly (container addresses
//! come from the deployer's engine seam) and keeps the inverse of every change itself, so a
//! router holds no undo state. The in-memory double for unit tests is `deploy::fake::FakeRouter`.

mod docker;
mod error;
mod event;
mod spec;
pub mod traefik;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::events::{Event, Observer};

pub use docker::{backend_for_container, container_labels, ROUTE_LABEL};
pub use error::{ApiFailure, NetworkFailure, PreviousRoute, ProbeFailure, RouteError};
pub use event::RouteEvent;
pub use spec::{HealthCheckSpec, RouteSpec, RouterRule, TlsSpec};

/// One place a service's traffic can be sent: a container's address as the proxy reaches it,
/// e.g. `http://172.18.0.5:8080` (container IP on a shared network) or `http://127.0.0.1:32768`
/// (a published loopback port). Kept without a trailing slash, compared as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Backend(String);

impl Backend {
    /// A backend from a URL (`http://host:port`). Rejects anything without scheme and host.
    pub fn parse(url: &str) -> Result<Self, RouteError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| RouteError::InvalidBackend { backend: url.to_string(), source: Some(e) })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(RouteError::InvalidBackend { backend: url.to_string(), source: None });
        }
        Ok(Backend(url.trim_end_matches('/').to_string()))
    }

    /// `http://HOST:PORT`.
    pub fn http(host: &str, port: u16) -> Self {
        Backend(format!("http://{host}:{port}"))
    }

    /// The URL as text, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one switch did and how long its phases took (the benchmark prints these).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SwitchReport {
    /// The service.
    pub service: String,
    /// Backends that entered the rotation.
    pub added: Vec<Backend>,
    /// Backends that left the rotation.
    pub removed: Vec<Backend>,
    /// From the call until the proxy confirmed every new backend live.
    #[serde(with = "millis")]
    pub to_live: Duration,
    /// From "new backends live" until the proxy confirmed the old ones out of the rotation.
    #[serde(with = "millis")]
    pub to_out: Duration,
    /// The drain period waited after the old ones left the rotation.
    #[serde(with = "millis")]
    pub drained: Duration,
}

/// How a service's traffic reaches its containers. Every method is bounded in time and either
/// reaches its confirmed end state or restores the state it found and returns an error.
#[async_trait]
pub trait TrafficRouter: Send + Sync {
    /// The backends currently in the service's rotation (as configured by this router).
    async fn backends(&self, route: &RouteSpec) -> Result<Vec<Backend>, RouteError>;

    /// Put `backend` into the rotation. Returns once the proxy confirms it is live (in the
    /// service's server set, healthy, for at least one proxy health-check round). A backend that
    /// is not healthy is never added; one that does not become live is taken out again and the
    /// previous set restored before the error is returned.
    async fn add_backend(
        &self,
        route: &RouteSpec,
        backend: &Backend,
        observer: &dyn Observer,
    ) -> Result<(), RouteError>;

    /// Take `backend` out of the rotation. Returns once the proxy confirms it receives no new
    /// requests (it no longer appears in the service's server set). Does not drain or stop it.
    /// Refuses to remove the last backend of a service (use [`TrafficRouter::retire`]).
    async fn remove_backend(
        &self,
        route: &RouteSpec,
        backend: &Backend,
        observer: &dyn Observer,
    ) -> Result<(), RouteError>;

    /// Remove the service's route entirely (the service is gone from the stack).
    async fn retire(&self, route: &RouteSpec, observer: &dyn Observer) -> Result<(), RouteError>;

    /// The hook between "new healthy" and "stop old": add every `new` backend (each confirmed
    /// live), then remove every `old` backend (each confirmed out), then wait the route's drain
    /// period so in-flight requests finish. If adding fails, the backends added by this call are
    /// removed again and `old` keeps serving untouched. After `Ok`, the caller may stop `old`.
    async fn switch(
        &self,
        route: &RouteSpec,
        new: &[Backend],
        old: &[Backend],
        observer: &dyn Observer,
    ) -> Result<SwitchReport, RouteError> {
        let start = tokio::time::Instant::now();
        let mut added: Vec<Backend> = Vec::new();
        for backend in new {
            if let Err(e) = self.add_backend(route, backend, observer).await {
                for done in added.iter().rev() {
                    if let Err(undo) = self.remove_backend(route, done, observer).await {
                        tracing::warn!(service = %route.service, backend = %done, error = %undo, "undo failed");
                    }
                }
                return Err(e);
            }
            added.push(backend.clone());
        }
        let to_live = start.elapsed();
        let live_at = tokio::time::Instant::now();
        let mut removed = Vec::new();
        for backend in old {
            if new.contains(backend) {
                continue;
            }
            self.remove_backend(route, backend, observer).await?;
            removed.push(backend.clone());
        }
        let to_out = live_at.elapsed();
        let drained = if removed.is_empty() { Duration::ZERO } else { route.drain };
        if !drained.is_zero() {
            emit(
                observer,
                RouteEvent::Draining { service: route.service.clone(), drain_ms: drained.as_millis() as u64 },
            );
            tokio::time::sleep(drained).await;
        }
        Ok(SwitchReport { service: route.service.clone(), added, removed, to_live, to_out, drained })
    }
}

/// Send a route event to the observer.
pub(crate) fn emit(observer: &dyn Observer, event: RouteEvent) {
    observer.event(&Event::Route(event));
}

mod millis {
    //! Durations as integer milliseconds in JSON.
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}
