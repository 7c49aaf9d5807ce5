//! `--target swarm` for deploy, status, history, rollback and prune: the engine named by the
//! connection flags is a Swarm manager and slipway's `SwarmDeployer` does the work. This file
//! only picks the target and renders results.

use slipway::deploy::{DeployOptions, Deployer};
use slipway::stack::StackSpec;
use slipway::swarm::SwarmDeployer;

use super::deploy::{load_stack, Progress, Target};
use crate::output;

/// The kind of deploy target (`--target`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// One Docker engine (local or remote).
    #[value(alias = "docker")]
    Host,
    /// A Docker Swarm, through a manager.
    Swarm,
    /// A Kubernetes namespace (`--context` names the kubeconfig context, `--namespace`).
    Kubernetes,
}

/// `--target swarm`, else the stack's `x-slipway: {target: swarm}` (the stack given, or the
/// compose file when one loads).
pub fn wanted(target: &Target, stack: Option<&StackSpec>) -> bool {
    match target.kind {
        Some(k) => k == TargetKind::Swarm,
        None => match stack {
            Some(s) => slipway::swarm::wants_swarm(s),
            None => load_stack(&target.files, target.project.as_deref(), None)
                .is_ok_and(|s| slipway::swarm::wants_swarm(&s)),
        },
    }
}

/// The Swarm target's own flags.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SwarmArgs {
    /// With the Swarm target: send the registry credentials of Docker's config.json (helpers
    /// included) with every service, so that every node can pull from a private registry (as
    /// `docker stack deploy --with-registry-auth`). They are never shown or recorded.
    #[arg(long = "with-registry-auth")]
    pub with_registry_auth: bool,
}

async fn connect(target: &Target) -> Result<SwarmDeployer, slipway::Error> {
    let connection = target.engine.resolve().map_err(slipway::deploy::DeployError::from)?;
    Ok(SwarmDeployer::connect(&connection).await?.with_registry_auth(target.swarm.with_registry_auth))
}

/// The deployer the flags name.
pub async fn deployer(target: &Target) -> Result<Box<dyn Deployer>, slipway::Error> {
    if wanted(target, None) {
        Ok(Box::new(connect(target).await?))
    } else {
        Ok(Box::new(target.host().await?))
    }
}

/// `slipway deploy --target swarm`.
pub async fn deploy(
    target: &Target,
    stack: &StackSpec,
    opts: &DeployOptions,
    dry_run: bool,
    json: bool,
) -> Result<u8, slipway::Error> {
    let swarm = connect(target).await?;
    if dry_run {
        output::target_plan(&swarm.plan(stack, opts).await?, "swarm", json);
        return Ok(0);
    }
    let out = swarm.apply(stack, opts, &Progress::default()).await?;
    let release = out.release.as_ref();
    if json {
        output::json_line(&serde_json::json!({ "project": stack.name, "target": "swarm", "release": release }));
    } else if let Some(r) = release {
        println!(
            "{}: release {} deployed on the Swarm{}",
            stack.name,
            r.id,
            r.version.as_deref().map(|v| format!(", version {v}")).unwrap_or_default()
        );
    }
    Ok(0)
}

/// `slipway status --target swarm`: tasks per node.
pub async fn status(target: &Target, project: &str, json: bool) -> Result<u8, slipway::Error> {
    let st = connect(target).await?.swarm_status(project).await?;
    if json {
        output::json_line(&serde_json::to_value(&st).unwrap_or_default());
        return Ok(0);
    }
    println!("{project}: release {}", st.current.as_deref().unwrap_or("-"));
    for s in &st.services {
        let replicas = s.replicas.map(|r| r.to_string()).unwrap_or_else(|| "global".into());
        println!("  {} ({replicas}, update {})", s.name, s.update_state.as_deref().unwrap_or("-"));
        for t in &s.tasks {
            println!(
                "    node {} {:<15} slot {:<3} {:<9} {}{}",
                t.node,
                t.node_addr.as_deref().unwrap_or("-"),
                t.slot.map(|s| s.to_string()).unwrap_or_default(),
                t.state,
                t.health,
                t.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
            );
        }
    }
    Ok(0)
}

/// `slipway prune --target swarm --retain N`.
pub async fn prune(target: &Target, project: &str, retain: usize, json: bool) -> Result<u8, slipway::Error> {
    let report = connect(target).await?.prune(project, retain).await?;
    if json {
        output::json_line(&serde_json::to_value(&report).unwrap_or_default());
    } else {
        println!(
            "{project}: removed {} release records, {} secrets/configs",
            report.releases.len(),
            report.objects.len()
        );
    }
    Ok(0)
}
