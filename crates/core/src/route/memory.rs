//! `MemoryRouter`: an in-memory [`TrafficRouter`] for unit tests of the code above the trait
//! (the deployer's rollout state machine). It keeps the server set per service and can be told
//! that some backends never become live, to exercise failure edges.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{emit, Backend, RouteError, RouteEvent, RouteSpec, TrafficRouter};
use crate::events::Observer;

/// An in-memory router. Every change is recorded in [`MemoryRouter::history`].
#[derive(Debug, Default)]
pub struct MemoryRouter {
    sets: Mutex<BTreeMap<String, Vec<Backend>>>,
    failing: Mutex<BTreeSet<Backend>>,
    history: Mutex<Vec<String>>,
}

impl MemoryRouter {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Make `backend` never become live: `add_backend` fails with `BackendUnhealthy`.
    pub fn fail_backend(&self, backend: &Backend) {
        if let Ok(mut f) = self.failing.lock() {
            f.insert(backend.clone());
        }
    }

    /// The changes made so far: `add <service> <backend>` / `remove <service> <backend>`.
    pub fn history(&self) -> Vec<String> {
        self.history.lock().map(|h| h.clone()).unwrap_or_default()
    }

    fn record(&self, line: String) {
        if let Ok(mut h) = self.history.lock() {
            h.push(line);
        }
    }
}

#[async_trait]
impl TrafficRouter for MemoryRouter {
    async fn backends(&self, route: &RouteSpec) -> Result<Vec<Backend>, RouteError> {
        Ok(self.sets.lock().map(|s| s.get(&route.key()).cloned().unwrap_or_default()).unwrap_or_default())
    }

    async fn add_backend(
        &self,
        route: &RouteSpec,
        backend: &Backend,
        observer: &dyn Observer,
    ) -> Result<(), RouteError> {
        if self.failing.lock().map(|f| f.contains(backend)).unwrap_or(false) {
            return Err(RouteError::BackendUnhealthy {
                service: route.service.clone(),
                backend: backend.to_string(),
                path: route.health.path.clone(),
                waited: std::time::Duration::ZERO,
                last: "told to fail".into(),
            });
        }
        if let Ok(mut sets) = self.sets.lock() {
            let set = sets.entry(route.key()).or_default();
            if !set.contains(backend) {
                set.push(backend.clone());
                set.sort();
            }
        }
        self.record(format!("add {} {backend}", route.service));
        emit(
            observer,
            RouteEvent::BackendLive { service: route.service.clone(), backend: backend.to_string(), waited_ms: 0 },
        );
        Ok(())
    }

    async fn remove_backend(
        &self,
        route: &RouteSpec,
        backend: &Backend,
        observer: &dyn Observer,
    ) -> Result<(), RouteError> {
        if let Ok(mut sets) = self.sets.lock() {
            let set = sets.entry(route.key()).or_default();
            if set.len() == 1 && set.contains(backend) {
                return Err(RouteError::LastBackend { service: route.service.clone(), backend: backend.to_string() });
            }
            set.retain(|b| b != backend);
        }
        self.record(format!("remove {} {backend}", route.service));
        emit(
            observer,
            RouteEvent::BackendOut { service: route.service.clone(), backend: backend.to_string(), waited_ms: 0 },
        );
        Ok(())
    }

    async fn retire(&self, route: &RouteSpec, _observer: &dyn Observer) -> Result<(), RouteError> {
        if let Ok(mut sets) = self.sets.lock() {
            sets.remove(&route.key());
        }
        self.record(format!("retire {}", route.service));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::events::{Event, NoopObserver, RecordingObserver};

    fn route() -> RouteSpec {
        let mut r = RouteSpec::new("s", "web", "Host(`x`)", 8080);
        r.drain = Duration::from_millis(10);
        r
    }

    #[tokio::test]
    async fn switch_adds_before_removing_and_drains() {
        let router = MemoryRouter::new();
        let (a, b) = (Backend::http("10.0.0.1", 8080), Backend::http("10.0.0.2", 8080));
        router.add_backend(&route(), &a, &NoopObserver).await.unwrap();
        let obs = RecordingObserver::new();
        let report = router.switch(&route(), std::slice::from_ref(&b), std::slice::from_ref(&a), &obs).await.unwrap();
        assert_eq!(
            router.history(),
            vec!["add web http://10.0.0.1:8080", "add web http://10.0.0.2:8080", "remove web http://10.0.0.1:8080"]
        );
        assert_eq!(router.backends(&route()).await.unwrap(), vec![b]);
        assert_eq!(report.removed, vec![a]);
        assert_eq!(report.drained, Duration::from_millis(10));
        assert!(matches!(obs.events().last(), Some(Event::Route(RouteEvent::Draining { .. }))));
    }

    #[tokio::test]
    async fn failed_add_undoes_and_keeps_old() {
        let router = MemoryRouter::new();
        let (a, b, c) = (Backend::http("10.0.0.1", 80), Backend::http("10.0.0.2", 80), Backend::http("10.0.0.3", 80));
        router.add_backend(&route(), &a, &NoopObserver).await.unwrap();
        router.fail_backend(&c);
        let err = router.switch(&route(), &[b.clone(), c], std::slice::from_ref(&a), &NoopObserver).await.unwrap_err();
        assert!(matches!(err, RouteError::BackendUnhealthy { .. }));
        assert_eq!(router.backends(&route()).await.unwrap(), vec![a.clone()]);
        assert_eq!(router.history().last().unwrap(), "remove web http://10.0.0.2:80");
        let err = router.remove_backend(&route(), &a, &NoopObserver).await.unwrap_err();
        assert!(matches!(err, RouteError::LastBackend { .. }));
    }

    #[test]
    fn backend_parse_normalises_and_rejects() {
        assert_eq!(Backend::parse("http://127.0.0.1:8080/").unwrap().url(), "http://127.0.0.1:8080");
        assert!(Backend::parse("127.0.0.1:8080").is_err());
        assert!(Backend::parse("ftp://x:1").is_err());
    }
}
