//! `slipway._native`: the PyO3 module behind `import slipway`. Only converts arguments and
//! results and maps errors to exceptions; every decision lives in the core.

mod backup;
mod build;
mod compose;
mod compose_build;
mod convert;
mod deploy;
mod errors;
mod health;
mod kubernetes;
mod policy;
mod proxy;
mod reference;
mod registry;
mod runtime;
mod target;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    reference::register(m)?;
    registry::register(m)?;
    policy::register(m)?;
    health::register(m)?;
    runtime::register(m)?;
    compose::register(m)?;
    deploy::register(m)?;
    backup::register(m)?;
    build::register(m)?;
    compose_build::register(m)?;
    kubernetes::register(m)?;
    proxy::register(m)?;
    Ok(())
}
