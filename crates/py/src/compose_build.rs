//! `slipway.build_compose(files, services=None, ...)`: the compose project's `build:` services
//! built through the engine (each image once), tagged and optionally pushed, as
//! `slipway build -f compose.yml` does. Releases the GIL; returns one dict per image with the
//! CLI's `--json` keys: image, services, digest, tags.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use slipway::build::{BuildError, ComposeBuildRequest, EventRequest};
use slipway::compose::LoadOptions;
use slipway::events::NoopObserver;

use crate::errors::to_py;
use crate::runtime::block_on_interruptible;

/// Build the compose project's images.
#[pyfunction]
#[pyo3(signature = (files, services=None, *, project=None, env_file=None, event=None, sha=None, version=None, push=false))]
#[allow(clippy::too_many_arguments)]
fn build_compose<'py>(
    py: Python<'py>,
    files: Vec<String>,
    services: Option<Vec<String>>,
    project: Option<String>,
    env_file: Option<String>,
    event: Option<String>,
    sha: Option<String>,
    version: Option<String>,
    push: bool,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let mut load = LoadOptions::new(files);
    if let Some(p) = project {
        load = load.project(p);
    }
    if let Some(f) = env_file {
        load = load.env_file(f);
    }
    let mut req = ComposeBuildRequest::default();
    req.load = load;
    req.services = services.unwrap_or_default();
    req.push = push;
    match event {
        Some(e) => {
            let mut r = EventRequest::new(e);
            r.sha = sha;
            r.version = version;
            req.event = Some(r);
        }
        None if sha.is_some() || version.is_some() => {
            return Err(to_py(BuildError::Invalid("sha and version need event".into()).into()))
        }
        None => {}
    }
    let images = block_on_interruptible(py, async move { slipway::build::compose_build(&req, &NoopObserver).await })?
        .map_err(|e| to_py(e.into()))?;
    images
        .into_iter()
        .map(|i| {
            let d = PyDict::new(py);
            d.set_item("image", i.image)?;
            d.set_item("services", i.services)?;
            d.set_item("digest", i.output.digest().map(|x| x.to_string()))?;
            d.set_item("tags", i.output.tags)?;
            Ok(d)
        })
        .collect()
}

/// Add `build_compose` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(build_compose, m)?)
}
