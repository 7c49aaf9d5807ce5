//! `slipway.probe(...)` and `slipway.check_all([...])`: health probes with compose healthcheck
//! semantics. Reports are dicts with the CLI's `--json` keys: target, status, reason, latency_ms,
//! attempts, elapsed_ms, starting, output.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use slipway::engine::Connection;
use slipway::health::{self, target::parse_status_range, Check, HealthError, TargetOptions};

use crate::convert::to_py_object;
use crate::errors::to_py;
use crate::runtime::block_on;
use crate::target::{SshPersist, Where};

/// A duration from `"500ms"`/`"1m30s"` or a number of seconds.
fn duration(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Duration> {
    if let Ok(s) = value.extract::<String>() {
        return slipway::duration::parse(&s).map_err(|e| to_py(HealthError::from(e).into()));
    }
    if let Ok(secs) = value.extract::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    Err(PyTypeError::new_err(format!("{what}: expected a duration such as \"3s\" or a number of seconds")))
}

/// Settings shared by `probe` and `check_all` (keyword arguments; per-target dicts override them).
struct Settings {
    timeout: Duration,
    retries: u32,
    interval: Duration,
    start_period: Duration,
    options: TargetOptions,
}

impl Settings {
    #[allow(clippy::too_many_arguments)]
    fn read(
        timeout: &Bound<'_, PyAny>,
        retries: u32,
        interval: &Bound<'_, PyAny>,
        start_period: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyDict>>,
        status: Option<String>,
        body: Option<String>,
        insecure: bool,
        ca: Option<String>,
        at: &Where,
    ) -> PyResult<Self> {
        // The engine as the CLI's -H/--context/--ssh-persist name it (DOCKER_HOST, the current
        // context by default); a remote one's network targets are probed from its side.
        let connection = Connection::resolve(&at.connect_options())
            .map_err(|source| to_py(HealthError::Engine { option: "host/context".into(), source }.into()))?;
        let mut options = TargetOptions::default().verify_tls(!insecure).on_engine(connection);
        if let Some(h) = headers {
            for (k, v) in h.iter() {
                options = options.header(k.extract::<String>()?, v.extract::<String>()?);
            }
        }
        if let Some(s) = status {
            options = options.status(parse_status_range(&s).map_err(|e| to_py(e.into()))?);
        }
        if let Some(b) = body {
            options = options.body_contains(b);
        }
        if let Some(path) = ca {
            let pem = std::fs::read(&path).map_err(|source| {
                to_py(HealthError::CaFile { option: "ca".into(), path: path.clone().into(), source }.into())
            })?;
            options = options.ca_pem(pem);
        }
        Ok(Settings {
            timeout: duration(timeout, "timeout")?,
            retries,
            interval: duration(interval, "interval")?,
            start_period: duration(start_period, "start_period")?,
            options,
        })
    }

    /// A check for `item`: a target string, or a dict with `target` and optional overrides of
    /// `timeout`, `retries`, `interval`, `start_period`.
    fn check(&self, item: &Bound<'_, PyAny>) -> PyResult<Check> {
        let (mut timeout, mut retries, mut interval, mut start_period) =
            (self.timeout, self.retries, self.interval, self.start_period);
        let target = if let Ok(s) = item.extract::<String>() {
            s
        } else if let Ok(d) = item.downcast::<PyDict>() {
            if let Some(v) = d.get_item("timeout")? {
                timeout = duration(&v, "timeout")?;
            }
            if let Some(v) = d.get_item("retries")? {
                retries = v.extract::<u32>()?.max(1);
            }
            if let Some(v) = d.get_item("interval")? {
                interval = duration(&v, "interval")?;
            }
            if let Some(v) = d.get_item("start_period")? {
                start_period = duration(&v, "start_period")?;
            }
            match d.get_item("target")? {
                Some(t) => t.extract::<String>()?,
                None => return Err(PyTypeError::new_err("a check dict needs a \"target\" key")),
            }
        } else {
            return Err(PyTypeError::new_err("each check is a target string or a dict with \"target\""));
        };
        let probe = health::parse_target_with(&target, &self.options).map_err(|e| to_py(e.into()))?;
        Ok(Check::new(probe).timeout(timeout).retries(retries).interval(interval).start_period(start_period))
    }
}

fn or_default<'py>(py: Python<'py>, v: Option<&Bound<'py, PyAny>>, d: &str) -> Bound<'py, PyAny> {
    v.cloned().unwrap_or_else(|| pyo3::types::PyString::new(py, d).into_any())
}

fn reports_to_py(py: Python<'_>, reports: &[health::CheckReport]) -> PyResult<Vec<Py<PyAny>>> {
    reports.iter().map(|r| to_py_object(py, r)).collect()
}

/// Probe one target until healthy or unhealthy (compose semantics) and return its report dict.
/// Raises `InvalidInput` for a bad target or option.
#[pyfunction]
#[pyo3(signature = (target, *, timeout=None, retries=1, interval=None, start_period=None, headers=None, status=None, body=None, insecure=false, ca=None, host=None, context=None, ssh_persist=None))]
#[allow(clippy::too_many_arguments)]
fn probe(
    py: Python<'_>,
    target: &Bound<'_, PyAny>,
    timeout: Option<&Bound<'_, PyAny>>,
    retries: u32,
    interval: Option<&Bound<'_, PyAny>>,
    start_period: Option<&Bound<'_, PyAny>>,
    headers: Option<&Bound<'_, PyDict>>,
    status: Option<String>,
    body: Option<String>,
    insecure: bool,
    ca: Option<String>,
    host: Option<String>,
    context: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Py<PyAny>> {
    let list = PyList::new(py, [target])?;
    let mut out = check_all(
        py,
        &list,
        timeout,
        retries,
        interval,
        start_period,
        headers,
        status,
        body,
        insecure,
        ca,
        host,
        context,
        ssh_persist,
    )?;
    out.pop().ok_or_else(|| PyTypeError::new_err("no report"))
}

/// Probe several targets concurrently; return their report dicts in input order. Each item is a
/// target string or a dict `{"target": ..., "timeout": ..., "retries": ..., "interval": ...,
/// "start_period": ...}` overriding the keyword arguments.
#[pyfunction]
#[pyo3(signature = (checks, *, timeout=None, retries=1, interval=None, start_period=None, headers=None, status=None, body=None, insecure=false, ca=None, host=None, context=None, ssh_persist=None))]
#[allow(clippy::too_many_arguments)]
fn check_all(
    py: Python<'_>,
    checks: &Bound<'_, PyList>,
    timeout: Option<&Bound<'_, PyAny>>,
    retries: u32,
    interval: Option<&Bound<'_, PyAny>>,
    start_period: Option<&Bound<'_, PyAny>>,
    headers: Option<&Bound<'_, PyDict>>,
    status: Option<String>,
    body: Option<String>,
    insecure: bool,
    ca: Option<String>,
    host: Option<String>,
    context: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Vec<Py<PyAny>>> {
    let settings = Settings::read(
        &or_default(py, timeout, "5s"),
        retries.max(1),
        &or_default(py, interval, "1s"),
        &or_default(py, start_period, "0s"),
        headers,
        status,
        body,
        insecure,
        ca,
        &Where::engine(host, context, ssh_persist),
    )?;
    let checks: Vec<Check> = checks.iter().map(|item| settings.check(&item)).collect::<PyResult<_>>()?;
    let reports = block_on(py, health::check_all(&checks, &slipway::NoopObserver))?;
    reports_to_py(py, &reports)
}

/// Add `probe` and `check_all` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(probe, m)?)?;
    m.add_function(wrap_pyfunction!(check_all, m)?)?;
    Ok(())
}
