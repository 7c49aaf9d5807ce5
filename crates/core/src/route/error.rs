//! The route room's error enum, and the small leaf enums that say why a request to the proxy's
//! API ([`ApiFailure`]), a probe of a backend ([`ProbeFailure`]) or a network change of the managed
//! proxy ([`NetworkFailure`]) failed. Underlying errors (reqwest, bollard, io, YAML, URL) are kept
//! as `#[source]`, never flattened into text. A leaf enum is boxed inside `RouteError` (to keep it
//! small) and holds the library error unboxed, so `source()` chains reach the library's own type
//! (a `downcast_ref::<reqwest::Error>()` works); match the leaf through its field.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::ErrorKind;
use crate::route::traefik::ExecError;

/// Errors from the route room. Every variant names the service (and backend) it was working on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The service's routing labels or `x-slipway.route` settings are wrong.
    #[error("service {service}: invalid routing settings: {reason}")]
    InvalidSpec {
        /// The service.
        service: String,
        /// What is wrong, naming the label or key.
        reason: String,
    },
    /// A duration in the routing settings does not parse.
    #[error("service {service}: invalid routing settings: {key}={value}: {source}")]
    InvalidDuration {
        /// The service (`x-slipway.traefik` for the stack's router settings).
        service: String,
        /// The key (`drain`, `health_interval`, `confirm_timeout`, ...).
        key: &'static str,
        /// The value as given.
        value: String,
        /// The parser's error.
        #[source]
        source: humantime::DurationError,
    },
    /// A backend address is not a usable URL.
    #[error(
        "backend {backend:?} is not a valid address{}; expected http://HOST:PORT or https://HOST:PORT",
        source.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
    )]
    InvalidBackend {
        /// The address as given.
        backend: String,
        /// The URL parser's error (`None`: a URL, but not `http(s)://HOST...`).
        #[source]
        source: Option<url::ParseError>,
    },
    /// The new backend never answered its health path: it was not put into the rotation.
    #[error(
        "service {service}: backend {backend} did not answer {path} healthily within {waited:?} \
         (last: {}); it was not put into the rotation, the previous backends keep serving",
        last.as_ref().map(ToString::to_string).unwrap_or_else(|| "not probed".into())
    )]
    BackendUnhealthy {
        /// The service.
        service: String,
        /// The backend.
        backend: String,
        /// The health path probed.
        path: String,
        /// How long was waited.
        waited: Duration,
        /// Why the last probe failed (`None`: no probe finished within the bound; boxed: keeps
        /// the error small).
        #[source]
        last: Option<Box<ProbeFailure>>,
    },
    /// The proxy did not show the expected server set within the bound; `previous` says whether
    /// the previous set was put back (and confirmed).
    #[error(
        "service {service}: the proxy did not confirm {what} within {waited:?} (expected {expected:?}, \
         last seen {seen}); {previous} — check the proxy's logs and that its file provider watches \
         slipway's directory"
    )]
    NotConfirmed {
        /// The service.
        service: String,
        /// What was waited for ("backend X live", "backend X out of the rotation").
        what: String,
        /// The expected server set.
        expected: Vec<String>,
        /// What the proxy last showed (its view of the service, or why the API did not answer).
        seen: String,
        /// How long was waited.
        waited: Duration,
        /// What became of the previous server set (boxed: keeps the error small).
        previous: Box<PreviousRoute>,
    },
    /// Removing this backend would leave the service without any.
    #[error(
        "service {service}: refusing to remove {backend}, the last backend in the rotation; add the new one first"
    )]
    LastBackend {
        /// The service.
        service: String,
        /// The backend.
        backend: String,
    },
    /// The proxy's dynamic configuration file could not be read or written.
    #[error("service {service}: cannot {action} {path}: {source}")]
    ConfigFile {
        /// The service.
        service: String,
        /// `read`, `write`, `remove`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause (for the managed proxy: the engine's error inside an `io::Error`).
        #[source]
        source: std::io::Error,
    },
    /// The proxy's dynamic configuration could not be rendered, or a file read back does not parse.
    #[error("service {service}: cannot {action} {path}: {source}")]
    ConfigText {
        /// The service.
        service: String,
        /// `render`, `parse`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The YAML error.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// The container's address could not be found in what the engine shows of it.
    #[error("service {service}: cannot find the address of container {container}: {reason}")]
    ContainerAddress {
        /// The service.
        service: String,
        /// The container id or name.
        container: String,
        /// Why (no network address, not on the route's network, ...).
        reason: String,
    },
    /// The engine could not show the container whose address is wanted.
    #[error("service {service}: cannot find the address of container {container}: {source}")]
    ContainerInspect {
        /// The service.
        service: String,
        /// The container id or name.
        container: String,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// The managed proxy cannot be given a way to the backend.
    #[error("backend {backend} cannot be reached from proxy {proxy}: {source}")]
    Unreachable {
        /// The backend.
        backend: String,
        /// The proxy's container.
        proxy: String,
        /// Why (boxed: keeps the error small).
        #[source]
        source: Box<NetworkFailure>,
    },
    /// The proxy's API could not be queried, or its answer not read.
    #[error("cannot reach the proxy API at {url}: {source}; is the API enabled and the address right?")]
    Api {
        /// The API URL.
        url: String,
        /// Why (boxed: keeps the error small).
        #[source]
        source: Box<ApiFailure>,
    },
}

/// Why a request to the proxy's API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiFailure {
    /// The HTTP client could not be built.
    #[error("cannot set up an HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The request could not be sent or its answer not read (refused, timed out, reset).
    #[error("{0}")]
    Request(#[source] reqwest::Error),
    /// The API answered with an unexpected status.
    #[error("HTTP {}", status_text(*status))]
    Status {
        /// The status code.
        status: u16,
    },
    /// The answer is not the JSON the API documents.
    #[error("unreadable answer: {0}")]
    Answer(#[source] serde_json::Error),
    /// The request inside the managed proxy (exec) could not be run.
    #[error("{0}")]
    Exec(#[source] ExecError),
    /// `wget` inside the managed proxy failed without an HTTP status (refused, timed out, ...).
    #[error("wget exited with {code}: {stderr}")]
    Wget {
        /// Its exit code.
        code: i64,
        /// The end of its error output.
        stderr: String,
    },
}

/// Why one probe of a backend's health path failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeFailure {
    /// The backend answered with a status that is not 2xx/3xx.
    #[error("HTTP {}{}", status_text(*status), from.as_deref().map(|p| format!(" (probed from {p})")).unwrap_or_default())]
    Status {
        /// The status code.
        status: u16,
        /// The proxy's container it was probed from (`None`: from here).
        from: Option<String>,
    },
    /// The request failed (refused, timed out, reset, not HTTP).
    #[error("{0}")]
    Request(#[source] reqwest::Error),
    /// The probe inside the managed proxy (exec) could not be run.
    #[error("{0}")]
    Exec(#[source] ExecError),
    /// `wget` inside the managed proxy failed without an HTTP status (refused, timed out, ...).
    #[error("wget in {proxy} exited with {code}: {stderr}")]
    Wget {
        /// The proxy's container.
        proxy: String,
        /// Its exit code.
        code: i64,
        /// The end of its error output.
        stderr: String,
    },
}

/// Why the managed proxy could not join (or leave) a backend's network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkFailure {
    /// The backend is a loopback address: inside the proxy's container that is the proxy itself.
    #[error(
        "a loopback address is the proxy container itself: address backends by container IP on a network \
         (traefik.docker.network or the project's network), not by a published port"
    )]
    Loopback,
    /// An engine request failed.
    #[error("{action}: {source}")]
    Engine {
        /// What was asked (`list networks`, `connect slipway-proxy to network n`, ...).
        action: String,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// A command inside the proxy could not be run or failed.
    #[error("{0}")]
    Exec(#[source] ExecError),
}

/// `503 Service Unavailable` (the code alone when it has no standard reason).
fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status) {
        Ok(code) => code.to_string(),
        Err(_) => status.to_string(),
    }
}

impl RouteError {
    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RouteError::InvalidSpec { .. } | RouteError::InvalidDuration { .. } | RouteError::InvalidBackend { .. } => {
                ErrorKind::InvalidInput
            }
            RouteError::LastBackend { .. } => ErrorKind::PolicyRefused,
            _ => ErrorKind::Failed,
        }
    }
}

/// What became of a route's previous server set after a change the proxy did not confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PreviousRoute {
    /// Nothing was put back (a route being removed, or the restore's own confirmation).
    Untouched,
    /// Written back and confirmed by the proxy.
    Restored,
    /// Not put back, or not confirmed: why.
    NotRestored(String),
}

impl std::fmt::Display for PreviousRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PreviousRoute::Untouched => write!(f, "nothing was put back"),
            PreviousRoute::Restored => write!(f, "the previous configuration was restored (the proxy confirmed it)"),
            PreviousRoute::NotRestored(why) => write!(f, "the previous configuration could NOT be restored: {why}"),
        }
    }
}

impl RouteError {
    /// This error, saying what became of the previous server set (a `NotConfirmed` only).
    pub(crate) fn after_restore(self, outcome: PreviousRoute) -> Self {
        match self {
            RouteError::NotConfirmed { service, what, expected, seen, waited, .. } => {
                RouteError::NotConfirmed { service, what, expected, seen, waited, previous: Box::new(outcome) }
            }
            other => other,
        }
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod source_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_confirmed_says_restored_only_when_it_was() {
        let err = |previous: PreviousRoute| RouteError::NotConfirmed {
            service: "web".into(),
            what: "backend http://10.0.0.2:80 live".into(),
            expected: vec!["http://10.0.0.2:80".into()],
            seen: "nothing".into(),
            waited: Duration::from_secs(5),
            previous: Box::new(previous),
        };
        let failed = err(PreviousRoute::Untouched)
            .after_restore(PreviousRoute::NotRestored("the proxy did not confirm it".into()))
            .to_string();
        assert!(failed.contains("could NOT be restored: the proxy did not confirm it"), "{failed}");
        assert!(!failed.contains("configuration was restored"), "{failed}");
        let restored = err(PreviousRoute::Untouched).after_restore(PreviousRoute::Restored).to_string();
        assert!(restored.contains("the previous configuration was restored"), "{restored}");
        assert!(err(PreviousRoute::Untouched).to_string().contains("nothing was put back"));
    }
}
