//! `slipway.render_kubernetes(files, ...)`: the compose stack as Kubernetes manifests, as
//! `slipway render --target kubernetes` prints them (the core's `kubernetes::render`).

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::json_to_py;
use crate::errors::to_py;

/// Render compose `files` (a path or a list) for Kubernetes. Returns a dict: `yaml` (the
/// multi-document stream), `objects` (list of dicts) and `warnings` (list of str: keys that
/// cannot map). `strict=True` raises instead of warning; `ingress="traefik"` renders Traefik
/// IngressRoutes.
#[pyfunction]
#[pyo3(signature = (files, env_file=None, profiles=None, project=None, namespace=None, ingress="ingress", strict=false))]
#[allow(clippy::too_many_arguments)]
fn render_kubernetes(
    py: Python<'_>,
    files: &Bound<'_, PyAny>,
    env_file: Option<PathBuf>,
    profiles: Option<Vec<String>>,
    project: Option<String>,
    namespace: Option<String>,
    ingress: &str,
    strict: bool,
) -> PyResult<Py<PyAny>> {
    let files: Vec<PathBuf> = if files.is_instance_of::<PyList>() || files.is_instance_of::<pyo3::types::PyTuple>() {
        files.extract()?
    } else {
        vec![files.extract()?]
    };
    let kind = match ingress {
        "ingress" => slipway::kubernetes::IngressKind::Ingress,
        "traefik" => slipway::kubernetes::IngressKind::Traefik,
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "ingress={other:?}: use \"ingress\" or \"traefik\""
            )))
        }
    };
    let mut opts = slipway::compose::LoadOptions::new(files).profiles(profiles.unwrap_or_default());
    if let Some(e) = env_file {
        opts = opts.env_file(e);
    }
    if let Some(p) = project {
        opts = opts.project(p);
    }
    let mut ropts =
        slipway::kubernetes::RenderOptions::new().ingress(kind).strict(strict).environment(std::env::vars().collect());
    if let Some(ns) = namespace {
        ropts = ropts.namespace(ns);
    }
    let rendered = py
        .detach(|| {
            let loaded = slipway::compose::load(&opts).map_err(slipway::Error::from)?;
            slipway::kubernetes::render(&loaded.stack, &ropts).map_err(slipway::Error::from)
        })
        .map_err(to_py)?;
    let out = PyDict::new(py);
    out.set_item("yaml", rendered.to_yaml())?;
    let objects: Vec<serde_json::Value> = rendered.objects.iter().map(|m| m.body.clone()).collect();
    out.set_item("objects", json_to_py(py, &serde_json::Value::Array(objects))?)?;
    out.set_item("warnings", rendered.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>())?;
    Ok(out.into_any().unbind())
}

/// Register the function.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(render_kubernetes, m)?)
}
