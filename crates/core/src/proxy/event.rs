//! Progress events of the proxy room.

use serde::Serialize;

/// Something that happened to the managed proxy.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProxyEvent {
    /// The image is not on the host: pulling it.
    Pulling {
        /// The image.
        image: String,
    },
    /// A volume was created.
    VolumeCreated {
        /// The volume.
        volume: String,
    },
    /// The proxy already runs with these settings: nothing to do.
    Unchanged {
        /// The container.
        name: String,
        /// The settings' hash.
        settings_hash: String,
    },
    /// The settings changed: the proxy is recreated (traffic stops until the new one is ready).
    Recreating {
        /// The container.
        name: String,
        /// The running settings' hash.
        from_hash: String,
        /// The new settings' hash.
        to_hash: String,
    },
    /// The proxy answers on its API.
    Ready {
        /// The container.
        name: String,
        /// From start to the first answer.
        waited_ms: u64,
    },
    /// The proxy was recreated; `gap_ms` is how long no proxy served (old stopped -> new ready).
    Recreated {
        /// The container.
        name: String,
        /// The measured gap.
        gap_ms: u64,
    },
    /// The proxy was stopped and removed (its volumes are kept).
    Removed {
        /// The container.
        name: String,
    },
}
