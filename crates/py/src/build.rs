//! `slipway.build(...)` (a Dockerfile through the engine) and `slipway.oci_build(...)` (a
//! declarative, reproducible build). Both release the GIL while building and return a dict with
//! the CLI's `--json` keys: digest, image_id, manifest_digest, tags.

use std::collections::BTreeMap;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use slipway::build::{BuildError, BuildOutput, DockerBuildRequest, EventRequest, OciBuildRequest};
use slipway::events::NoopObserver;

use crate::errors::to_py;
use crate::runtime::block_on_interruptible;

fn output_dict<'py>(py: Python<'py>, out: &BuildOutput) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("digest", out.digest().map(|x| x.to_string()))?;
    d.set_item("image_id", out.image_id.as_ref().map(|x| x.to_string()))?;
    d.set_item("manifest_digest", out.manifest_digest.as_ref().map(|x| x.to_string()))?;
    d.set_item("tags", out.tags.clone())?;
    Ok(d)
}

fn pairs(map: Option<BTreeMap<String, String>>) -> Vec<String> {
    map.unwrap_or_default().into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// Build `context` with its Dockerfile through the engine, tag it and optionally push.
#[pyfunction]
#[pyo3(name = "build", signature = (
    context, *, dockerfile=None, target=None, build_args=None, labels=None, tags=None, event=None,
    sha=None, version=None, latest=false, push=false, no_cache=false, platform=None, host=None,
    docker_context=None, ssh_persist=None
))]
#[allow(clippy::too_many_arguments)]
fn build_image<'py>(
    py: Python<'py>,
    context: String,
    dockerfile: Option<String>,
    target: Option<String>,
    build_args: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    tags: Option<Vec<String>>,
    event: Option<String>,
    sha: Option<String>,
    version: Option<String>,
    latest: bool,
    push: bool,
    no_cache: bool,
    platform: Option<String>,
    host: Option<String>,
    docker_context: Option<String>,
    ssh_persist: Option<crate::target::SshPersist>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut req = DockerBuildRequest::new(context);
    req.dockerfile = dockerfile.map(Into::into);
    req.target = target;
    req.build_args = pairs(build_args);
    req.labels = pairs(labels);
    req.tags = tags.unwrap_or_default();
    req.push = push;
    req.no_cache = no_cache;
    req.platform = platform;
    req.engine = crate::target::Where::engine(host, docker_context, ssh_persist).connect_options();
    if let Some(e) = event {
        let mut r = EventRequest::new(e);
        r.sha = sha;
        r.version = version;
        r.latest = latest;
        req.event = Some(r);
    } else if sha.is_some() || version.is_some() || latest {
        return Err(to_py(BuildError::Invalid("sha, version and latest need event".into()).into()));
    }
    let out = block_on_interruptible(py, async move { slipway::build::docker_build(&req, &NoopObserver).await })?
        .map_err(|e| to_py(e.into()))?;
    output_dict(py, &out)
}

/// Build from a TOML build file without the engine; write to `output` (`oci:DIR:TAG`), push to
/// `push`, and/or load into the engine as `load`.
#[pyfunction]
#[pyo3(signature = (file, *, output=None, push=None, load=None, host=None, docker_context=None, ssh_persist=None))]
#[allow(clippy::too_many_arguments)]
fn oci_build<'py>(
    py: Python<'py>,
    file: String,
    output: Option<String>,
    push: Option<String>,
    load: Option<String>,
    host: Option<String>,
    docker_context: Option<String>,
    ssh_persist: Option<crate::target::SshPersist>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut req = OciBuildRequest::new(file);
    req.output = output;
    req.push = push;
    req.load = load;
    req.engine = crate::target::Where::engine(host, docker_context, ssh_persist).connect_options();
    let out = block_on_interruptible(py, async move { slipway::build::oci_build(&req, &NoopObserver).await })?
        .map_err(|e| to_py(e.into()))?;
    output_dict(py, &out)
}

/// Add `build` and `oci_build` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(build_image, m)?)?;
    m.add_function(wrap_pyfunction!(oci_build, m)?)
}
