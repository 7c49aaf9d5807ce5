//! The route room's error enum.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::ErrorKind;

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
    /// A backend address is not a usable URL.
    #[error("backend {backend:?} is not a valid address ({reason}); expected http://HOST:PORT")]
    InvalidBackend {
        /// The address as given.
        backend: String,
        /// Why.
        reason: String,
    },
    /// The new backend never answered its health path: it was not put into the rotation.
    #[error(
        "service {service}: backend {backend} did not answer {path} healthily within {waited:?} \
         (last: {last}); it was not put into the rotation, the previous backends keep serving"
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
        /// The last probe outcome.
        last: String,
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
        /// What the proxy last showed.
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
        /// `read`, `write`, `rename`, `remove`, `parse`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The container's address could not be found through the engine.
    #[error("service {service}: cannot find the address of container {container}: {reason}")]
    ContainerAddress {
        /// The service.
        service: String,
        /// The container id or name.
        container: String,
        /// Why (engine error, no network address, ...).
        reason: String,
    },
    /// The managed proxy cannot be given a way to the backend.
    #[error("backend {backend} cannot be reached from proxy {proxy}: {reason}")]
    Unreachable {
        /// The backend.
        backend: String,
        /// The proxy's container.
        proxy: String,
        /// Why.
        reason: String,
    },
    /// The proxy's API could not be queried at all.
    #[error("cannot reach the proxy API at {url}: {reason}; is the API enabled and the address right?")]
    Api {
        /// The API URL.
        url: String,
        /// Why.
        reason: String,
    },
}

impl RouteError {
    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RouteError::InvalidSpec { .. } | RouteError::InvalidBackend { .. } => ErrorKind::InvalidInput,
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
