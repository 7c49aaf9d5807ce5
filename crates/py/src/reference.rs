//! `slipway.ImageRef`.

use pyo3::prelude::*;

use crate::errors::to_py;

/// An image reference, parsed and normalised as Docker does.
#[pyclass(name = "ImageRef", module = "slipway", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyImageRef(pub slipway::ImageRef);

#[pymethods]
impl PyImageRef {
    /// Parse `s`; raises `InvalidReference`.
    #[staticmethod]
    fn parse(s: &str) -> PyResult<Self> {
        slipway::ImageRef::parse(s).map(Self).map_err(|e| to_py(e.into()))
    }
    /// The registry host.
    #[getter]
    fn registry(&self) -> &str {
        self.0.registry()
    }
    /// The repository path.
    #[getter]
    fn repository(&self) -> &str {
        self.0.repository()
    }
    /// The tag, or None.
    #[getter]
    fn tag(&self) -> Option<&str> {
        self.0.tag()
    }
    /// The digest, or None.
    #[getter]
    fn digest(&self) -> Option<String> {
        self.0.digest().map(|d| d.to_string())
    }
    /// `registry/repository`, without tag or digest.
    #[getter]
    fn name(&self) -> String {
        self.0.name()
    }
    /// Whether a digest pins the reference.
    #[getter]
    fn is_pinned(&self) -> bool {
        self.0.is_pinned()
    }
    /// The canonical form (same as `str()`).
    #[getter]
    fn canonical(&self) -> String {
        self.0.to_string()
    }
    /// The short form Docker prints.
    fn familiar(&self) -> String {
        self.0.familiar()
    }
    fn __str__(&self) -> String {
        self.0.to_string()
    }
    fn __repr__(&self) -> String {
        format!("ImageRef('{}')", self.0)
    }
}

/// Add `ImageRef` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyImageRef>()
}
