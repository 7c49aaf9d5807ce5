//! `slipway.backup(...)`, `slipway.restore(...)`, `slipway.verify_backup(...)`,
//! `slipway.list_backups(...)`, `slipway.prune_backups(...)`: the backup room's Python face.
//! The keywords mean what the CLI's flags mean, because both faces call the same core functions
//! (`backup::take_backup`, `list_backups`, `prune_backups`, `restore_backup`, `verify_backup`):
//! backups are kept in a volume on the engine's host by default, `dir=` keeps them in a local
//! directory only, `download=` also copies them here, and restore/verify take `host:<stem>.json`
//! or a local file. Results are dicts with the CLI's `--json` keys; the GIL is released while the
//! engine works.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::prelude::*;
use slipway::backup::{
    self as core, BackupDestination, BackupError, BackupLocation, BackupRef, BackupSource, RestoreRequest,
    RetentionPolicy,
};
use slipway::NoopObserver;

use crate::convert::{json_to_py, to_py_object};
use crate::errors::to_py;
use crate::runtime::block_on_interruptible;
use crate::target::{SshPersist, Where};

/// The engine connection `host=` / `context=` / `ssh_persist=` name, resolved (no I/O).
fn engine(at: &Where) -> Result<slipway::engine::Connection, slipway::Error> {
    Ok(slipway::engine::Connection::resolve(&at.connect_options()).map_err(BackupError::from)?)
}

/// Back up `project`: its PostgreSQL services (all running ones when `services` is empty), or the
/// named `volume`. Kept in a volume on the engine's host (`host:<stem>.json`) unless `dir` names
/// a local directory; `download` also copies it into that local directory. Returns one dict per
/// backup: the manifest, `host` (when kept on the host) and `manifest_path` (when kept here).
#[pyfunction(name = "backup")]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (project, *, services=None, volume=None, release=None, dir=None, download=None, host=None, context=None, ssh_persist=None))]
fn backup_fn(
    py: Python<'_>,
    project: String,
    services: Option<Vec<String>>,
    volume: Option<String>,
    release: Option<String>,
    dir: Option<PathBuf>,
    download: Option<PathBuf>,
    host: Option<String>,
    context: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Py<PyAny>> {
    let destination = BackupDestination::new(dir, download).map_err(|e| to_py(e.into()))?;
    let source = match volume {
        Some(v) => BackupSource::Volume(v),
        None => BackupSource::Databases(services.unwrap_or_default()),
    };
    let at = Where::engine(host, context, ssh_persist);
    let kept = block_on_interruptible(py, async {
        let docker = at.docker().await.map_err(BackupError::from)?;
        let kept =
            core::take_backup(&docker, &destination, &project, &source, release.as_deref(), &NoopObserver).await?;
        Ok::<_, slipway::Error>(kept)
    })?
    .map_err(to_py)?;
    let list: Vec<serde_json::Value> = kept.iter().map(core::KeptBackup::to_json).collect();
    json_to_py(py, &serde_json::Value::Array(list))
}

/// Restore `path`: a backup kept on the engine's host (`host:<stem>.json`) or a local manifest or
/// data file. Databases go into their service (or `into`, a service of `project`), or into a
/// scratch container with `scratch=True`; volume archives go into their volume (or `volume`).
/// Returns a dict with `backup`, `into` (and `tables`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (path, *, into=None, project=None, scratch=false, volume=None, host=None, context=None, ssh_persist=None))]
fn restore(
    py: Python<'_>,
    path: PathBuf,
    into: Option<String>,
    project: Option<String>,
    scratch: bool,
    volume: Option<String>,
    host: Option<String>,
    context: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Py<PyAny>> {
    let request = RestoreRequest::new(into, project, scratch, volume);
    let at = Where::engine(host, context, ssh_persist);
    let outcome = block_on_interruptible(py, async {
        let docker = at.docker().await.map_err(BackupError::from)?;
        Ok::<_, slipway::Error>(core::restore_backup(&docker, &BackupRef::parse(&path), &request, &NoopObserver).await?)
    })?
    .map_err(to_py)?;
    to_py_object(py, &outcome)
}

/// Verify a PostgreSQL backup (`host:<stem>.json` or a local file): checksum, restore into a
/// scratch container, compare per-table row counts with the manifest. Returns the restored
/// counts; raises `BackupError` saying what differs.
#[pyfunction]
#[pyo3(signature = (path, *, host=None, context=None, ssh_persist=None))]
fn verify_backup(
    py: Python<'_>,
    path: PathBuf,
    host: Option<String>,
    context: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Py<PyAny>> {
    let at = Where::engine(host, context, ssh_persist);
    let tables = block_on_interruptible(py, async {
        let docker = at.docker().await.map_err(BackupError::from)?;
        Ok::<_, slipway::Error>(core::verify_backup(&docker, &BackupRef::parse(&path), &NoopObserver).await?)
    })?
    .map_err(to_py)?;
    to_py_object(py, &tables)
}

/// The backups kept on the engine's host (with `dir=`: in that local directory), of `project`
/// when given, oldest first: manifest dicts with `host` (`host:<stem>.json`) or `manifest_path`.
#[pyfunction]
#[pyo3(signature = (*, dir=None, project=None, host=None, context=None, ssh_persist=None))]
fn list_backups(
    py: Python<'_>,
    dir: Option<PathBuf>,
    project: Option<String>,
    host: Option<String>,
    context: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Py<PyAny>> {
    let at = Where::engine(host, context, ssh_persist);
    let location = BackupLocation::from_dir(dir);
    let list = block_on_interruptible(py, async {
        let kept = core::list_backups(&engine(&at)?, &location, project.as_deref()).await?;
        Ok::<_, slipway::Error>(kept.iter().map(core::KeptBackup::to_json).collect::<Vec<_>>())
    })?
    .map_err(to_py)?;
    json_to_py(py, &serde_json::Value::Array(list))
}

/// Apply retention to the backups kept on the engine's host (with `dir=`: in that local
/// directory), of `project` when given: keep the last `keep` of each source and any younger than
/// `younger_than_seconds`; returns the removed `host:` names (or a directory's data files).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (*, keep=7, younger_than_seconds=None, dir=None, project=None, host=None, context=None, ssh_persist=None))]
fn prune_backups(
    py: Python<'_>,
    keep: usize,
    younger_than_seconds: Option<f64>,
    dir: Option<PathBuf>,
    project: Option<String>,
    host: Option<String>,
    context: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Vec<String>> {
    let younger = match younger_than_seconds {
        None => None,
        Some(s) => Some(
            Duration::try_from_secs_f64(s)
                .map_err(|e| to_py(BackupError::Invalid(format!("younger_than_seconds={s}: {e}")).into()))?,
        ),
    };
    let policy = RetentionPolicy { keep_last: keep, keep_younger_than: younger };
    let at = Where::engine(host, context, ssh_persist);
    let location = BackupLocation::from_dir(dir);
    let removed = block_on_interruptible(py, async {
        let now = chrono::Utc::now();
        Ok::<_, slipway::Error>(core::prune_backups(&engine(&at)?, &location, policy, now, project.as_deref()).await?)
    })?
    .map_err(to_py)?;
    Ok(removed)
}

/// Add the backup functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(backup_fn, m)?)?;
    m.add_function(wrap_pyfunction!(restore, m)?)?;
    m.add_function(wrap_pyfunction!(verify_backup, m)?)?;
    m.add_function(wrap_pyfunction!(list_backups, m)?)?;
    m.add_function(wrap_pyfunction!(prune_backups, m)?)?;
    Ok(())
}
