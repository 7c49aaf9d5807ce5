//! `slipway.proxy_up(...)`, `slipway.proxy_status(...)`, `slipway.proxy_logs(...)`,
//! `slipway.proxy_down(...)`: the proxy room's Python face, with the CLI's meanings and its
//! `--json` keys as dict keys. The GIL is released while the engine works.

use std::path::PathBuf;

use pyo3::prelude::*;
use slipway::proxy::{ManagedProxy, ProxyError, ProxySettings, DEFAULT_IMAGE, DEFAULT_NAME};
use slipway::NoopObserver;

use crate::convert::json_to_py;
use crate::errors::to_py;
use crate::runtime::block_on_interruptible;
use crate::target::{SshPersist, Where};

/// The engine `host=` / `context=` / `ssh_persist=` name (as `-H` / `--context` /
/// `--ssh-persist`; default: the environment).
async fn connect(at: &Where) -> Result<ManagedProxy, slipway::Error> {
    let connection = slipway::engine::Connection::resolve(&at.connect_options()).map_err(ProxyError::from)?;
    Ok(ManagedProxy::connect(&connection).await?)
}

/// Run the managed proxy (`slipway proxy up`): created when absent, nothing done when it runs
/// with the same settings, recreated when they changed. Returns a dict: `name`, `action`
/// (`created`, `unchanged`, `started`, `recreated`), `gap_ms`, `settings_hash`, `image`, `http`,
/// `https`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (*, name=DEFAULT_NAME.to_string(), image=DEFAULT_IMAGE.to_string(), http=":80".to_string(),
    https=":443".to_string(), redirect_https=false, acme_email=None, acme_server=None, acme_staging=false,
    acme_ca=None, host=None, context=None, ssh_persist=None))]
fn proxy_up(
    py: Python<'_>,
    name: String,
    image: String,
    http: String,
    https: String,
    redirect_https: bool,
    acme_email: Option<String>,
    acme_server: Option<String>,
    acme_staging: bool,
    acme_ca: Option<PathBuf>,
    host: Option<String>,
    context: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Py<PyAny>> {
    let at = Where::engine(host, context, ssh_persist);
    let settings = ProxySettings::new()
        .name(name)
        .image(image)
        .http(http)
        .https(https)
        .redirect_https(redirect_https)
        .acme_email(acme_email)
        .acme_server(acme_server)
        .acme_staging(acme_staging)
        .acme_ca(acme_ca);
    let up = block_on_interruptible(py, async {
        // Bad settings fail before anything connects, as on the CLI.
        settings.resolve()?;
        let proxy = connect(&at).await?;
        Ok::<_, slipway::Error>(proxy.up(&settings, &NoopObserver).await?)
    })?
    .map_err(to_py)?;
    json_to_py(py, &serde_json::to_value(&up).unwrap_or_default())
}

/// What runs as the managed proxy (`slipway proxy status --json`): a dict with `name`, `host`,
/// `exists`, `running`, `image`, `http`, `https`, `redirect_https`, `acme`, `settings_hash`,
/// `networks`, `version`, `routers`, `services`.
#[pyfunction]
#[pyo3(signature = (*, name=DEFAULT_NAME.to_string(), host=None, context=None, ssh_persist=None))]
fn proxy_status(
    py: Python<'_>,
    name: String,
    host: Option<String>,
    context: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Py<PyAny>> {
    let at = Where::engine(host, context, ssh_persist);
    let st = block_on_interruptible(py, async {
        let proxy = connect(&at).await?;
        Ok::<_, slipway::Error>(proxy.status(&name).await?)
    })?
    .map_err(to_py)?;
    json_to_py(py, &serde_json::to_value(&st).unwrap_or_default())
}

/// The managed proxy's log lines (the last `tail` ones, all with `None`).
#[pyfunction]
#[pyo3(signature = (*, name=DEFAULT_NAME.to_string(), tail=None, host=None, context=None, ssh_persist=None))]
fn proxy_logs(
    py: Python<'_>,
    name: String,
    tail: Option<usize>,
    host: Option<String>,
    context: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Vec<String>> {
    let at = Where::engine(host, context, ssh_persist);
    block_on_interruptible(py, async {
        let proxy = connect(&at).await?;
        Ok::<_, slipway::Error>(proxy.logs(&name, tail).await?)
    })?
    .map_err(to_py)
}

/// Stop and remove the managed proxy; its volumes are kept. A dict: `name`, `removed`,
/// `kept_volumes`.
#[pyfunction]
#[pyo3(signature = (*, name=DEFAULT_NAME.to_string(), host=None, context=None, ssh_persist=None))]
fn proxy_down(
    py: Python<'_>,
    name: String,
    host: Option<String>,
    context: Option<String>,
    ssh_persist: Option<SshPersist>,
) -> PyResult<Py<PyAny>> {
    let at = Where::engine(host, context, ssh_persist);
    let down = block_on_interruptible(py, async {
        let proxy = connect(&at).await?;
        Ok::<_, slipway::Error>(proxy.down(&name, &NoopObserver).await?)
    })?
    .map_err(to_py)?;
    json_to_py(py, &serde_json::to_value(&down).unwrap_or_default())
}

/// Add the proxy functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(proxy_up, m)?)?;
    m.add_function(wrap_pyfunction!(proxy_status, m)?)?;
    m.add_function(wrap_pyfunction!(proxy_logs, m)?)?;
    m.add_function(wrap_pyfunction!(proxy_down, m)?)?;
    Ok(())
}
