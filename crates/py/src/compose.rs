//! `slipway.Stack`: a compose project loaded by the core (interpolated, merged, validated) and
//! wrapping the core's `StackSpec`. Other rooms add methods (`plan`, `deploy`) to this class.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert::json_to_py;
use crate::errors::to_py;

/// A resolved compose stack.
#[pyclass(name = "Stack", module = "slipway", frozen)]
#[derive(Clone)]
pub struct PyStack {
    /// The resolved stack (read by deploy and other rooms).
    pub spec: slipway::stack::StackSpec,
    /// Warnings found while loading, as text.
    pub warnings: Vec<String>,
    /// How it was loaded: a deploy with `tag=` loads it again with that `IMAGE_TAG`.
    pub load: slipway::compose::LoadOptions,
}

#[pymethods]
impl PyStack {
    /// Load compose `files` (a path or a list of paths, merged in order), like
    /// `docker compose -f ... config`. Raises `ComposeError` on a bad file.
    #[staticmethod]
    #[pyo3(signature = (files, env_file=None, profiles=None, project=None))]
    fn load(
        py: Python<'_>,
        files: &Bound<'_, PyAny>,
        env_file: Option<PathBuf>,
        profiles: Option<Vec<String>>,
        project: Option<String>,
    ) -> PyResult<Self> {
        let files: Vec<PathBuf> = if files.is_instance_of::<PyList>() || files.is_instance_of::<pyo3::types::PyTuple>()
        {
            files.extract()?
        } else {
            vec![files.extract()?]
        };
        let mut opts = slipway::compose::LoadOptions::new(files).profiles(profiles.unwrap_or_default());
        if let Some(e) = env_file {
            opts = opts.env_file(e);
        }
        if let Some(p) = project {
            opts = opts.project(p);
        }
        let loaded = py.detach(|| slipway::compose::load(&opts)).map_err(|e| to_py(e.into()))?;
        Ok(Self { spec: loaded.stack, warnings: loaded.warnings.iter().map(|w| w.to_string()).collect(), load: opts })
    }

    /// The project name.
    #[getter]
    fn name(&self) -> &str {
        &self.spec.name
    }

    /// Services by name, each as a dict in the `docker compose config` shape.
    #[getter]
    fn services(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let rendered = slipway::compose::render(&self.spec);
        json_to_py(py, &rendered["services"])
    }

    /// Warnings found while loading (unset variables, ignored `build:`), as text.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// The whole stack as a dict, with the shape and field names of `docker compose config --format json`.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(py, &slipway::compose::render(&self.spec))
    }

    /// The stack as JSON text (`slipway config --format json`).
    fn to_json(&self) -> String {
        slipway::compose::render_json(&self.spec)
    }

    /// The stack as YAML text (`slipway config`).
    fn to_yaml(&self) -> String {
        slipway::compose::render_yaml(&self.spec)
    }

    /// Deploy room: what a deploy would change, as a list of step dicts (changes nothing).
    /// `tag` sets `IMAGE_TAG` (the stack is loaded again with it) and the release's version.
    /// `target="kubernetes"` (with `context=`, `namespace=`) plans for a cluster.
    /// `notes=True` returns the plan as the CLI's `deploy --dry-run --json` shows it:
    /// `{"steps": [...], "notes": [...]}` (why a service is stop-first, ...).
    #[pyo3(signature = (env="default", host=None, tag=None, policy_file=None, context=None, target=None, namespace=None, notes=false, ssh_persist=None))]
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        py: Python<'_>,
        env: &str,
        host: Option<String>,
        tag: Option<String>,
        policy_file: Option<PathBuf>,
        context: Option<String>,
        target: Option<String>,
        namespace: Option<String>,
        notes: bool,
        ssh_persist: Option<crate::target::SshPersist>,
    ) -> PyResult<Py<PyAny>> {
        let stack = self.tagged(py, tag.as_deref())?;
        let args = crate::deploy::RequestArgs {
            env: env.to_string(),
            tag,
            lock_wait: None,
            lease: None,
            retain: 5,
            backup: None,
            backup_dir: None,
            policy_file,
            pull: None,
        };
        let at = crate::target::Where { target, namespace, ..crate::target::Where::engine(host, context, ssh_persist) };
        crate::deploy::plan(py, stack, args, at, notes)
    }

    /// Deploy room: deploy this stack (health-gated, undone on failure, recorded on the host).
    /// Returns `{"release": dict | None, "steps": [...], "events": [...]}`; `release` is None
    /// when nothing changed. The keyword arguments mean what the CLI's flags mean: `tag` sets
    /// `IMAGE_TAG` for interpolation (the stack is loaded again with it) and the release's
    /// version; the environment's policy decides the backup before any change (production takes
    /// one); `backup=False` skips it where the policy allows, `backup=True` forces one; `pull`
    /// ("always", "missing", "never") overrides every service's `pull_policy`. Ctrl-C undoes the
    /// deploy and releases its lock, then raises `KeyboardInterrupt`. `target="swarm"` deploys on
    /// the Swarm the engine manages (default: the stack's `x-slipway.target`), with
    /// `with_registry_auth=True` sending the registry credentials to the nodes. `target="kubernetes"`
    /// deploys to a cluster (`context=` names the kubeconfig context, `namespace=` the namespace).
    #[pyo3(signature = (env="default", tag=None, dry_run=false, lock_wait=None, retain=5, host=None, pull=None, backup=None, backup_dir=None, policy_file=None, lease=None, context=None, target=None, with_registry_auth=false, namespace=None, ssh_persist=None))]
    #[allow(clippy::too_many_arguments)]
    fn deploy(
        &self,
        py: Python<'_>,
        env: &str,
        tag: Option<String>,
        dry_run: bool,
        lock_wait: Option<f64>,
        retain: usize,
        host: Option<String>,
        pull: Option<String>,
        backup: Option<bool>,
        backup_dir: Option<PathBuf>,
        policy_file: Option<PathBuf>,
        lease: Option<f64>,
        context: Option<String>,
        target: Option<String>,
        with_registry_auth: bool,
        namespace: Option<String>,
        ssh_persist: Option<crate::target::SshPersist>,
    ) -> PyResult<Py<PyAny>> {
        let stack = self.tagged(py, tag.as_deref())?;
        let args = crate::deploy::RequestArgs {
            env: env.to_string(),
            tag,
            lock_wait,
            lease,
            retain,
            backup,
            backup_dir,
            policy_file,
            pull,
        };
        let at = crate::target::Where {
            target,
            with_registry_auth,
            namespace,
            ..crate::target::Where::engine(host, context, ssh_persist)
        };
        crate::deploy::deploy(py, stack, args, dry_run, at)
    }

    fn __repr__(&self) -> String {
        format!("Stack(name='{}', services={:?})", self.spec.name, self.spec.services.keys().collect::<Vec<_>>())
    }
}

impl PyStack {
    /// The stack for a deploy tagged `tag`: loaded again with `IMAGE_TAG=tag` (as the CLI's
    /// `--tag` does), else as loaded.
    fn tagged(&self, py: Python<'_>, tag: Option<&str>) -> PyResult<slipway::stack::StackSpec> {
        match tag {
            None => Ok(self.spec.clone()),
            Some(t) => {
                let load = self.load.clone();
                let loaded = py.detach(|| slipway::deploy::load_for_deploy(&load, Some(t))).map_err(to_py)?;
                Ok(loaded.stack)
            }
        }
    }
}

/// Add `Stack` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyStack>()
}
