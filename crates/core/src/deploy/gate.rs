//! The waits of a rollout, each bounded from outside (`tokio::time::timeout` around the whole
//! poll, engine requests included): a new container's health gate, its monitor period, a one-off
//! task's exit.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::failure::GateFailure;
use super::rules::HealthGate;
use super::seam::Engine;
use crate::wait::wait_until;

/// How often container state is polled.
const POLL: Duration = Duration::from_millis(100);
/// Slack of the outer bound over the poll's own deadline (one request in flight).
const SLACK: Duration = Duration::from_secs(5);

/// `fut` within `bound + SLACK`, else `Err` naming `what`.
async fn bounded<T>(
    what: &str,
    bound: Duration,
    fut: impl Future<Output = Result<T, GateFailure>>,
) -> Result<T, GateFailure> {
    match tokio::time::timeout(bound + SLACK, fut).await {
        Ok(r) => r,
        Err(_) => Err(GateFailure::NoAnswer { what: what.to_string(), bound: bound + SLACK }),
    }
}

/// The bound of a gate.
pub(crate) fn gate_bound(gate: &HealthGate) -> Duration {
    match gate {
        HealthGate::Healthcheck { timeout_ms } | HealthGate::Probes { timeout_ms, .. } => {
            Duration::from_millis(*timeout_ms)
        }
        HealthGate::StillRunning { after_ms } => Duration::from_millis(*after_ms) + SLACK,
    }
}

/// Wait until a new container passes its gate; `Err` says why it did not.
pub(crate) async fn wait_healthy(engine: &dyn Engine, id: &str, gate: &HealthGate) -> Result<(), GateFailure> {
    let start = Instant::now();
    let bound = gate_bound(gate);
    let what = format!("container {id:.12} to become healthy");
    let need = match gate {
        HealthGate::StillRunning { after_ms } => Some(Duration::from_millis(*after_ms)),
        _ => None,
    };
    let probes = match gate {
        HealthGate::Probes { targets, .. } => targets.clone(),
        _ => Vec::new(),
    };
    let last = std::sync::Mutex::new(String::new());
    let poll = wait_until(&what, bound, POLL, || async {
        let s = match engine.state(id).await {
            Err(e) => return Some(Err(GateFailure::from(e))),
            Ok(s) => s,
        };
        if !s.running {
            return Some(Err(GateFailure::Exited { code: s.exit_code }));
        }
        if !probes.is_empty() {
            return match engine.probe_round(id, &probes).await {
                Err(e) => Some(Err(e)),
                Ok(None) => Some(Ok(())),
                Ok(Some(why)) => {
                    if let Ok(mut l) = last.lock() {
                        *l = why;
                    }
                    None
                }
            };
        }
        match (need, s.health.as_deref()) {
            (None, Some("healthy")) => Some(Ok(())),
            (None, Some("unhealthy")) => Some(Err(GateFailure::Unhealthy)),
            (Some(n), _) if start.elapsed() >= n => Some(Ok(())),
            _ => None,
        }
    });
    bounded(&what, bound, async {
        match poll.await {
            Ok(r) => r,
            Err(waited) => {
                let last = last.lock().map(|l| l.clone()).unwrap_or_default();
                Err(GateFailure::NotHealthy { waited, last: (!last.is_empty()).then_some(last) })
            }
        }
    })
    .await
}

/// Watch a container that passed its gate for `period`: it must keep running and must not turn
/// unhealthy. (The wait running out with nothing wrong is the good outcome here.)
pub(crate) async fn monitor(engine: &dyn Engine, id: &str, period: Duration) -> Result<(), GateFailure> {
    let start = Instant::now();
    let what = format!("container {id:.12} through its monitor period");
    let poll = wait_until(&what, period, POLL, || async {
        match engine.state(id).await {
            Err(e) => Some(GateFailure::from(e)),
            Ok(s) if !s.running => {
                Some(GateFailure::ExitedInMonitor { code: s.exit_code, after: start.elapsed(), period })
            }
            Ok(s) if s.health.as_deref() == Some("unhealthy") => Some(GateFailure::UnhealthyInMonitor { period }),
            Ok(_) => None,
        }
    });
    bounded(&what, period, async {
        match poll.await {
            Ok(reason) => Err(reason),
            Err(_period_over) => Ok(()),
        }
    })
    .await
}

/// Wait until a container has exited; its exit code.
pub(crate) async fn wait_exit(engine: &dyn Engine, id: &str, what: &str, limit: Duration) -> Result<i64, GateFailure> {
    let poll = wait_until(what, limit, POLL, || async {
        match engine.state(id).await {
            Ok(s) if !s.running => s.exit_code.map(Ok),
            Ok(_) => None,
            Err(e) => Some(Err(GateFailure::from(e))),
        }
    });
    bounded(what, limit, async { poll.await.map_err(GateFailure::NotExited)? }).await
}
