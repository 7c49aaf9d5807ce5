//! Which deploy target a Python call means: `target=` ("host", alias "docker", or "swarm"; by
//! default the stack's `x-slipway: {target: swarm}`, else the host), the engine `host=` /
//! `context=` name (as `-H` / `--context`), and `with_registry_auth=` for the Swarm (as the CLI's
//! `--with-registry-auth`). The same meaning as the CLI's `--target`: both faces end in the
//! core's `DockerHost` or `SwarmDeployer` behind the one `Deployer` trait.

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
}

impl Where {
    /// The engine only (host target).
    pub fn engine(host: Option<String>, context: Option<String>) -> Self {
        Self { host, context, ..Default::default() }
    }

    fn swarm(&self, stack: Option<&StackSpec>) -> Result<bool, slipway::Error> {
        match self.target.as_deref() {
            None => Ok(stack.is_some_and(slipway::swarm::wants_swarm)),
            Some("host" | "docker") => Ok(false),
            Some("swarm") => Ok(true),
            Some(other) => Err(slipway::deploy::DeployError::Invalid(format!(
                "target={other:?}: expected \"host\" (alias \"docker\") or \"swarm\""
            ))
            .into()),
        }
    }

    /// The deployer these arguments name, for `stack` when there is one.
    pub async fn deployer(&self, stack: Option<&StackSpec>) -> Result<Box<dyn Deployer>, slipway::Error> {
        let options = slipway::engine::ConnectOptions::host(self.host.as_deref()).context(self.context.as_deref());
        let connection = slipway::engine::Connection::resolve(&options).map_err(slipway::deploy::DeployError::from)?;
        if self.swarm(stack)? {
            Ok(Box::new(SwarmDeployer::connect(&connection).await?.with_registry_auth(self.with_registry_auth)))
        } else {
            Ok(Box::new(DockerHost::connect(&connection).await?))
        }
    }
}
