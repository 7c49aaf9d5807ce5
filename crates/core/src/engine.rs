//! `engine::connect`: one way to reach a Docker Engine, used by every room that talks to one.
//! The host comes from the caller (`--host`), else `DOCKER_HOST`, else the local socket; the API
//! version is negotiated so a newer client works with Debian's engine (API 1.41).

use bollard::{Docker, API_DEFAULT_VERSION};

/// Seconds a single engine request may take before it fails.
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// The engine could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the Docker engine at {host}: {source}")]
pub struct EngineError {
    /// The address tried (`unix:///var/run/docker.sock`, `tcp://...`).
    pub host: String,
    /// The engine client's error.
    #[source]
    pub source: bollard::errors::Error,
}

/// Connect to `host` (`unix:///path`, `tcp://h:p`, `http://h:p`), else `DOCKER_HOST`, else the
/// local socket, and negotiate the API version.
pub async fn connect(host: Option<&str>) -> Result<Docker, EngineError> {
    let host = host.map(str::to_string).or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()));
    let shown = host.clone().unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
    let err = |source| EngineError { host: shown.clone(), source };
    let docker = match host.as_deref() {
        None => Docker::connect_with_local_defaults(),
        Some(h) if h.starts_with("unix://") => {
            Docker::connect_with_socket(h, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
        }
        Some(h) => Docker::connect_with_http(h, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION),
    }
    .map_err(err)?;
    docker.negotiate_version().await.map_err(err)
}
