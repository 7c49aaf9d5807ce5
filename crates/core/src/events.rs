//! Progress events: the core never prints; it sends `Event`s to an `Observer` that the caller
//! passes in (the CLI renders them as progress lines, Python as callbacks or logs).

use std::sync::{Arc, Mutex};

use crate::{backup, build, deploy, health, proxy, registry, route};

/// Something that happened during an operation. Each room defines its own event type.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "room", content = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// Registry transfers.
    Registry(registry::RegistryEvent),
    /// Build steps and output.
    Build(build::BuildEvent),
    /// Probe attempts and outcomes.
    Health(health::HealthEvent),
    /// Deploy steps.
    Deploy(deploy::DeployEvent),
    /// Traffic switches.
    Route(route::RouteEvent),
    /// Backups.
    Backup(backup::BackupEvent),
    /// The managed proxy.
    Proxy(proxy::ProxyEvent),
}

/// Receives events. Implementations must be cheap and must not block.
pub trait Observer: Send + Sync {
    /// Called for each event, in order, from whichever task produced it.
    fn event(&self, event: &Event);
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl Observer for NoopObserver {
    fn event(&self, _event: &Event) {}
}

/// An observer that keeps every event in memory (for tests and for Python's result objects).
#[derive(Debug, Default, Clone)]
pub struct RecordingObserver {
    events: Arc<Mutex<Vec<Event>>>,
}

impl RecordingObserver {
    /// A new, empty recorder.
    pub fn new() -> Self {
        Self::default()
    }
    /// A copy of the events seen so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Observer for RecordingObserver {
    fn event(&self, event: &Event) {
        if let Ok(mut e) = self.events.lock() {
            e.push(event.clone());
        }
    }
}

impl<F: Fn(&Event) + Send + Sync> Observer for F {
    fn event(&self, event: &Event) {
        self(event)
    }
}
