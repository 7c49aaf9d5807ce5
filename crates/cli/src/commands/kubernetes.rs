//! `--target kubernetes [--context C] [--namespace N]` of `deploy`, `status`, `history`,
//! `rollback` and `prune`: the same commands against a cluster (the core's
//! `KubernetesDeployer`), printing its progress and results.

use slipway::kubernetes::deploy::{Cluster, KubeDeployOptions, KubernetesDeployer};

use super::deploy::{load_stack, Progress, Target};
use crate::output;

/// The Kubernetes target arguments, flattened into the shared target arguments.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct KubeTarget {
    /// Namespace (default: the context's). With --target kubernetes.
    #[arg(long)]
    pub namespace: Option<String>,
}

impl KubeTarget {
    /// The deployer for the kubeconfig `context` (`--context`, shared with the Docker targets,
    /// where it names a Docker context; default: the kubeconfig's current one).
    async fn deployer(&self, context: Option<&str>) -> Result<KubernetesDeployer, slipway::Error> {
        let cluster = Cluster::connect(context, self.namespace.as_deref()).await?;
        Ok(KubernetesDeployer::new(cluster, KubeDeployOptions::default()))
    }
}

fn finish(r: Result<u8, slipway::Error>) -> u8 {
    r.unwrap_or_else(|e| output::report_error(&e))
}

/// `slipway deploy --target kubernetes`.
pub async fn deploy(target: &Target, req: &slipway::deploy::DeployRequest, json: bool) -> u8 {
    finish(
        async {
            let stack = load_stack(&target.files, target.project.as_deref(), req.tag.as_deref())?;
            let opts = req.options()?;
            let deployer = target.kube.deployer(target.engine.context.as_deref()).await?;
            let release = deployer.deploy(&stack, &opts, &Progress::default()).await?;
            if json {
                output::json_line(&serde_json::json!({ "project": stack.name, "release": release }));
            } else {
                println!("{}: release {} deployed to Kubernetes", stack.name, release.id);
            }
            Ok(0)
        }
        .await,
    )
}

/// `slipway status --target kubernetes`.
pub async fn status(target: &Target, json: bool) -> u8 {
    finish(
        async {
            let project = target.project()?;
            let list = target.kube.deployer(target.engine.context.as_deref()).await?.status(&project).await?;
            if json {
                output::json_line(&serde_json::json!({ "project": project, "workloads": list }));
            }
            for w in list.iter().filter(|_| !json) {
                let rel = w.release.as_deref().unwrap_or("-");
                println!("{:<24} ready {}/{}  updated {}  release {rel}", w.name, w.ready, w.replicas, w.updated);
            }
            Ok(0)
        }
        .await,
    )
}

/// `slipway history --target kubernetes`.
pub async fn history(target: &Target, json: bool) -> u8 {
    finish(
        async {
            let project = target.project()?;
            let list = target.kube.deployer(target.engine.context.as_deref()).await?.history(&project).await?;
            if json {
                output::json_line(&serde_json::json!({ "project": project, "releases": list }));
            }
            for r in list.iter().filter(|_| !json) {
                println!("{:>4}  {}  {}  {}  {}", r.id, r.when, r.version.as_deref().unwrap_or("-"), r.who, r.outcome);
            }
            Ok(0)
        }
        .await,
    )
}

/// `slipway rollback --target kubernetes [--to ID]`.
pub async fn rollback(target: &Target, to: Option<&str>, json: bool) -> u8 {
    finish(
        async {
            let project = target.project()?;
            let to = match to {
                Some(t) => Some(t.trim_start_matches('r').parse::<u64>().map_err(|_| {
                    slipway::Error::from(slipway::deploy::DeployError::Invalid(format!("--to {t}: not a release id")))
                })?),
                None => None,
            };
            let deployer = target.kube.deployer(target.engine.context.as_deref()).await?;
            let release = deployer.rollback(&project, to, &Progress::default()).await?;
            if json {
                output::json_line(&serde_json::json!({ "project": project, "release": release }));
            } else {
                println!("{project}: release {} deployed (rollback)", release.id);
            }
            Ok(0)
        }
        .await,
    )
}

/// `slipway prune --target kubernetes`: records beyond `retain` and old releases' Jobs.
pub async fn prune(target: &Target, retain: usize, json: bool) -> u8 {
    finish(
        async {
            let project = target.project()?;
            let deleted = target.kube.deployer(target.engine.context.as_deref()).await?.prune(&project, retain).await?;
            if json {
                output::json_line(&serde_json::json!({ "project": project, "deleted": deleted }));
            } else {
                println!("{project}: deleted {} object(s): {}", deleted.len(), deleted.join(", "));
            }
            Ok(0)
        }
        .await,
    )
}
