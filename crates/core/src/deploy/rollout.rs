//! The per-replica rollout as a small explicit state machine (kamal-proxy style). A replica goes
//!
//! ```text
//! start-first: Pending -> Started -> Healthy -> Routed -> OldOut -> OldRetired
//! stop-first:  Pending -> OldOut -> OldRetired -> Started -> Healthy -> Routed
//! ```
//!
//! (`OldOut`: the old container left the rotation, only for routed services; `OldRetired`: it was
//! stopped and kept). Every transition that changes what serves returns an [`Inverse`] carrying
//! everything needed to undo it (service, container, route, backend), so nothing else keeps undo
//! state: the router holds no memory of what it did. The executor journals the inverses and, on
//! any failure edge, runs them in reverse (`undo.rs`).

use std::time::Duration;

use serde::Serialize;

use crate::route::{Backend, RouteSpec};

/// Where one replica (or the old container it replaces) is in its rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplicaState {
    /// Nothing done yet.
    Pending,
    /// The new container was created and started.
    Started,
    /// The new container passed its health gate (and monitor period).
    Healthy,
    /// The new container is in the rotation, confirmed by the router.
    Routed,
    /// The old container left the rotation, confirmed by the router, and was drained.
    OldOut,
    /// The old container was stopped (and kept for rollback).
    OldRetired,
}

/// The inverse of one transition: what undoes it, with all it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inverse {
    /// Undo `Pending -> Started`: stop the new container (kept for inspection).
    StopNew {
        /// Service.
        service: String,
        /// The new container.
        container: String,
    },
    /// Undo `Healthy -> Routed`: take the new backend out of the rotation (confirmed), drain.
    Unroute {
        /// The route.
        route: RouteSpec,
        /// The new container.
        container: String,
        /// Its backend as it was added.
        backend: Backend,
    },
    /// Undo `-> OldOut`: put the old container back into the rotation, addressed again (a
    /// restarted container may have a new address), confirmed live by the router.
    Reroute {
        /// The route.
        route: RouteSpec,
        /// The old container.
        container: String,
        /// The backend it had when it was taken out.
        backend: Backend,
    },
    /// Undo `-> OldRetired`: start the old container again and confirm it runs (and is healthy
    /// when it has a healthcheck) within `confirm`; when it is not behind the proxy, also that
    /// each port it publishes answers (a routed one is confirmed by its `Reroute`).
    RestartOld {
        /// Service.
        service: String,
        /// The old container.
        container: String,
        /// Bound of the confirmation.
        confirm: Duration,
        /// Not routed: confirm its published ports answer.
        check_ports: bool,
    },
}

impl Inverse {
    /// One line for events and the [`super::UndoReport`].
    pub(crate) fn describe(&self) -> String {
        match self {
            Inverse::StopNew { service, container } => format!("stop new {service} container {container:.12} (kept)"),
            Inverse::Unroute { route, backend, .. } => {
                format!("take new {} backend {backend} out of the rotation", route.service)
            }
            Inverse::Reroute { route, container, .. } => {
                format!("put old {} container {container:.12} back into the rotation", route.service)
            }
            Inverse::RestartOld { service, container, .. } => {
                format!("start old {service} container {container:.12} again")
            }
        }
    }

    /// The command (or action) that finishes this inverse by hand when it failed.
    pub(crate) fn finish(&self) -> String {
        match self {
            Inverse::StopNew { container, .. } => format!("docker stop {container:.12}"),
            Inverse::Unroute { route, backend, .. } => {
                format!("remove {backend} from the servers of route {} (file slipway-{}.yml)", route.key(), route.key())
            }
            Inverse::Reroute { route, container, .. } => format!(
                "docker start {container:.12}, then add its address (port {}) to the servers of route {} (file slipway-{}.yml)",
                route.port,
                route.key(),
                route.key()
            ),
            Inverse::RestartOld { container, .. } => format!("docker start {container:.12}"),
        }
    }
}
