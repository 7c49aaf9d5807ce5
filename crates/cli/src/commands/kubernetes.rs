//! `--target kubernetes [--context C] [--namespace N]` of `deploy`, `status`, `history`,
//! `rollback` and `prune`: the core's `KubernetesDeployer` behind the same `Deployer` seam as
//! the other targets. This file only picks the target and renders results.

use slipway::deploy::{DeployOptions, Deployer};
use slipway::kubernetes::deploy::{Cluster, KubeDeployOptions, KubernetesDeployer};
use slipway::stack::StackSpec;

use super::deploy::{Progress, Target};
use crate::output;

/// The Kubernetes target arguments, flattened into the shared target arguments.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct KubeTarget {
    /// Namespace (default: the context's). With --target kubernetes.
    #[arg(long)]
    pub namespace: Option<String>,
}

/// The deployer for the kubeconfig context `--context` names (shared with the Docker targets,
/// where it names a Docker context; default: the kubeconfig's current one).
async fn connect(target: &Target) -> Result<KubernetesDeployer, slipway::Error> {
    let cluster = Cluster::connect(target.engine.context.as_deref(), target.kube.namespace.as_deref()).await?;
    Ok(KubernetesDeployer::new(cluster, KubeDeployOptions::default()))
}

/// The deployer the flags name: Kubernetes with `--target kubernetes`, else the Swarm or host.
pub async fn deployer(target: &Target) -> Result<Box<dyn Deployer>, slipway::Error> {
    if target.is_kubernetes() {
        return Ok(Box::new(connect(target).await?));
    }
    super::swarm::deployer(target).await
}

/// `slipway deploy --target kubernetes [--dry-run]`.
pub async fn deploy(
    target: &Target,
    stack: &StackSpec,
    opts: &DeployOptions,
    dry_run: bool,
    json: bool,
) -> Result<u8, slipway::Error> {
    let kube = connect(target).await?;
    if dry_run {
        output::target_plan(&kube.plan(stack, opts).await?, "kubernetes", json);
        return Ok(0);
    }
    let out = kube.apply(stack, opts, &Progress::default()).await?;
    let release = out.release.as_ref();
    if json {
        output::json_line(&serde_json::json!({
            "project": stack.name, "target": "kubernetes", "release": release, "steps": out.plan.steps.len(),
        }));
    } else if let Some(r) = release {
        println!(
            "{}: release {} deployed to Kubernetes (namespace {}){}",
            stack.name,
            r.id,
            kube.cluster().namespace(),
            r.version.as_deref().map(|v| format!(", version {v}")).unwrap_or_default()
        );
    }
    Ok(0)
}

/// `slipway status --target kubernetes`: the current release, workloads, pods and readiness.
pub async fn status(target: &Target, project: &str, json: bool) -> Result<u8, slipway::Error> {
    let kube = connect(target).await?;
    let st = kube.status(project).await?;
    let workloads = kube.workloads(project).await?;
    if json {
        output::json_line(&serde_json::json!({
            "project": project, "current": st.current, "workloads": workloads, "containers": st.containers,
        }));
        return Ok(0);
    }
    match &st.current {
        Some(r) => println!("{project}: release {} ({})", r.id, r.version.as_deref().unwrap_or("-")),
        None => println!("{project}: no release recorded"),
    }
    for w in &workloads {
        let rel = w.release.as_deref().unwrap_or("-");
        println!("  {:<24} ready {}/{}  updated {}  release {rel}", w.name, w.ready, w.replicas, w.updated);
        for p in st.containers.iter().filter(|c| slipway::kubernetes::dns_label(&c.service) == w.name) {
            println!(
                "    {:<40} {:<8} {}",
                p.name,
                if p.running { "running" } else { "pending" },
                p.health.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(0)
}

/// `slipway prune --target kubernetes`: records beyond `retain` and old releases' Jobs.
pub async fn prune(target: &Target, project: &str, retain: usize, json: bool) -> Result<u8, slipway::Error> {
    let deleted = connect(target).await?.prune(project, retain).await?;
    if json {
        output::json_line(&serde_json::json!({ "project": project, "deleted": deleted }));
    } else {
        println!("{project}: deleted {} object(s): {}", deleted.len(), deleted.join(", "));
    }
    Ok(0)
}
