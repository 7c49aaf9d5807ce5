//! `slipway.backup(...)`, `slipway.restore(...)`, `slipway.verify_backup(...)`,
//! `slipway.list_backups(...)`, `slipway.prune_backups(...)`: the backup room's Python face.
//! Results are dicts with the CLI's `--json` keys; the GIL is released while the engine works.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::prelude::*;
use slipway::backup::{self as core, BackupError, BackupKind, BackupStore, RestoreTarget, RetentionPolicy};
use slipway::NoopObserver;

use crate::convert::{json_to_py, to_py_object};
use crate::errors::to_py;
use crate::runtime::block_on_interruptible;

fn store(dir: Option<PathBuf>) -> BackupStore {
    BackupStore::new(dir.unwrap_or_else(core::default_backup_dir))
}

/// The engine `host=` / `context=` name (as `-H` / `--context`; default: the environment).
async fn connect(host: Option<&str>, context: Option<&str>) -> Result<bollard::Docker, slipway::Error> {
    let options = slipway::engine::ConnectOptions::host(host).context(context);
    let connection = slipway::engine::Connection::resolve(&options).map_err(BackupError::from)?;
    Ok(slipway::engine::connect(&connection).await.map_err(BackupError::from)?)
}

fn with_path(manifest: &core::BackupManifest, path: &std::path::Path) -> serde_json::Value {
    let mut v = serde_json::to_value(manifest).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("manifest_path".into(), path.display().to_string().into());
    }
    v
}

/// Back up `project`: its PostgreSQL services (all running ones when `services` is empty), or the
/// named `volume`. Returns one dict per backup (the manifest plus `manifest_path`, and with
/// `on_host=True` its `host` name: also kept on the engine's host).
#[pyfunction(name = "backup")]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (project, *, services=None, volume=None, release=None, dir=None, host=None, context=None, on_host=false))]
fn backup_fn(
    py: Python<'_>,
    project: String,
    services: Option<Vec<String>>,
    volume: Option<String>,
    release: Option<String>,
    dir: Option<PathBuf>,
    host: Option<String>,
    context: Option<String>,
    on_host: bool,
) -> PyResult<Py<PyAny>> {
    let store = store(dir);
    let done = block_on_interruptible(py, async {
        let docker = connect(host.as_deref(), context.as_deref()).await?;
        let done = match &volume {
            Some(v) => {
                vec![core::backup_volume(&docker, &store, &project, v, release.as_deref(), &NoopObserver).await?]
            }
            None => {
                let services = services.unwrap_or_default();
                core::backup_databases(&docker, &store, &project, &services, release.as_deref(), &NoopObserver).await?
            }
        };
        // on_host=True: also kept on the engine's host, as the CLI does (`host:<stem>.json`).
        let mut kept = Vec::new();
        for (_, path) in done.iter().filter(|_| on_host) {
            kept.push(core::host_store::keep_on_host(&docker, path).await?);
        }
        Ok::<_, slipway::Error>((done, kept))
    })?
    .map_err(to_py)?;
    let (done, kept) = done;
    let list: Vec<serde_json::Value> = done
        .iter()
        .enumerate()
        .map(|(i, (m, p))| {
            let mut v = with_path(m, p);
            if let (Some(o), Some(name)) = (v.as_object_mut(), kept.get(i)) {
                o.insert("host".into(), name.clone().into());
            }
            v
        })
        .collect();
    json_to_py(py, &serde_json::Value::Array(list))
}

/// Restore the backup at `path` (its manifest or data file). Databases go into their service
/// (or `into`, a service of `project`), or into a scratch container with `scratch=True`; volume
/// archives go into their volume (or `volume`). Returns a dict with `backup`, `into` (and `tables`).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (path, *, into=None, project=None, scratch=false, volume=None, host=None, context=None))]
fn restore(
    py: Python<'_>,
    path: PathBuf,
    into: Option<String>,
    project: Option<String>,
    scratch: bool,
    volume: Option<String>,
    host: Option<String>,
    context: Option<String>,
) -> PyResult<Py<PyAny>> {
    let result = block_on_interruptible(py, async {
        let (manifest, _) = BackupStore::load(&path).await?;
        let docker = connect(host.as_deref(), context.as_deref()).await?;
        let value = match manifest.kind {
            BackupKind::Volume => {
                let v = core::restore_volume(&docker, &path, volume.as_deref(), &NoopObserver).await?;
                serde_json::json!({"backup": path.display().to_string(), "into": format!("volume {v}")})
            }
            _ => {
                let target = if scratch {
                    RestoreTarget::Scratch
                } else {
                    RestoreTarget::Service {
                        project: project.unwrap_or(manifest.project.clone()),
                        service: into.or(manifest.service.clone()).unwrap_or_default(),
                    }
                };
                let report = core::restore_postgres(&docker, &path, &target, &NoopObserver).await?;
                serde_json::json!({"backup": path.display().to_string(), "into": report.into, "tables": report.tables})
            }
        };
        Ok::<_, slipway::Error>(value)
    })?
    .map_err(to_py)?;
    json_to_py(py, &result)
}

/// Verify a PostgreSQL backup: checksum, restore into a scratch container, compare per-table row
/// counts with the manifest. Returns the restored counts; raises `BackupError` saying what differs.
#[pyfunction]
#[pyo3(signature = (path, *, host=None, context=None))]
fn verify_backup(py: Python<'_>, path: PathBuf, host: Option<String>, context: Option<String>) -> PyResult<Py<PyAny>> {
    let report = block_on_interruptible(py, async {
        let docker = connect(host.as_deref(), context.as_deref()).await?;
        Ok::<_, slipway::Error>(core::verify_postgres(&docker, &path, &NoopObserver).await?)
    })?
    .map_err(to_py)?;
    to_py_object(py, &report.tables)
}

/// The backups in `dir` (default: the backup directory), oldest first, as manifest dicts; with
/// `on_host=True` those kept on the engine's host (`host=`/`context=`, of `project` when given),
/// each with its `host` name (`host:<stem>.json`).
#[pyfunction]
#[pyo3(signature = (*, dir=None, on_host=false, project=None, host=None, context=None))]
fn list_backups(
    py: Python<'_>,
    dir: Option<PathBuf>,
    on_host: bool,
    project: Option<String>,
    host: Option<String>,
    context: Option<String>,
) -> PyResult<Py<PyAny>> {
    let list = block_on_interruptible(py, async {
        if on_host {
            let docker = connect(host.as_deref(), context.as_deref()).await?;
            let kept = core::host_store::list_on_host(&docker, project.as_deref()).await?;
            return Ok::<_, slipway::Error>(kept.iter().map(|b| with_host(&b.manifest, &b.name)).collect::<Vec<_>>());
        }
        let all = store(dir).list().await?;
        Ok(all
            .iter()
            .filter(|(_, m)| project.as_deref().is_none_or(|p| p == m.project))
            .map(|(p, m)| with_path(m, p))
            .collect())
    })?
    .map_err(to_py)?;
    json_to_py(py, &serde_json::Value::Array(list))
}

fn with_host(manifest: &core::BackupManifest, name: &str) -> serde_json::Value {
    let mut v = serde_json::to_value(manifest).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("host".into(), name.into());
    }
    v
}

/// Apply retention to `dir` (or, with `on_host=True`, to the backups kept on the engine's host,
/// of `project` when given): keep the last `keep` backups of each source and any younger than
/// `younger_than_seconds`; returns the removed data files (or `host:` names).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (*, keep=7, younger_than_seconds=None, dir=None, on_host=false, project=None, host=None, context=None))]
fn prune_backups(
    py: Python<'_>,
    keep: usize,
    younger_than_seconds: Option<f64>,
    dir: Option<PathBuf>,
    on_host: bool,
    project: Option<String>,
    host: Option<String>,
    context: Option<String>,
) -> PyResult<Vec<String>> {
    let policy =
        RetentionPolicy { keep_last: keep, keep_younger_than: younger_than_seconds.map(Duration::from_secs_f64) };
    let removed = block_on_interruptible(py, async {
        let now = chrono::Utc::now();
        if on_host {
            let docker = connect(host.as_deref(), context.as_deref()).await?;
            let gone = core::host_store::prune_on_host(&docker, policy, now, project.as_deref()).await?;
            return Ok::<_, slipway::Error>(gone.into_iter().map(|b| b.name).collect());
        }
        if project.is_some() {
            return Err(BackupError::Invalid("project= applies with on_host=True".into()).into());
        }
        Ok(store(dir).prune(policy, now).await?.iter().map(|p| p.display().to_string()).collect())
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
