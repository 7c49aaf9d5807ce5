//! `slipway.tags_for(...)` and `slipway.check_policy(env, refs)`: thin wrappers over the core's
//! `TagPolicy` and `EnvironmentPolicies`.

use std::path::PathBuf;

use pyo3::prelude::*;
use slipway::policy::{today_utc, EnvironmentPolicies, TagPolicy, TagRequest};

use crate::errors::to_py;
use crate::reference::PyImageRef;

/// A `date` argument: a `YYYYMMDD` string or anything with `strftime` (`datetime.date`).
fn date_arg(date: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    match date {
        None => Ok(None),
        Some(d) => match d.extract::<String>() {
            Ok(s) => Ok(Some(s)),
            Err(_) => Ok(Some(d.call_method1("strftime", ("%Y%m%d",))?.extract()?)),
        },
    }
}

/// The tags a build event gets.
#[pyfunction]
#[pyo3(signature = (event, sha = None, date = None, existing = None, version = None, latest = false))]
fn tags_for(
    event: &str,
    sha: Option<String>,
    date: Option<&Bound<'_, PyAny>>,
    existing: Option<Vec<String>>,
    version: Option<String>,
    latest: bool,
) -> PyResult<Vec<String>> {
    let mut request = TagRequest::new(event);
    request.sha = sha;
    request.date = date_arg(date)?;
    request.existing = existing.unwrap_or_default();
    request.version = version;
    request.latest = latest;
    let event = request.into_event(today_utc()).map_err(|e| to_py(e.into()))?;
    Ok(TagPolicy::new().tags_for(&event))
}

/// Check references against an environment's policy; raises `PolicyViolation` listing every refusal.
#[pyfunction]
#[pyo3(signature = (env, refs, policy_file = None))]
fn check_policy(env: &str, refs: Vec<Bound<'_, PyAny>>, policy_file: Option<PathBuf>) -> PyResult<()> {
    let policies = EnvironmentPolicies::builtin_with_file(policy_file.as_deref()).map_err(|e| to_py(e.into()))?;
    let policy = policies.get(env).map_err(|e| to_py(e.into()))?;
    let mut parsed = Vec::with_capacity(refs.len());
    for r in &refs {
        match r.extract::<PyImageRef>() {
            Ok(image) => parsed.push(image.0),
            Err(_) => {
                let s: String = r.extract()?;
                parsed.push(slipway::ImageRef::parse(&s).map_err(|e| to_py(e.into()))?);
            }
        }
    }
    policy.check(&parsed).map_err(|e| to_py(e.into()))
}

/// Add the policy functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(tags_for, m)?)?;
    m.add_function(wrap_pyfunction!(check_policy, m)?)
}
