//! Progress events of the route room.

use serde::Serialize;

/// Something that happened in the route room.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RouteEvent {
    /// The new backend is probed directly before it may enter the rotation.
    Probing {
        /// The service.
        service: String,
        /// The backend.
        backend: String,
    },
    /// The proxy's configuration for the service was written with this server set.
    ConfigWritten {
        /// The service.
        service: String,
        /// The servers now configured.
        backends: Vec<String>,
    },
    /// The proxy confirmed the backend live (in the set and UP).
    BackendLive {
        /// The service.
        service: String,
        /// The backend.
        backend: String,
        /// From writing the configuration to confirmation.
        waited_ms: u64,
    },
    /// The proxy confirmed the backend out of the rotation.
    BackendOut {
        /// The service.
        service: String,
        /// The backend.
        backend: String,
        /// From writing the configuration to confirmation.
        waited_ms: u64,
    },
    /// Waiting for in-flight requests to the removed backends to finish.
    Draining {
        /// The service.
        service: String,
        /// The drain period.
        drain_ms: u64,
    },
    /// A failed step could not be undone: the previous server set is not (confirmed) back.
    RestoreFailed {
        /// The service.
        service: String,
        /// The servers that should be configured.
        backends: Vec<String>,
        /// Why.
        reason: String,
    },
    /// The managed proxy joined a network to reach a backend on it.
    ProxyJoinedNetwork {
        /// The proxy's container.
        proxy: String,
        /// The network.
        network: String,
    },
    /// The managed proxy left a network no route it serves uses any more.
    ProxyLeftNetwork {
        /// The proxy's container.
        proxy: String,
        /// The network.
        network: String,
    },
    /// A failed step was undone: the previous server set is configured again (confirmed).
    Restored {
        /// The service.
        service: String,
        /// The servers configured again.
        backends: Vec<String>,
    },
}
