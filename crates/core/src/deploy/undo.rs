//! The failure edge of a deploy: run the journalled [`Inverse`]s in reverse, confirm each one
//! (the router shows the old backend live; the old container runs and is healthy, and when it is
//! not routed each port it publishes answers; the new one is stopped; see `confirm.rs`), and say exactly what happened in an [`UndoReport`]. Each inverse is bounded from
//! outside (`tokio::time::timeout` around the whole action, requests included). A failed inverse
//! does not stop the others; it is reported to the observer and named in the report with the
//! command that finishes it.

use std::time::Duration;

use serde::Serialize;

use super::confirm::{confirm_ports, confirm_running, Confirmation, SilentPort};
use super::error::DeployError;
use super::event::DeployEvent;
use super::rollout::Inverse;
use super::seam::Engine;
use crate::events::{Event, Observer};
use crate::route::{RouteError, TrafficRouter};
use crate::wait::WaitTimeout;

/// The outer bound of one undo action (an add through Traefik probes the backend and waits one
/// health-check round inside it; the router's own bounds are shorter).
const ACTION_BOUND: Duration = Duration::from_secs(120);

/// One undo action and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UndoAction {
    /// What was undone.
    pub description: String,
    /// `None` when it succeeded and was confirmed; else why not.
    pub error: Option<String>,
    /// When it failed: the command or action that finishes it by hand.
    pub finish: Option<String>,
    /// What confirmed it, and how (engine state, a published port answered, the proxy).
    pub confirmed: Vec<Confirmation>,
    /// Published ports of a restored old container that did not answer: not restored.
    pub silent_ports: Vec<SilentPort>,
}

/// What the undo of a failed (or cancelled) deploy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UndoReport {
    /// The actions, in the order they ran (the reverse of the deploy's transitions).
    pub actions: Vec<UndoAction>,
}

impl UndoReport {
    /// True when every inverse succeeded and was confirmed: the previous release serves again.
    pub fn restored(&self) -> bool {
        self.actions.iter().all(|a| a.error.is_none())
    }

    /// The actions that failed.
    pub fn left(&self) -> Vec<&UndoAction> {
        self.actions.iter().filter(|a| a.error.is_some()).collect()
    }

    /// For error messages: "the previous release was restored" only when it was.
    pub fn summary(&self) -> String {
        if self.restored() {
            return "the previous release was restored (every undo step confirmed)".into();
        }
        let left: Vec<String> = self
            .left()
            .iter()
            .map(|a| {
                format!(
                    "{} ({}; finish with: {})",
                    a.description,
                    a.error.as_deref().unwrap_or_default(),
                    a.finish.as_deref().unwrap_or_default()
                )
            })
            .collect();
        format!("the undo is INCOMPLETE, left: {}", left.join("; "))
    }
}

/// Run `journal` backwards and report.
pub(crate) async fn undo(
    engine: &dyn Engine,
    router: Option<&dyn TrafficRouter>,
    journal: Vec<Inverse>,
    observer: &dyn Observer,
) -> UndoReport {
    let emit = |e: DeployEvent| observer.event(&Event::Deploy(e));
    let mut report = UndoReport::default();
    for inverse in journal.into_iter().rev() {
        let description = inverse.describe();
        emit(DeployEvent::Undo { description: description.clone() });
        let outcome = match tokio::time::timeout(ACTION_BOUND, run(engine, router, &inverse, observer)).await {
            Ok(o) => o,
            Err(_) => ActionOutcome::from(UndoFailure::NotDone { bound: ACTION_BOUND }),
        };
        let ActionOutcome { confirmed, silent_ports, error } = outcome;
        // The report (and the observer's event) is the user-facing data: the typed cause's text.
        let error = error.map(|e| e.to_string());
        let finish = error.as_ref().map(|reason| {
            let finish = inverse.finish();
            emit(DeployEvent::UndoFailed {
                description: description.clone(),
                reason: reason.clone(),
                finish: finish.clone(),
            });
            finish
        });
        let action = UndoAction { description, error, finish, confirmed, silent_ports };
        report.actions.push(action);
    }
    emit(DeployEvent::UndoDone {
        restored: report.restored(),
        left: report.left().iter().map(|a| a.description.clone()).collect(),
    });
    report
}

/// Why one undo action is not done (or not confirmed): its text is [`UndoAction::error`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum UndoFailure {
    /// An engine call failed.
    #[error("{0}")]
    Engine(#[source] Box<DeployError>),
    /// The router failed to put a backend back or take it out.
    #[error("{0}")]
    Route(#[source] RouteError),
    /// The new container still runs after it was stopped.
    #[error("still running after the stop")]
    StillRunning,
    /// The restarted old container exited again.
    #[error("it exited again (code {})", .code.unwrap_or(-1))]
    ExitedAgain {
        /// Its exit code, when the engine gave one.
        code: Option<i64>,
    },
    /// The restarted old container's healthcheck reports unhealthy.
    #[error("its healthcheck reports unhealthy")]
    Unhealthy,
    /// The restarted old container was not running (and healthy) within its bound.
    #[error("{0}")]
    NotRunning(#[source] WaitTimeout),
    /// The wait for the old container (requests included) gave no answer within its outer bound.
    #[error("{what}: no answer within {}s", .bound.as_secs())]
    NoAnswer {
        /// What was waited for.
        what: String,
        /// The bound.
        bound: Duration,
    },
    /// Published ports of the restored old container do not answer.
    #[error("published port {} not answering", .0.iter().map(|p| format!("{} ({})", p.port, p.reason)).collect::<Vec<_>>().join(", "))]
    PortsSilent(Vec<SilentPort>),
    /// The ports the old container publishes could not be listed.
    #[error("its published ports cannot be listed: {0}")]
    PortsUnlisted(#[source] Box<DeployError>),
    /// A routed inverse without a router.
    #[error("no router to {0}")]
    NoRouter(&'static str),
    /// The action did not finish within its outer bound.
    #[error("not done within {}s", .bound.as_secs())]
    NotDone {
        /// The bound.
        bound: Duration,
    },
}

impl From<DeployError> for UndoFailure {
    fn from(e: DeployError) -> Self {
        UndoFailure::Engine(Box::new(e))
    }
}

impl From<RouteError> for UndoFailure {
    fn from(e: RouteError) -> Self {
        UndoFailure::Route(e)
    }
}

/// What one inverse confirmed, or why it is not done.
#[derive(Debug, Default)]
struct ActionOutcome {
    confirmed: Vec<Confirmation>,
    silent_ports: Vec<SilentPort>,
    error: Option<UndoFailure>,
}

impl From<UndoFailure> for ActionOutcome {
    fn from(e: UndoFailure) -> Self {
        ActionOutcome { error: Some(e), ..Default::default() }
    }
}

impl<E: Into<UndoFailure>> From<Result<Confirmation, E>> for ActionOutcome {
    fn from(r: Result<Confirmation, E>) -> Self {
        match r {
            Ok(c) => ActionOutcome { confirmed: vec![c], ..Default::default() },
            Err(e) => ActionOutcome::from(e.into()),
        }
    }
}

/// An action that failed with `e`.
fn failed(e: impl Into<UndoFailure>) -> ActionOutcome {
    ActionOutcome::from(e.into())
}

async fn run(
    engine: &dyn Engine,
    router: Option<&dyn TrafficRouter>,
    inverse: &Inverse,
    observer: &dyn Observer,
) -> ActionOutcome {
    match inverse {
        Inverse::StopNew { container, .. } => {
            if let Err(e) = engine.stop(container).await {
                return failed(e);
            }
            match engine.state(container).await {
                Ok(s) if !s.running => Ok(Confirmation::EngineStopped),
                Ok(_) => Err(UndoFailure::StillRunning),
                Err(e) => Err(e.into()),
            }
            .into()
        }
        Inverse::RestartOld { service, container, confirm, check_ports } => {
            if let Err(e) = engine.start(container).await {
                return failed(e);
            }
            let mut outcome = ActionOutcome::from(confirm_running(engine, container, *confirm).await);
            if outcome.error.is_none() && *check_ports {
                match confirm_ports(engine, service, container, *confirm).await {
                    Ok((answered, silent)) => {
                        outcome.confirmed.extend(answered);
                        if !silent.is_empty() {
                            outcome.error = Some(UndoFailure::PortsSilent(silent.clone()));
                        }
                        outcome.silent_ports = silent;
                    }
                    Err(e) => outcome.error = Some(UndoFailure::PortsUnlisted(Box::new(e))),
                }
            }
            outcome
        }
        Inverse::Reroute { route, container, .. } => {
            let Some(router) = router else { return failed(UndoFailure::NoRouter("put it back into")) };
            // Addressed again: a restarted container may have a new IP.
            let backend = match engine.backend(container, route).await {
                Ok(b) => b,
                Err(e) => return failed(e),
            };
            let added = router.add_backend(route, &backend, observer).await;
            added.map(|()| Confirmation::Proxy { route: route.key(), backend: backend.to_string() }).into()
        }
        Inverse::Unroute { route, backend, .. } => {
            let Some(router) = router else { return failed(UndoFailure::NoRouter("take it out of")) };
            match router.remove_backend(route, backend, observer).await {
                Ok(()) => {}
                // Stop-first: the new backend is the only one; the route goes until the old
                // container is put back (the next inverses), as the stop-first rollout accepted.
                Err(RouteError::LastBackend { .. }) => {
                    if let Err(e) = router.retire(route, observer).await {
                        return failed(e);
                    }
                }
                Err(e) => return failed(e),
            }
            if !route.drain.is_zero() {
                tokio::time::sleep(route.drain).await;
            }
            Ok::<_, UndoFailure>(Confirmation::Proxy { route: route.key(), backend: backend.to_string() }).into()
        }
    }
}
