//! Which deploy target a Python call means: `target=` ("host", alias "docker", "swarm" or
//! "kubernetes"; by default the stack's `x-slipway: {target: swarm}`, else the host), the engine
//! `host=` / `context=` name (as `-H` / `--context`; with `target="kubernetes"`, `context=` names
//! the kubeconfig context and `namespace=` the namespace), `ssh_persist=` (as `--ssh-persist`: keep
//! an `ssh://` master this long for the next call), and `with_registry_auth=` for the Swarm
//! (as the CLI's `--with-registry-auth`). The same meaning as the CLI's `--target`: both faces end
//! in the core's `DockerHost`, `SwarmDeployer` or `KubernetesDeployer` behind the one `Deployer`
//! trait.

use std::time::Duration;

use pyo3::prelude::*;
use slipway::deploy::{Deployer, DockerHost};
use slipway::engine::ConnectOptions;
use slipway::stack::StackSpec;
use slipway::swarm::SwarmDeployer;

/// Where a deploy, plan, rollback, status or history goes.
#[derive(Debug, Clone, Default)]
pub struct Where {
    /// `host=`: the engine (`-H`).
    pub host: Option<String>,
    /// `context=`: a Docker context.
    pub context: Option<String>,
    /// `ssh_persist=`: keep the `ssh://` master this long after the call (`--ssh-persist`).
    pub ssh_persist: Option<SshPersist>,
    /// `target=`: "host"/"docker" or "swarm" (None: the stack's `x-slipway.target`, else host).
    pub target: Option<String>,
    /// `with_registry_auth=`: Swarm only.
    pub with_registry_auth: bool,
    /// `namespace=`: Kubernetes only (default: the kubeconfig context's).
    pub namespace: Option<String>,
}

/// The kind of deployer a [`Where`] names.
enum Kind {
    Host,
    Swarm,
    Kubernetes,
}

/// `ssh_persist=`: a duration as compose writes it (`"60s"`, `"5m"`, read by the one duration
/// parser, as the CLI's `--ssh-persist`) or a number of seconds; 0 keeps nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SshPersist(pub Duration);

impl<'py> FromPyObject<'py> for SshPersist {
    fn extract_bound(value: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(s) = value.extract::<String>() {
            return slipway::duration::parse(&s)
                .map(SshPersist)
                .map_err(|e| crate::errors::InvalidInput::new_err(format!("ssh_persist: {e}")));
        }
        match value.extract::<f64>() {
            Ok(secs) if secs.is_finite() && secs >= 0.0 => Ok(SshPersist(Duration::from_secs_f64(secs))),
            _ => Err(crate::errors::InvalidInput::new_err(
                "ssh_persist: expected a duration such as \"60s\" or a number of seconds",
            )),
        }
    }
}

impl Where {
    /// The engine only (host target): `host=`, `context=`, `ssh_persist=`.
    pub fn engine(host: Option<String>, context: Option<String>, ssh_persist: Option<SshPersist>) -> Self {
        Self { host, context, ssh_persist, ..Default::default() }
    }

    /// The engine connection these arguments name (`-H`, `--context`, `--ssh-persist`).
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions::host(self.host.as_deref())
            .context(self.context.as_deref())
            .ssh_persist(self.ssh_persist.map(|p| p.0))
    }

    /// The engine client these arguments name.
    pub async fn docker(&self) -> Result<slipway::engine::Docker, slipway::engine::EngineError> {
        slipway::engine::connect(&slipway::engine::Connection::resolve(&self.connect_options())?).await
    }

    fn kind(&self, stack: Option<&StackSpec>) -> Result<Kind, slipway::Error> {
        match self.target.as_deref() {
            None if stack.is_some_and(slipway::swarm::wants_swarm) => Ok(Kind::Swarm),
            None | Some("host" | "docker") => Ok(Kind::Host),
            Some("swarm") => Ok(Kind::Swarm),
            Some("kubernetes") => Ok(Kind::Kubernetes),
            Some(other) => Err(slipway::deploy::DeployError::Invalid(format!(
                "target={other:?}: expected \"host\" (alias \"docker\"), \"swarm\" or \"kubernetes\""
            ))
            .into()),
        }
    }

    /// The deployer these arguments name, for `stack` when there is one.
    pub async fn deployer(&self, stack: Option<&StackSpec>) -> Result<Box<dyn Deployer>, slipway::Error> {
        let kind = self.kind(stack)?;
        if let Kind::Kubernetes = kind {
            let cluster =
                slipway::kubernetes::deploy::Cluster::connect(self.context.as_deref(), self.namespace.as_deref())
                    .await?;
            let opts = slipway::kubernetes::deploy::KubeDeployOptions::default();
            return Ok(Box::new(slipway::kubernetes::deploy::KubernetesDeployer::new(cluster, opts)));
        }
        let connection = slipway::engine::Connection::resolve(&self.connect_options())
            .map_err(slipway::deploy::DeployError::from)?;
        match kind {
            Kind::Swarm => {
                Ok(Box::new(SwarmDeployer::connect(&connection).await?.with_registry_auth(self.with_registry_auth)))
            }
            _ => Ok(Box::new(DockerHost::connect(&connection).await?)),
        }
    }
}
