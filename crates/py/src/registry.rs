//! `slipway.Registry(...)`: the registry operations of the CLI (digest, tags, inspect, copy, push,
//! load, remove, prune) and `slipway.login(...)`. References may be `oci:DIR:TAG` layouts.
//! Every call releases the GIL while it waits.

use pyo3::prelude::*;
use slipway::registry::distribution::{store_login, Credentials, Secret};
use slipway::registry::{ops, CopyOptions, Distribution, DistributionOptions, Location, PruneRules, RegistryError};

use crate::errors::to_py;
use crate::runtime::block_on;

fn err(e: RegistryError) -> PyErr {
    if e.kind() == slipway::ErrorKind::InvalidInput {
        return crate::errors::InvalidInput::new_err(e.to_string());
    }
    to_py(e.into())
}

fn to_dict(py: Python<'_>, value: &serde_json::Value) -> PyResult<Py<PyAny>> {
    let json = py.import("json")?;
    Ok(json.call_method1("loads", (value.to_string(),))?.unbind())
}

/// A registry client (any host, and `oci:` layouts) with shared connection options.
#[pyclass(name = "Registry", module = "slipway", frozen)]
pub struct PyRegistry {
    options: DistributionOptions,
}

#[pymethods]
impl PyRegistry {
    /// `Registry(username=None, password=None, insecure=[], ca=None)`: without a user name,
    /// credentials come from Docker's config.json (and its credential helpers).
    #[new]
    #[pyo3(signature = (username = None, password = None, insecure = Vec::new(), ca = None))]
    fn new(
        username: Option<String>,
        password: Option<String>,
        insecure: Vec<String>,
        ca: Option<String>,
    ) -> PyResult<Self> {
        let mut options = DistributionOptions::default();
        match (username, password) {
            (Some(u), Some(p)) => options = options.credentials(Credentials::basic(u, Secret::new(p))),
            (None, None) => {}
            _ => return Err(err(RegistryError::invalid("username/password", "give both or neither"))),
        }
        for h in &insecure {
            options = options.insecure(h);
        }
        if let Some(ca) = ca {
            options = options.ca_file(ca);
        }
        Ok(Self { options })
    }

    /// The digest `reference` points at.
    fn digest(&self, py: Python<'_>, reference: &str) -> PyResult<String> {
        let loc = Location::parse(reference).map_err(err)?;
        block_on(py, ops::digest(&loc, &self.options))?.map(|d| d.to_string()).map_err(err)
    }

    /// The tags of `repository` (or `oci:DIR`), sorted.
    fn tags(&self, py: Python<'_>, repository: &str) -> PyResult<Vec<String>> {
        let loc = Location::parse_repository(repository).map_err(err)?;
        block_on(py, ops::list_tags(&loc, &self.options))?.map_err(err)
    }

    /// A dict with the keys of `slipway inspect --json`.
    fn inspect(&self, py: Python<'_>, reference: &str) -> PyResult<Py<PyAny>> {
        let loc = Location::parse(reference).map_err(err)?;
        let info = block_on(py, ops::inspect_location(&loc, &self.options))?.map_err(err)?;
        to_dict(py, &serde_json::to_value(&info).unwrap_or_default())
    }

    /// Copy `source` to `destination`; returns the destination digest.
    #[pyo3(signature = (source, destination, parallel = 4))]
    fn copy(&self, py: Python<'_>, source: &str, destination: &str, parallel: usize) -> PyResult<String> {
        let (src, dst) = (Location::parse(source).map_err(err)?, Location::parse(destination).map_err(err)?);
        let copy_options = CopyOptions::default().parallelism(parallel);
        let fut = ops::copy_location(&src, &dst, &self.options, &copy_options, &slipway::NoopObserver);
        block_on(py, fut)?.map(|d| d.to_string()).map_err(err)
    }

    /// Push `image` from the Docker Engine (or an `oci:` layout) to `destination`; returns the digest.
    #[pyo3(signature = (image, destination, docker_host = None, parallel = 4))]
    fn push(
        &self,
        py: Python<'_>,
        image: &str,
        destination: &str,
        docker_host: Option<String>,
        parallel: usize,
    ) -> PyResult<String> {
        let dst = Location::parse(destination).map_err(err)?;
        let options = self.options.clone();
        let image = image.to_string();
        let fut = async move {
            let docker = if image.starts_with("oci:") {
                None
            } else {
                Some(slipway::engine::connect_host(docker_host.as_deref()).await.map_err(|e| {
                    RegistryError::Engine { image: image.clone(), operation: "connect".into(), reason: e.to_string() }
                })?)
            };
            let copy_options = CopyOptions::default().parallelism(parallel);
            ops::push(docker.as_ref(), &image, &dst, &options, &copy_options, &slipway::NoopObserver).await
        };
        block_on(py, fut)?.map(|d| d.to_string()).map_err(err)
    }

    /// Load `source` (a layout or registry reference) into the Docker Engine as `tag`.
    #[pyo3(signature = (source, tag, docker_host = None))]
    fn load(&self, py: Python<'_>, source: &str, tag: &str, docker_host: Option<String>) -> PyResult<String> {
        let src = Location::parse(source).map_err(err)?;
        let options = self.options.clone();
        let tag = tag.to_string();
        let fut = async move {
            let docker = slipway::engine::connect_host(docker_host.as_deref()).await.map_err(|e| {
                RegistryError::Engine { image: tag.clone(), operation: "connect".into(), reason: e.to_string() }
            })?;
            ops::load(&docker, &src, &tag, &options).await
        };
        block_on(py, fut)?.map(|d| d.to_string()).map_err(err)
    }

    /// Delete what `reference` points at (by digest); returns the digest.
    fn remove(&self, py: Python<'_>, reference: &str) -> PyResult<String> {
        let loc = Location::parse(reference).map_err(err)?;
        block_on(py, ops::remove(&loc, &self.options))?.map(|d| d.to_string()).map_err(err)
    }

    /// Prune `repository`: a dict with keys deleted ([tag, digest] pairs), kept, shared, applied.
    #[pyo3(signature = (repository, keep, r#match, protect = Vec::new(), apply = false))]
    fn prune(
        &self,
        py: Python<'_>,
        repository: &str,
        keep: usize,
        r#match: &str,
        protect: Vec<String>,
        apply: bool,
    ) -> PyResult<Py<PyAny>> {
        let loc = Location::parse_repository(repository).map_err(err)?;
        let mut rules = PruneRules::new(keep, r#match);
        for p in &protect {
            rules = rules.protect(p);
        }
        let out = block_on(py, ops::prune_location(&loc, &rules, apply, &self.options, &slipway::NoopObserver))?
            .map_err(err)?;
        to_dict(py, &serde_json::to_value(&out).unwrap_or_default())
    }

    fn __repr__(&self) -> String {
        "Registry(...)".to_string()
    }
}

/// `login(registry, username, password, insecure=False)`: check the credentials, then store them
/// in Docker's config.json as `docker login` does; returns the file's path.
#[pyfunction]
#[pyo3(signature = (registry, username, password, insecure = false))]
fn login(py: Python<'_>, registry: &str, username: &str, password: &str, insecure: bool) -> PyResult<String> {
    let secret = Secret::new(password);
    let mut options = DistributionOptions::default().credentials(Credentials::basic(username, secret.clone()));
    if insecure {
        options = options.insecure(registry);
    }
    let fut = async {
        Distribution::connect(registry, options).await?.ping().await?;
        store_login(registry, username, &secret).await
    };
    block_on(py, fut)?.map(|p| p.display().to_string()).map_err(err)
}

/// Add `Registry` and `login` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRegistry>()?;
    m.add_function(wrap_pyfunction!(login, m)?)
}
