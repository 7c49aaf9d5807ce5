//! Deploy room in Python: `Stack.plan()`, `Stack.deploy(...)` (methods of the compose room's
//! `Stack`, delegating here), `slipway.history(project)`, `slipway.rollback(project, to=None)`,
//! `slipway.status(project)`. Results are plain dicts and lists (the core's JSON shapes).

use std::time::Duration;

use pyo3::prelude::*;
use slipway::deploy::{DeployOptions, Deployer, DockerHost, ReleaseId};

use crate::convert::to_py_object;
use crate::errors::to_py;
use crate::runtime::block_on_interruptible;

/// The engine `host=` / `context=` name (as `-H` / `--context`; default: the environment).
async fn host(h: Option<String>, context: Option<String>) -> Result<DockerHost, slipway::Error> {
    let options = slipway::engine::ConnectOptions::host(h.as_deref()).context(context.as_deref());
    let connection = slipway::engine::Connection::resolve(&options).map_err(slipway::deploy::DeployError::from)?;
    Ok(DockerHost::connect(&connection).await?)
}

fn options(env: &str, tag: Option<String>, lock_wait: Option<f64>, retain: usize) -> DeployOptions {
    DeployOptions::default()
        .env(env)
        .version(tag)
        .lock_wait(Duration::from_secs_f64(lock_wait.unwrap_or(0.0).max(0.0)))
        .retain(retain)
}

/// The plan of `stack` against the host, as a list of step dicts.
pub fn plan(
    py: Python<'_>,
    stack: &slipway::stack::StackSpec,
    env: &str,
    host_addr: Option<String>,
    context: Option<String>,
) -> PyResult<Py<PyAny>> {
    let stack = stack.clone();
    let opts = options(env, None, None, 5);
    let plan = block_on_interruptible(py, async move { host(host_addr, context).await?.plan(&stack, &opts).await })?
        .map_err(to_py)?;
    to_py_object(py, &plan.steps)
}

/// The keyword arguments of `Stack.deploy`.
pub struct DeployArgs {
    /// Environment for the policy.
    pub env: String,
    /// Image tag (the release's version).
    pub tag: Option<String>,
    /// Plan only.
    pub dry_run: bool,
    /// Seconds to wait for another deploy's lock.
    pub lock_wait: Option<f64>,
    /// Releases kept.
    pub retain: usize,
    /// Docker engine.
    pub host: Option<String>,
    /// Docker context (instead of `host`).
    pub context: Option<String>,
    /// Pull policy over every service.
    pub pull: Option<String>,
}

/// Deploy `stack`; returns `{"release": {...} | None, "steps": [...], "events": [...]}` (the
/// progress events: pins and where they came from, steps, hook output).
pub fn deploy(py: Python<'_>, stack: &slipway::stack::StackSpec, args: DeployArgs) -> PyResult<Py<PyAny>> {
    let stack = stack.clone();
    let pull = match args.pull.as_deref().map(slipway::stack::PullPolicy::parse).transpose() {
        Ok(p) => p,
        Err(reason) => {
            let e = slipway::Error::from(slipway::deploy::DeployError::Invalid(format!("pull: {reason}")));
            return Err(to_py(e));
        }
    };
    let opts = options(&args.env, args.tag, args.lock_wait, args.retain).pull(pull);
    let (dry_run, host_addr, context) = (args.dry_run, args.host, args.context);
    let out = block_on_interruptible(py, async move {
        let h = host(host_addr, context).await?;
        if dry_run {
            let plan = h.plan(&stack, &opts).await?;
            return Ok(serde_json::json!({ "release": null, "steps": plan.steps, "events": [] }));
        }
        let events = slipway::RecordingObserver::new();
        let out = h.apply(&stack, &opts, &events).await?;
        Ok::<_, slipway::Error>(
            serde_json::json!({ "release": out.release, "steps": out.plan.steps, "events": events.events() }),
        )
    })?
    .map_err(to_py)?;
    to_py_object(py, &out)
}

/// Release records of `project`, oldest first.
#[pyfunction]
#[pyo3(signature = (project, host=None, context=None))]
fn history(py: Python<'_>, project: String, host: Option<String>, context: Option<String>) -> PyResult<Py<PyAny>> {
    let list = block_on_interruptible(py, async move { self::host(host, context).await?.history(&project).await })?
        .map_err(to_py)?;
    to_py_object(py, &list)
}

/// What runs for `project`: `{"project", "current", "containers"}`.
#[pyfunction]
#[pyo3(signature = (project, host=None, context=None))]
fn status(py: Python<'_>, project: String, host: Option<String>, context: Option<String>) -> PyResult<Py<PyAny>> {
    let st = block_on_interruptible(py, async move { self::host(host, context).await?.status(&project).await })?
        .map_err(to_py)?;
    to_py_object(py, &st)
}

/// Deploy a recorded release again (`to=None`: the successful release before the current one).
#[pyfunction]
#[pyo3(signature = (project, to=None, host=None, lock_wait=None, context=None))]
fn rollback(
    py: Python<'_>,
    project: String,
    to: Option<u64>,
    host: Option<String>,
    lock_wait: Option<f64>,
    context: Option<String>,
) -> PyResult<Py<PyAny>> {
    let opts = options("default", None, lock_wait, 5);
    let events = slipway::RecordingObserver::new();
    let recorder = events.clone();
    let out = block_on_interruptible(py, async move {
        self::host(host, context).await?.rollback(&project, to.map(ReleaseId), &opts, &recorder).await
    })?
    .map_err(to_py)?;
    let result = serde_json::json!({ "release": out.release, "steps": out.plan.steps, "events": events.events() });
    to_py_object(py, &result)
}

/// Add the deploy functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(history, m)?)?;
    m.add_function(wrap_pyfunction!(status, m)?)?;
    m.add_function(wrap_pyfunction!(rollback, m)?)?;
    Ok(())
}
