//! Which deploy target a Python call means: `target=` ("host", alias "docker", "swarm" or
//! "kubernetes"; by default the stack's `x-slipway: {target: swarm}`, else the host), the engine
//! `host=` / `context=` name (as `-H` / `--context`; with `target="kubernetes"`, `context=` names
//! the kubeconfig context and `namespace=` the namespace), and `with_registry_auth=` for the Swarm
//! (as the CLI's `--with-registry-auth`). The same meaning as the CLI's `--target`: both faces end
//! in the core's `DockerHost`, `SwarmDeployer` or `KubernetesDeployer` behind the one `Deployer`
//! trait.

use slipway::deploy::{Deployer, DockerHost};
use slipway::stack::StackSpec;
use slipway::swarm::SwarmDeployer;

/// Where a deploy, plan, rollback, status or history goes.
#[derive(Debug, Clone, Default)]
pub struct Where {
    /// `host=`: the engine (`-H`).
    pub host: Option<String>,
    /// `context=`: a Docker context.
    pub context: Option<String>,
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

impl Where {
    /// The engine only (host target).
    pub fn engine(host: Option<String>, context: Option<String>) -> Self {
        Self { host, context, ..Default::default() }
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
        let options = slipway::engine::ConnectOptions::host(self.host.as_deref()).context(self.context.as_deref());
        let connection = slipway::engine::Connection::resolve(&options).map_err(slipway::deploy::DeployError::from)?;
        match kind {
            Kind::Swarm => {
                Ok(Box::new(SwarmDeployer::connect(&connection).await?.with_registry_auth(self.with_registry_auth)))
            }
            _ => Ok(Box::new(DockerHost::connect(&connection).await?)),
        }
    }
}
