//! Deploy room in Python: `Stack.plan()`, `Stack.deploy(...)` (methods of the compose room's
//! `Stack`, delegating here), `slipway.history(project)`, `slipway.rollback(project, to=None,
//! ...)`, `slipway.status(project)`. Keyword arguments fill the core's `DeployRequest`, the same
//! request the CLI's flags fill, so `tag=`, `env=`, `backup=` mean what `--tag`, `--env`,
//! `--no-backup`/`--backup` mean. Results are plain dicts and lists (the core's JSON shapes).

use std::path::PathBuf;
use std::time::Duration;

use pyo3::prelude::*;
use slipway::deploy::{BackupChoice, CancellationToken, DeployRequest, ReleaseId};

use crate::convert::to_py_object;
use crate::errors::to_py;
use crate::runtime::{block_on_cancellable, block_on_interruptible};
use crate::target::{SshPersist, Where};

fn invalid(msg: String) -> PyErr {
    to_py(slipway::Error::from(slipway::deploy::DeployError::Invalid(msg)))
}

/// The request keyword arguments shared by `Stack.deploy`, `Stack.plan` and `slipway.rollback`.
pub struct RequestArgs {
    /// Environment for the policy (pins, backup).
    pub env: String,
    /// Image tag: `IMAGE_TAG` for interpolation and the release's version.
    pub tag: Option<String>,
    /// Seconds to wait for another deploy's lock.
    pub lock_wait: Option<f64>,
    /// Seconds of the deploy lock's lease (default 60).
    pub lease: Option<f64>,
    /// Releases kept.
    pub retain: usize,
    /// `None`: as the policy says; `False`: skip; `True`: always.
    pub backup: Option<bool>,
    /// Where pre-deploy backups go.
    pub backup_dir: Option<PathBuf>,
    /// Extra environment policies.
    pub policy_file: Option<PathBuf>,
    /// Pull policy over every service.
    pub pull: Option<String>,
}

impl RequestArgs {
    /// The core's request.
    pub fn request(&self) -> PyResult<DeployRequest> {
        let mut req = DeployRequest::default();
        req.env = self.env.clone();
        req.tag = self.tag.clone();
        let wait = self.lock_wait.unwrap_or(0.0);
        req.lock_wait =
            Duration::try_from_secs_f64(wait.max(0.0)).map_err(|e| invalid(format!("lock_wait={wait}: {e}")))?;
        if let Some(lease) = self.lease {
            req.lease =
                Duration::try_from_secs_f64(lease.max(1.0)).map_err(|e| invalid(format!("lease={lease}: {e}")))?;
        }
        req.retain = self.retain;
        req.backup = match self.backup {
            None => BackupChoice::AsPolicy,
            Some(false) => BackupChoice::Skip,
            Some(true) => BackupChoice::Always,
        };
        req.backup_dir = self.backup_dir.clone();
        req.policy_file = self.policy_file.clone();
        req.pull = match self.pull.as_deref().map(slipway::stack::PullPolicy::parse).transpose() {
            Ok(p) => p,
            Err(reason) => return Err(invalid(format!("pull: {reason}"))),
        };
        Ok(req)
    }
}

/// The plan of `stack` against the target: a list of step dicts, or with `notes` the plan as
/// the CLI's `--json` shows it (`{"steps": [...], "notes": [...]}`, `notes` always present).
pub fn plan(
    py: Python<'_>,
    stack: slipway::stack::StackSpec,
    args: RequestArgs,
    at: Where,
    notes: bool,
) -> PyResult<Py<PyAny>> {
    let opts = args.request()?.options().map_err(to_py)?;
    let plan = block_on_interruptible(py, async move { at.deployer(Some(&stack)).await?.plan(&stack, &opts).await })?
        .map_err(to_py)?;
    if notes {
        return to_py_object(py, &serde_json::json!({ "steps": plan.steps, "notes": plan.notes }));
    }
    to_py_object(py, &plan.steps)
}

/// Deploy `stack` (already loaded with the request's tag as `IMAGE_TAG`); returns
/// `{"release": {...} | None, "steps": [...], "events": [...]}`. Ctrl-C cancels the deploy: it
/// undoes itself and releases its lock, then `KeyboardInterrupt` is raised.
pub fn deploy(
    py: Python<'_>,
    stack: slipway::stack::StackSpec,
    args: RequestArgs,
    dry_run: bool,
    at: Where,
) -> PyResult<Py<PyAny>> {
    let token = CancellationToken::new();
    let opts = args.request()?.options().map_err(to_py)?.cancel(token.clone());
    if dry_run {
        let plan =
            block_on_interruptible(py, async move { at.deployer(Some(&stack)).await?.plan(&stack, &opts).await })?
                .map_err(to_py)?;
        let dry = serde_json::json!({ "release": null, "steps": plan.steps, "notes": plan.notes, "events": [] });
        return to_py_object(py, &dry);
    }
    let events = slipway::RecordingObserver::new();
    let recorder = events.clone();
    let out = block_on_cancellable(py, token, async move {
        let d = at.deployer(Some(&stack)).await?;
        d.apply(&stack, &opts, &recorder).await
    })?
    .map_err(to_py)?;
    let result = serde_json::json!({ "release": out.release, "steps": out.plan.steps, "events": events.events() });
    to_py_object(py, &result)
}

/// Release records of `project`, oldest first (`target="swarm"`: the records on the Swarm; `target="kubernetes"`: the cluster's).
#[pyfunction]
#[pyo3(signature = (project, host=None, context=None, target=None, namespace=None, ssh_persist=None))]
fn history(
    py: Python<'_>,
    project: String,
    host: Option<String>,
    context: Option<String>,
    target: Option<String>,
    namespace: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Py<PyAny>> {
    let at = Where { target, namespace, ..Where::engine(host, context, ssh_persist) };
    let list =
        block_on_interruptible(py, async move { at.deployer(None).await?.history(&project).await })?.map_err(to_py)?;
    to_py_object(py, &list)
}

/// What runs for `project`: `{"project", "current", "containers"}` (`target="swarm"`: one entry
/// per task, named `service.slot@node`).
#[pyfunction]
#[pyo3(signature = (project, host=None, context=None, target=None, namespace=None, ssh_persist=None))]
fn status(
    py: Python<'_>,
    project: String,
    host: Option<String>,
    context: Option<String>,
    target: Option<String>,
    namespace: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Py<PyAny>> {
    let at = Where { target, namespace, ..Where::engine(host, context, ssh_persist) };
    let st =
        block_on_interruptible(py, async move { at.deployer(None).await?.status(&project).await })?.map_err(to_py)?;
    to_py_object(py, &st)
}

/// Deploy a recorded release again (`to=None`: the successful release before the current one),
/// with the same options as `Stack.deploy`: the environment's policy (pins, backup) applies.
#[pyfunction]
#[pyo3(signature = (project, to=None, host=None, lock_wait=None, env="default", retain=5, backup=None, backup_dir=None, policy_file=None, lease=None, context=None, target=None, with_registry_auth=false, namespace=None, ssh_persist=None))]
#[allow(clippy::too_many_arguments)]
fn rollback(
    py: Python<'_>,
    project: String,
    to: Option<u64>,
    host: Option<String>,
    lock_wait: Option<f64>,
    env: &str,
    retain: usize,
    backup: Option<bool>,
    backup_dir: Option<PathBuf>,
    policy_file: Option<PathBuf>,
    lease: Option<f64>,
    context: Option<String>,
    target: Option<String>,
    with_registry_auth: bool,
    namespace: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Py<PyAny>> {
    let at = Where { target, with_registry_auth, namespace, ..Where::engine(host, context, ssh_persist) };
    let args = RequestArgs {
        env: env.to_string(),
        tag: None,
        lock_wait,
        lease,
        retain,
        backup,
        backup_dir,
        policy_file,
        pull: None,
    };
    let token = CancellationToken::new();
    let opts = args.request()?.options().map_err(to_py)?.cancel(token.clone());
    let events = slipway::RecordingObserver::new();
    let recorder = events.clone();
    let out = block_on_cancellable(py, token, async move {
        at.deployer(None).await?.rollback(&project, to.map(ReleaseId), &opts, &recorder).await
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
