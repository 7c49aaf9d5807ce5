//! The one tokio runtime of the Python module, created lazily on first use, and `block_on`
//! helpers that release the GIL while Rust waits (so other Python threads keep running).
//!
//! Rooms exposing async core operations call `runtime::block_on(py, future)`; long operations
//! (deploys, pushes) that a user may want to stop with Ctrl-C use `block_on_interruptible`.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::SlipwayError;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// How often `block_on_interruptible` lets Python handle pending signals.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The shared multi-thread runtime, created on first use.
pub fn runtime() -> PyResult<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("slipway-runtime")
        .build()
        .map_err(|e| SlipwayError::new_err(format!("cannot start slipway's async runtime: {e}")))?;
    // If another thread won the race, its runtime is kept and this one is dropped (nothing runs on it).
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Run `fut` to completion on the shared runtime with the GIL released.
pub fn block_on<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    Ok(py.detach(|| rt.block_on(fut)))
}

/// Drive `fut` until it completes (`Ok`) or a Python signal handler raises (`Err`, `fut` left
/// where it was), letting Python run its handlers every [`SIGNAL_CHECK_INTERVAL`].
async fn until_signal<F: Future>(fut: &mut std::pin::Pin<&mut F>) -> Result<F::Output, PyErr> {
    let mut tick = tokio::time::interval(SIGNAL_CHECK_INTERVAL);
    loop {
        tokio::select! {
            out = fut.as_mut() => return Ok(out),
            _ = tick.tick() => Python::attach(|py| py.check_signals())?,
        }
    }
}

/// Like [`block_on`], but every 100 ms lets Python run its signal handlers; if one raises
/// (Ctrl-C raises `KeyboardInterrupt`), `fut` is dropped — cancelled at its current await point —
/// and that exception is returned.
pub fn block_on_interruptible<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    py.detach(|| {
        rt.block_on(async {
            let mut fut = std::pin::pin!(fut);
            until_signal(&mut fut).await
        })
    })
}

/// How long a cancelled deploy may take to undo itself after a KeyboardInterrupt before the
/// call gives up waiting (the deploy's own waits are bounded too; this bounds the sum).
const UNDO_BOUND: Duration = Duration::from_secs(300);

/// Like [`block_on_interruptible`], for operations that undo themselves when `token` is
/// cancelled (deploy, rollback): a KeyboardInterrupt (or another signal handler's exception)
/// cancels `token` and keeps waiting, bounded by [`UNDO_BOUND`], for `fut` to undo and release
/// its lock; then the exception is raised. A second KeyboardInterrupt stops waiting at once
/// (`fut` is dropped: what it had not undone is left, and its lock's lease expires by itself).
pub fn block_on_cancellable<F>(py: Python<'_>, token: slipway::deploy::CancellationToken, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = runtime()?;
    py.detach(|| {
        rt.block_on(async {
            let mut fut = std::pin::pin!(fut);
            let interrupt = match until_signal(&mut fut).await {
                Ok(out) => return Ok(out),
                Err(e) => e,
            };
            token.cancel();
            // The undo runs to its end, unless it outlasts the bound or a second signal comes.
            let _ = tokio::time::timeout(UNDO_BOUND, until_signal(&mut fut)).await;
            Err(interrupt)
        })
    })
}

/// `slipway._native._sleep_released(seconds, interruptible=False)`: sleep in Rust on the shared
/// runtime with the GIL released. A diagnostic that lets the test suite prove the helpers above
/// release the GIL and honour signals; returns the seconds slept.
#[pyfunction]
#[pyo3(signature = (seconds, interruptible = false))]
fn _sleep_released(py: Python<'_>, seconds: f64, interruptible: bool) -> PyResult<f64> {
    let duration = Duration::try_from_secs_f64(seconds)
        .map_err(|e| crate::errors::InvalidInput::new_err(format!("invalid duration {seconds}: {e}")))?;
    let sleep = async move {
        tokio::time::sleep(duration).await;
        duration.as_secs_f64()
    };
    if interruptible {
        block_on_interruptible(py, sleep)
    } else {
        block_on(py, sleep)
    }
}

/// Add the runtime diagnostics to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_sleep_released, m)?)
}
