//! The exception hierarchy under `slipway.SlipwayError`, mapped from the core's `Error`.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(_native, SlipwayError, PyException, "Base class of every slipway error.");
create_exception!(_native, InvalidInput, SlipwayError, "The input was wrong (exit code 2 on the CLI).");
create_exception!(_native, InvalidReference, InvalidInput, "An image reference or digest is not valid.");
create_exception!(_native, PolicyViolation, SlipwayError, "A policy refused the request (exit code 3 on the CLI).");
create_exception!(_native, RegistryError, SlipwayError, "A registry or image-store operation failed.");
create_exception!(_native, BuildError, SlipwayError, "An image build failed.");
create_exception!(_native, HealthError, SlipwayError, "A health probe could not be run.");
create_exception!(_native, ComposeError, InvalidInput, "A compose file is not valid.");
create_exception!(_native, DeployError, SlipwayError, "A deploy, rollback or status query failed.");
create_exception!(_native, RouteError, SlipwayError, "A traffic switch failed.");
create_exception!(_native, BackupError, SlipwayError, "A backup or restore failed.");
create_exception!(_native, ProxyError, SlipwayError, "The managed proxy could not be run, read or removed.");

/// Convert a core error into the matching Python exception. Every exception carries `.service`,
/// `.step` (str or None), `.logs` (list of str) and `.undo` (the `UndoReport` as a dict, or None
/// when no undo ran) from the core's error; a policy refusal also
/// carries `reasons` (one string per refused reference). The class follows the error's kind:
/// policy refusals are `PolicyViolation`, bad input to a deploy is `InvalidInput`, failures are
/// the room's class.
pub fn to_py(e: slipway::Error) -> PyErr {
    let (service, step, logs) = match &e {
        slipway::Error::Deploy(d) => (d.service().map(str::to_string), d.step().map(str::to_string), d.logs().to_vec()),
        _ => (None, None, Vec::new()),
    };
    // The undo's report, as `--json` prints it:
    // {"actions": [{"description", "error", "finish", "confirmed", "silent_ports"}]}.
    let undo = match &e {
        slipway::Error::Deploy(d) => d.undo().and_then(|u| serde_json::to_value(u).ok()),
        _ => None,
    };
    let err = classify(e);
    Python::attach(|py| {
        // Setting attributes on a fresh exception instance cannot fail in practice; if it does,
        // the message still says all of it.
        let value = err.value(py);
        let _ = value.setattr("service", service);
        let _ = value.setattr("step", step);
        let _ = value.setattr("logs", logs);
        let undo = undo.and_then(|u| crate::convert::json_to_py(py, &u).ok());
        let _ = value.setattr("undo", undo);
    });
    err
}

fn classify(e: slipway::Error) -> PyErr {
    use slipway::{Error, ErrorKind};
    let msg = e.to_string();
    if e.kind() == ErrorKind::PolicyRefused {
        let reasons: Vec<String> = match &e {
            Error::Policy(p) => p.refusals().iter().map(ToString::to_string).collect(),
            _ => vec![msg.clone()],
        };
        let err = PolicyViolation::new_err(msg);
        Python::attach(|py| {
            // Setting an attribute on a fresh exception instance cannot fail in practice; if it
            // does, the message still lists every reason.
            let _ = err.value(py).setattr("reasons", reasons);
        });
        return err;
    }
    match e {
        Error::Reference(_) | Error::Digest(_) => InvalidReference::new_err(msg),
        Error::Policy(_) => InvalidInput::new_err(msg),
        Error::Registry(_) => RegistryError::new_err(msg),
        Error::Build(_) if e.kind() == ErrorKind::InvalidInput => InvalidInput::new_err(msg),
        Error::Build(_) => BuildError::new_err(msg),
        Error::Health(_) if e.kind() == ErrorKind::InvalidInput => InvalidInput::new_err(msg),
        Error::Health(_) => HealthError::new_err(msg),
        Error::Compose(_) => ComposeError::new_err(msg),
        Error::Deploy(_) | Error::Route(_) if e.kind() == ErrorKind::InvalidInput => InvalidInput::new_err(msg),
        Error::Deploy(_) => DeployError::new_err(msg),
        Error::Route(_) => RouteError::new_err(msg),
        Error::Backup(_) => BackupError::new_err(msg),
        Error::Proxy(_) if e.kind() == ErrorKind::InvalidInput => InvalidInput::new_err(msg),
        Error::Proxy(_) => ProxyError::new_err(msg),
        _ => SlipwayError::new_err(msg),
    }
}

/// Add the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SlipwayError", py.get_type::<SlipwayError>())?;
    m.add("InvalidInput", py.get_type::<InvalidInput>())?;
    m.add("InvalidReference", py.get_type::<InvalidReference>())?;
    m.add("PolicyViolation", py.get_type::<PolicyViolation>())?;
    m.add("RegistryError", py.get_type::<RegistryError>())?;
    m.add("BuildError", py.get_type::<BuildError>())?;
    m.add("HealthError", py.get_type::<HealthError>())?;
    m.add("ComposeError", py.get_type::<ComposeError>())?;
    m.add("DeployError", py.get_type::<DeployError>())?;
    m.add("RouteError", py.get_type::<RouteError>())?;
    m.add("BackupError", py.get_type::<BackupError>())?;
    m.add("ProxyError", py.get_type::<ProxyError>())?;
    Ok(())
}
