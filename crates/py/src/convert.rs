//! Conversions shared by every room's bindings: core results serialised with serde become plain
//! Python objects (dicts, lists, str, int, float, bool, None) with the same keys as the CLI's `--json`.

use pyo3::prelude::*;

/// A JSON value as the equivalent Python object (through the standard `json` module, so numbers,
/// strings and nesting follow Python's own JSON rules).
pub fn json_to_py(py: Python<'_>, v: &serde_json::Value) -> PyResult<Py<PyAny>> {
    let json = py.import("json")?;
    Ok(json.call_method1("loads", (v.to_string(),))?.unbind())
}

/// Any serialisable core value as a Python object.
pub fn to_py_object<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let v = serde_json::to_value(value)
        .map_err(|e| crate::errors::SlipwayError::new_err(format!("cannot convert a result for Python: {e}")))?;
    json_to_py(py, &v)
}
