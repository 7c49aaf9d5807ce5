//! `TraefikRouter`: the [`TrafficRouter`] for Traefik v3, through its file provider and API.
//!
//! Mechanism (reasoning in `docs/rooms/route.md`): one file per service in a directory Traefik
//! watches (`providers.file.directory`, `watch: true`), replaced by atomic rename so Traefik never
//! reads half a file; backends addressed by URL (container IP:port on a shared network, or a
//! published loopback port); every change confirmed by polling Traefik's API until the service
//! shows exactly the expected server set with the new server `UP`. Traefik reports a new server
//! `UP` before its first own health check, so a backend is probed directly before it is written
//! and confirmed again after one of Traefik's health-check rounds.
//!
//! How the router reaches its Traefik is a [`ProxyAccess`]: [`LocalAccess`] for a Traefik the
//! user runs (`x-slipway.traefik`: a directory on this machine, the API over HTTP), and
//! [`ProxyContainer`] for the managed proxy (`slipway proxy up`: everything through the engine).

mod access;
mod api;
pub mod config;
mod container;
pub(crate) mod exec;
mod networks;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio::time::Instant;

pub use access::{LocalAccess, ProxyAccess};
pub use api::{ServiceView, TraefikApi};
pub use container::{ProxyContainer, MANAGED_API, MANAGED_DEFAULT_NAME, MANAGED_DYNAMIC_DIR, MANAGED_LABEL};
pub use exec::ExecError;
pub use networks::detach_managed_proxies;

use super::{emit, Backend, PreviousRoute, ProbeFailure, RouteError, RouteEvent, RouteSpec, TrafficRouter};
use crate::events::Observer;
use crate::stack::StackSpec;
use crate::wait::{wait_until, WaitTimeout};

/// Drives Traefik v3 through a watched dynamic-configuration directory and its API.
#[derive(Debug)]
pub struct TraefikRouter {
    access: Arc<dyn ProxyAccess>,
    confirm_timeout: Duration,
    health_timeout: Duration,
    poll: Duration,
    lock: Mutex<()>,
}

impl TraefikRouter {
    /// A router writing into `dynamic_dir` (Traefik's `providers.file.directory`, watched) and
    /// confirming through the API at `api_url` (`api.insecure` or an API router, e.g.
    /// `http://127.0.0.1:8080`).
    pub fn new(dynamic_dir: impl Into<PathBuf>, api_url: &str) -> Result<Self, RouteError> {
        Ok(Self::through(Arc::new(LocalAccess::new(dynamic_dir, api_url)?)))
    }

    /// A router reaching its Traefik through `access` (a [`LocalAccess`], or the managed proxy
    /// through the engine: `proxy::ProxyContainer`).
    pub fn through(access: Arc<dyn ProxyAccess>) -> Self {
        TraefikRouter {
            access,
            confirm_timeout: Duration::from_secs(30),
            health_timeout: Duration::from_secs(30),
            poll: Duration::from_millis(50),
            lock: Mutex::new(()),
        }
    }

    /// From the stack's top-level `x-slipway.traefik` settings, `None` when absent:
    /// `{ dynamic_dir: PATH, api: URL, confirm_timeout: "30s", health_timeout: "30s" }`
    /// (`dynamic_dir` = Traefik's watched `providers.file.directory`, `api` = its API address).
    pub fn from_stack(stack: &StackSpec) -> Result<Option<Self>, RouteError> {
        let Some(settings) = stack.slipway.get("traefik") else { return Ok(None) };
        let invalid = |reason: String| RouteError::InvalidSpec { service: "x-slipway.traefik".into(), reason };
        let text = |key: &str| settings.get(key).and_then(|v| v.as_str());
        let dir = text("dynamic_dir")
            .ok_or_else(|| invalid("dynamic_dir (Traefik's watched directory) is required".into()))?;
        let api = text("api")
            .ok_or_else(|| invalid("api (Traefik's API address, e.g. http://127.0.0.1:8080) is required".into()))?;
        let duration = |key: &'static str| -> Result<Option<Duration>, RouteError> {
            let parse = |t: &str| {
                humantime::parse_duration(t).map_err(|source| RouteError::InvalidDuration {
                    service: "x-slipway.traefik".into(),
                    key,
                    value: t.to_string(),
                    source,
                })
            };
            text(key).map(parse).transpose()
        };
        let mut router = TraefikRouter::new(dir, api)?;
        if let Some(d) = duration("confirm_timeout")? {
            router = router.confirm_timeout(d);
        }
        if let Some(d) = duration("health_timeout")? {
            router = router.health_timeout(d);
        }
        Ok(Some(router))
    }

    /// How long to wait for Traefik to show a change (default 30 s).
    pub fn confirm_timeout(mut self, timeout: Duration) -> Self {
        self.confirm_timeout = timeout;
        self
    }

    /// How long a new backend gets to answer its health path before it is refused (default 30 s).
    pub fn health_timeout(mut self, timeout: Duration) -> Self {
        self.health_timeout = timeout;
        self
    }

    /// How often the API and the backend are polled (default 50 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// The file holding the route's configuration.
    pub fn file_path(&self, route: &RouteSpec) -> PathBuf {
        self.access.path_of(&config::file_name(route))
    }

    /// What Traefik currently shows for the route's service.
    pub async fn view(&self, route: &RouteSpec) -> Result<ServiceView, RouteError> {
        let path = api::service_path(&route.key());
        api::parse_service(&self.access.api_name(), &path, self.access.api_get(&path).await?)
    }

    async fn router_status(&self, name: &str) -> Result<Option<String>, RouteError> {
        let path = api::router_path(name);
        api::parse_router_status(&self.access.api_name(), &path, self.access.api_get(&path).await?)
    }

    fn file_err(route: &RouteSpec, action: &'static str, path: &Path, source: std::io::Error) -> RouteError {
        RouteError::ConfigFile { service: route.service.clone(), action, path: path.to_path_buf(), source }
    }

    async fn read_set(&self, route: &RouteSpec) -> Result<Vec<Backend>, RouteError> {
        let path = self.file_path(route);
        let text = match self.access.read(&config::file_name(route)).await {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(Vec::new()),
            Err(e) => return Err(Self::file_err(route, "read", &path, e)),
        };
        config::servers_in(route, &text).map_err(|source| RouteError::ConfigText {
            service: route.service.clone(),
            action: "parse",
            path,
            source,
        })
    }

    /// Replace the route's file atomically (write a temporary file in the same directory, rename).
    async fn write_set(&self, route: &RouteSpec, set: &[Backend], observer: &dyn Observer) -> Result<(), RouteError> {
        let (path, file) = (self.file_path(route), config::file_name(route));
        if set.is_empty() {
            return self.access.remove(&file).await.map_err(|e| Self::file_err(route, "remove", &path, e));
        }
        let text = config::render(route, set).map_err(|source| RouteError::ConfigText {
            service: route.service.clone(),
            action: "render",
            path: path.clone(),
            source,
        })?;
        self.access.write(&file, &text).await.map_err(|e| Self::file_err(route, "write", &path, e))?;
        emit(
            observer,
            RouteEvent::ConfigWritten {
                service: route.service.clone(),
                backends: set.iter().map(|b| b.to_string()).collect(),
            },
        );
        Ok(())
    }

    /// Probe `backend`'s health path directly until it answers 2xx/3xx (bounded); how long the
    /// answering probe took.
    async fn probe_direct(&self, route: &RouteSpec, backend: &Backend) -> Result<Duration, RouteError> {
        let url = format!("{}{}", backend.url(), route.health.path);
        let last: std::sync::Mutex<Option<Box<ProbeFailure>>> = std::sync::Mutex::new(None);
        let what = format!("{url} to answer");
        // Bounded from outside too: the whole poll, the request in flight included.
        let outer = self.health_timeout + route.health.timeout + Duration::from_secs(1);
        let poll = wait_until(&what, self.health_timeout, self.poll.max(Duration::from_millis(100)), || {
            let (last, url) = (&last, &url);
            async move {
                let sent = Instant::now();
                let outcome = match self.access.probe(url, route.health.timeout).await {
                    Ok(()) => return Some(sent.elapsed()),
                    Err(why) => why,
                };
                if let Ok(mut l) = last.lock() {
                    *l = Some(Box::new(outcome));
                }
                None
            }
        });
        let result = tokio::time::timeout(outer, poll).await.unwrap_or(Err(WaitTimeout { what, waited: outer }));
        result.map_err(|t| RouteError::BackendUnhealthy {
            service: route.service.clone(),
            backend: backend.to_string(),
            path: route.health.path.clone(),
            waited: t.waited,
            last: last.lock().ok().and_then(|mut l| l.take()),
        })
    }

    /// Poll the API until the service shows exactly `expected` with every `up` server `UP` and
    /// every router present and not disabled (or, for an empty `expected`, no service at all).
    async fn confirm(
        &self,
        route: &RouteSpec,
        expected: &[Backend],
        up: &[Backend],
        what: &str,
        timeout: Duration,
    ) -> Result<Duration, RouteError> {
        let start = Instant::now();
        let mut want: Vec<String> = expected.iter().map(|b| b.to_string()).collect();
        want.sort();
        let seen = std::sync::Mutex::new(String::from("nothing"));
        let routers: Vec<String> = route.routers.iter().map(|r| config::router_name(route, &r.name)).collect();
        let poll = wait_until(what, timeout, self.poll, || {
            let (want, seen, routers) = (&want, &seen, &routers);
            async move {
                let view = match self.view(route).await {
                    Ok(v) => v,
                    Err(e) => {
                        if let Ok(mut s) = seen.lock() {
                            *s = e.to_string();
                        }
                        return None;
                    }
                };
                if let Ok(mut s) = seen.lock() {
                    *s = view.to_string();
                }
                if want.is_empty() {
                    return (!view.present).then_some(());
                }
                let all_up = up.iter().all(|b| view.status.get(b.url()).is_some_and(|s| s == "UP"));
                if !view.present || &view.servers != want || !all_up {
                    return None;
                }
                for name in routers {
                    let problem = match self.router_status(name).await {
                        Ok(Some(status)) if status != "disabled" => continue,
                        Ok(Some(status)) => format!("router {name}@file is {status} (see Traefik's log)"),
                        Ok(None) => format!("router {name}@file missing"),
                        Err(e) => e.to_string(),
                    };
                    if let Ok(mut s) = seen.lock() {
                        *s = format!("{view}; {problem}");
                    }
                    return None;
                }
                Some(())
            }
        });
        // Bounded from outside too: the whole poll, the API request in flight included.
        let outer = timeout + Duration::from_secs(6);
        let waited = WaitTimeout { what: what.to_string(), waited: outer };
        let result = tokio::time::timeout(outer, poll).await.unwrap_or(Err(waited));
        match result {
            Ok(()) => Ok(start.elapsed()),
            Err(t) => Err(RouteError::NotConfirmed {
                service: route.service.clone(),
                what: what.to_string(),
                expected: want,
                seen: seen.lock().map(|s| s.clone()).unwrap_or_default(),
                waited: t.waited,
                previous: Box::new(PreviousRoute::Untouched),
            }),
        }
    }

    /// Undo: configure `previous` again and wait (bounded) until Traefik shows it; the observer
    /// hears `Restored` only when Traefik confirmed it, else `RestoreFailed`.
    async fn restore(&self, route: &RouteSpec, previous: &[Backend], observer: &dyn Observer) -> PreviousRoute {
        let backends: Vec<String> = previous.iter().map(|b| b.to_string()).collect();
        let result = match self.write_set(route, previous, observer).await {
            Ok(()) => self.confirm(route, previous, &[], "the previous backends restored", self.confirm_timeout).await,
            Err(e) => Err(e),
        };
        let service = route.service.clone();
        match result {
            Ok(_) => {
                emit(observer, RouteEvent::Restored { service, backends });
                PreviousRoute::Restored
            }
            Err(e) => {
                tracing::error!(service = %route.service, error = %e, "previous route not restored");
                emit(observer, RouteEvent::RestoreFailed { service, backends, reason: e.to_string() });
                PreviousRoute::NotRestored(e.to_string())
            }
        }
    }
}

#[async_trait]
impl TrafficRouter for TraefikRouter {
    async fn backends(&self, route: &RouteSpec) -> Result<Vec<Backend>, RouteError> {
        self.read_set(route).await
    }

    async fn add_backend(
        &self,
        route: &RouteSpec,
        backend: &Backend,
        observer: &dyn Observer,
    ) -> Result<(), RouteError> {
        let _guard = self.lock.lock().await;
        let current = self.read_set(route).await?;
        let mut next = current.clone();
        if !next.contains(backend) {
            next.push(backend.clone());
            next.sort();
        }
        self.access.reach(backend, observer).await?;
        emit(observer, RouteEvent::Probing { service: route.service.clone(), backend: backend.to_string() });
        let latency = self.probe_direct(route, backend).await?;
        let written = Instant::now();
        self.write_set(route, &next, observer).await?;
        let live = format!("backend {backend} live");
        if let Err(e) = self.confirm(route, &next, std::slice::from_ref(backend), &live, self.confirm_timeout).await {
            let previous = self.restore(route, &current, observer).await;
            return Err(e.after_restore(previous));
        }
        // Traefik shows a new server UP before its own first check, which it runs one interval
        // after the reload: wait that long plus what the check itself takes (observed: the
        // direct probe's latency, with a margin, at most the check's timeout), and confirm
        // again, so "live" means Traefik's own health check passed too.
        let check = (latency * 4 + Duration::from_millis(150)).min(route.health.timeout);
        tokio::time::sleep(route.health.interval + check).await;
        let stays = format!("backend {backend} UP under Traefik's own health check");
        let recheck = route.health.interval.max(self.poll * 2);
        if let Err(e) = self.confirm(route, &next, std::slice::from_ref(backend), &stays, recheck).await {
            let previous = self.restore(route, &current, observer).await;
            return Err(e.after_restore(previous));
        }
        emit(
            observer,
            RouteEvent::BackendLive {
                service: route.service.clone(),
                backend: backend.to_string(),
                waited_ms: written.elapsed().as_millis() as u64,
            },
        );
        Ok(())
    }

    async fn remove_backend(
        &self,
        route: &RouteSpec,
        backend: &Backend,
        observer: &dyn Observer,
    ) -> Result<(), RouteError> {
        let _guard = self.lock.lock().await;
        let current = self.read_set(route).await?;
        if !current.contains(backend) {
            return Ok(());
        }
        if current.len() == 1 {
            return Err(RouteError::LastBackend { service: route.service.clone(), backend: backend.to_string() });
        }
        let next: Vec<Backend> = current.iter().filter(|b| *b != backend).cloned().collect();
        let written = Instant::now();
        self.write_set(route, &next, observer).await?;
        let what = format!("backend {backend} out of the rotation");
        if let Err(e) = self.confirm(route, &next, &[], &what, self.confirm_timeout).await {
            let previous = self.restore(route, &current, observer).await;
            return Err(e.after_restore(previous));
        }
        emit(
            observer,
            RouteEvent::BackendOut {
                service: route.service.clone(),
                backend: backend.to_string(),
                waited_ms: written.elapsed().as_millis() as u64,
            },
        );
        self.access.release(std::slice::from_ref(backend), observer).await;
        Ok(())
    }

    async fn retire(&self, route: &RouteSpec, observer: &dyn Observer) -> Result<(), RouteError> {
        let _guard = self.lock.lock().await;
        let current = self.read_set(route).await.unwrap_or_default();
        self.write_set(route, &[], observer).await?;
        self.confirm(route, &[], &[], "route removed", self.confirm_timeout).await?;
        self.access.release(&current, observer).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_stack_reads_x_slipway_traefik() {
        let mut stack = StackSpec::default();
        assert!(TraefikRouter::from_stack(&stack).unwrap().is_none());
        stack.slipway = serde_json::json!({"traefik": {"dynamic_dir": "/etc/traefik/dynamic", "api": "http://127.0.0.1:8080", "confirm_timeout": "5s"}});
        let router = TraefikRouter::from_stack(&stack).unwrap().unwrap();
        assert_eq!(router.confirm_timeout, Duration::from_secs(5));
        assert_eq!(
            router.file_path(&RouteSpec::new("s", "w", "Path(`/`)", 80)),
            PathBuf::from("/etc/traefik/dynamic/slipway-s-w.yml")
        );
        stack.slipway = serde_json::json!({"traefik": {"api": "http://127.0.0.1:8080"}});
        let err = TraefikRouter::from_stack(&stack).unwrap_err();
        assert!(err.to_string().contains("dynamic_dir"), "{err}");
    }
}
