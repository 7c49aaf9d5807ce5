//! `RouteSwitch`: the deployer's [`TrafficSwitch`] hook backed by a [`TrafficRouter`]. The deploy
//! executor works with container ids; this adapter turns them into backends (the container's
//! address on the route's network) and drives the router: `switch_to` = add and confirm live,
//! `drain` = remove, confirm out, wait the drain period, `undo` = put the drained old containers
//! back (re-addressed: a restarted container may have a new IP) and take the new one out.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bollard::Docker;

use super::{backend_for_container, emit, Backend, RouteError, RouteEvent, RouteSpec, TrafficRouter};
use crate::deploy::{DeployError, TrafficSwitch};
use crate::events::{NoopObserver, Observer};
use crate::stack::StackSpec;

/// The deployer's traffic hook for routed services.
pub struct RouteSwitch {
    docker: Docker,
    stack: StackSpec,
    previous: Option<StackSpec>,
    router: Arc<dyn TrafficRouter>,
    observer: Arc<dyn Observer>,
    added: Mutex<BTreeMap<String, Backend>>,
    drained: Mutex<BTreeMap<String, Vec<String>>>,
}

impl RouteSwitch {
    /// A hook for the services of `stack` (routes derived with [`RouteSpec::from_service`]).
    pub fn new(docker: Docker, stack: &StackSpec, router: Arc<dyn TrafficRouter>) -> Self {
        RouteSwitch {
            docker,
            stack: stack.clone(),
            previous: None,
            router,
            observer: Arc::new(NoopObserver),
            added: Mutex::new(BTreeMap::new()),
            drained: Mutex::new(BTreeMap::new()),
        }
    }

    /// The hook for a stack with top-level `x-slipway.traefik` settings (see
    /// [`super::traefik::TraefikRouter::from_stack`]), `None` without them.
    pub fn for_stack(docker: &Docker, stack: &StackSpec) -> Result<Option<Self>, RouteError> {
        Ok(super::traefik::TraefikRouter::from_stack(stack)?
            .map(|router| RouteSwitch::new(docker.clone(), stack, Arc::new(router))))
    }

    /// The stack of the release being replaced: a service it routed that the new stack drops is
    /// drained and its route retired when its container stops.
    pub fn previous(mut self, stack: Option<&StackSpec>) -> Self {
        self.previous = stack.cloned();
        self
    }

    /// Send the router's events to `observer`.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    fn route(&self, service: &str) -> Result<Option<RouteSpec>, RouteError> {
        let previous = self.previous.as_ref().and_then(|p| p.services.get(service).map(|svc| (p, svc)));
        match self.stack.services.get(service).map(|svc| (&self.stack, svc)).or(previous) {
            Some((stack, svc)) => RouteSpec::from_service(&stack.name, svc),
            None => Ok(None),
        }
    }

    /// Take `backend` out; the last backend of a stop-first rollout retires the route instead.
    async fn take_out(&self, route: &RouteSpec, backend: &Backend) -> Result<(), RouteError> {
        match self.router.remove_backend(route, backend, &*self.observer).await {
            Err(RouteError::LastBackend { .. }) => self.router.retire(route, &*self.observer).await,
            other => other,
        }
    }
}

#[async_trait]
impl TrafficSwitch for RouteSwitch {
    async fn switch_to(&self, service: &str, new_container: &str) -> Result<(), DeployError> {
        let Some(route) = self.route(service)? else { return Ok(()) };
        let backend = backend_for_container(&self.docker, new_container, &route).await?;
        self.router.add_backend(&route, &backend, &*self.observer).await?;
        if let Ok(mut added) = self.added.lock() {
            added.insert(new_container.to_string(), backend);
        }
        Ok(())
    }

    async fn drain(&self, service: &str, old_container: &str) -> Result<(), DeployError> {
        let Some(route) = self.route(service)? else { return Ok(()) };
        let backend = match backend_for_container(&self.docker, old_container, &route).await {
            Ok(b) => b,
            Err(e) => {
                // An old container that already died has no address and receives no traffic:
                // nothing to drain (Traefik's own health check marks its entry DOWN).
                tracing::warn!(service, container = %old_container, error = %e, "old container has no address; not drained");
                return Ok(());
            }
        };
        self.take_out(&route, &backend).await?;
        if let Ok(mut drained) = self.drained.lock() {
            drained.entry(service.to_string()).or_default().push(old_container.to_string());
        }
        if !route.drain.is_zero() {
            emit(
                &*self.observer,
                RouteEvent::Draining { service: service.to_string(), drain_ms: route.drain.as_millis() as u64 },
            );
            tokio::time::sleep(route.drain).await;
        }
        Ok(())
    }

    async fn undo(&self, service: &str, new_container: &str) -> Result<(), DeployError> {
        let Some(route) = self.route(service)? else { return Ok(()) };
        let olds = self.drained.lock().map(|mut d| d.remove(service).unwrap_or_default()).unwrap_or_default();
        for old in olds {
            match backend_for_container(&self.docker, &old, &route).await {
                Ok(b) => {
                    if let Err(e) = self.router.add_backend(&route, &b, &*self.observer).await {
                        tracing::warn!(service, container = %old, error = %e, "could not route back to the old container");
                    }
                }
                Err(e) => tracing::warn!(service, container = %old, error = %e, "old container has no address"),
            }
        }
        let known = self.added.lock().ok().and_then(|mut a| a.remove(new_container));
        let backend = match known {
            Some(b) => b,
            None => backend_for_container(&self.docker, new_container, &route).await?,
        };
        self.take_out(&route, &backend).await?;
        Ok(())
    }
}
