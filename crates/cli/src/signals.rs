//! Ctrl-C and SIGTERM for long commands (deploy, rollback): the first signal cancels the core's
//! `CancellationToken` (the deploy stops its current step within its bound, undoes what it did,
//! records the release as cancelled and releases the lock, then the command exits non-zero); a
//! second signal aborts that undo at once, with a warning naming what may be left.

use std::sync::{Arc, Mutex};

use slipway::deploy::CancellationToken;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Exit code after a second signal aborted the undo (128 + SIGINT, as shells report it).
pub const ABORTED: i32 = 130;

/// What a deploy has done so far and not undone: step descriptions, shared between the progress
/// observer and the signal handler.
#[derive(Clone, Default)]
pub struct Trail(Arc<Mutex<Vec<String>>>);

impl Trail {
    /// A step finished.
    pub fn done(&self, step: &str) {
        if let Ok(mut t) = self.0.lock() {
            t.push(step.to_string());
        }
    }
    /// An undo ran (the newest done step is no longer left).
    pub fn undone(&self) {
        if let Ok(mut t) = self.0.lock() {
            t.pop();
        }
    }
    fn left(&self) -> Vec<String> {
        self.0.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// Cancel `token` on the first SIGINT or SIGTERM; on the second, print what may be left of
/// `project`'s deploy and exit with [`ABORTED`].
pub fn cancel_on_signals(token: CancellationToken, project: String, trail: Trail) {
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        eprintln!("slipway: warning: cannot install the signal handlers; Ctrl-C stops at once");
        return;
    };
    tokio::spawn(async move {
        next(&mut int, &mut term).await;
        eprintln!("slipway: interrupted: stopping the current step and undoing the deploy (interrupt again to abort the undo)");
        token.cancel();
        next(&mut int, &mut term).await;
        let left = trail.left();
        eprintln!("slipway: warning: undo aborted; {project} may be half-deployed.");
        if left.is_empty() {
            eprintln!("slipway: no step had finished yet.");
        } else {
            eprintln!("slipway: steps done and not undone:");
            for step in &left {
                eprintln!("  - {step}");
            }
        }
        eprintln!(
            "slipway: the next deploy takes the lock over (at once on this machine, else once its lease expires); check with `slipway status -p {project}`, then \
             `slipway rollback -p {project}` or deploy again"
        );
        std::process::exit(ABORTED);
    });
}

async fn next(int: &mut Signal, term: &mut Signal) {
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
