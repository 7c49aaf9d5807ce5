//! The failure edge of a deploy: run the journalled [`Inverse`]s in reverse, confirm each one
//! (the router shows the old backend live; the old container runs and is healthy; the new one is
//! stopped), and say exactly what happened in an [`UndoReport`]. Each inverse is bounded from
//! outside (`tokio::time::timeout` around the whole action, requests included). A failed inverse
//! does not stop the others; it is reported to the observer and named in the report with the
//! command that finishes it.

use std::time::Duration;

use serde::Serialize;

use super::event::DeployEvent;
use super::rollout::Inverse;
use super::seam::Engine;
use crate::events::{Event, Observer};
use crate::route::{RouteError, TrafficRouter};
use crate::wait::wait_until;

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
        let result = match tokio::time::timeout(ACTION_BOUND, run(engine, router, &inverse, observer)).await {
            Ok(r) => r,
            Err(_) => Err(format!("not done within {}s", ACTION_BOUND.as_secs())),
        };
        let action = match result {
            Ok(()) => UndoAction { description, error: None, finish: None },
            Err(reason) => {
                let finish = inverse.finish();
                emit(DeployEvent::UndoFailed {
                    description: description.clone(),
                    reason: reason.clone(),
                    finish: finish.clone(),
                });
                UndoAction { description, error: Some(reason), finish: Some(finish) }
            }
        };
        report.actions.push(action);
    }
    emit(DeployEvent::UndoDone {
        restored: report.restored(),
        left: report.left().iter().map(|a| a.description.clone()).collect(),
    });
    report
}

async fn run(
    engine: &dyn Engine,
    router: Option<&dyn TrafficRouter>,
    inverse: &Inverse,
    observer: &dyn Observer,
) -> Result<(), String> {
    match inverse {
        Inverse::StopNew { container, .. } => {
            engine.stop(container).await.map_err(|e| e.to_string())?;
            match engine.state(container).await {
                Ok(s) if !s.running => Ok(()),
                Ok(_) => Err("still running after the stop".into()),
                Err(e) => Err(e.to_string()),
            }
        }
        Inverse::RestartOld { container, confirm, .. } => {
            engine.start(container).await.map_err(|e| e.to_string())?;
            confirm_running(engine, container, *confirm).await
        }
        Inverse::Reroute { route, container, .. } => {
            let router = router.ok_or("no router to put it back into")?;
            // Addressed again: a restarted container may have a new IP.
            let backend = engine.backend(container, route).await.map_err(|e| e.to_string())?;
            router.add_backend(route, &backend, observer).await.map_err(|e| e.to_string())
        }
        Inverse::Unroute { route, backend, .. } => {
            let router = router.ok_or("no router to take it out of")?;
            match router.remove_backend(route, backend, observer).await {
                Ok(()) => {}
                // Stop-first: the new backend is the only one; the route goes until the old
                // container is put back (the next inverses), as the stop-first rollout accepted.
                Err(RouteError::LastBackend { .. }) => {
                    router.retire(route, observer).await.map_err(|e| e.to_string())?
                }
                Err(e) => return Err(e.to_string()),
            }
            if !route.drain.is_zero() {
                tokio::time::sleep(route.drain).await;
            }
            Ok(())
        }
    }
}

/// The old container runs again (and is healthy when it has a healthcheck), within `bound`.
async fn confirm_running(engine: &dyn Engine, id: &str, bound: Duration) -> Result<(), String> {
    let what = format!("container {id:.12} to run again");
    let poll = wait_until(&what, bound, Duration::from_millis(100), || async {
        match engine.state(id).await {
            Err(e) => Some(Err(e.to_string())),
            Ok(s) if !s.running && s.exit_code.is_some() => {
                Some(Err(format!("it exited again (code {})", s.exit_code.unwrap_or(-1))))
            }
            Ok(s) if s.running && s.health.as_deref().is_none_or(|h| h == "healthy") => Some(Ok(())),
            Ok(s) if s.health.as_deref() == Some("unhealthy") => Some(Err("its healthcheck reports unhealthy".into())),
            Ok(_) => None,
        }
    });
    match tokio::time::timeout(bound + Duration::from_secs(5), poll).await {
        Ok(Ok(r)) => r,
        Ok(Err(t)) => Err(t.to_string()),
        Err(_) => Err(format!("{what}: no answer within {}s", bound.as_secs())),
    }
}
