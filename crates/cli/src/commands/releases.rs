//! `slipway status`, `slipway history`, `slipway rollback [--to ID]`, `slipway prune`: what runs
//! and what ran, read from the host's own records.

use slipway::deploy::{Deployer, ReleaseId, ReleaseOutcome};

use super::deploy::{cancellable_options, Progress, RequestArgs, Target};
use crate::output;

/// Arguments of `slipway status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    target: Target,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Arguments of `slipway history`.
#[derive(clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    target: Target,
    /// JSON output (one release per line).
    #[arg(long)]
    json: bool,
}

/// Arguments of `slipway rollback`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  slipway rollback -p shop\n  slipway rollback -p shop --to 3 --env production --lock-wait 30s"
)]
pub struct RollbackArgs {
    #[command(flatten)]
    target: Target,
    /// The same request flags as `deploy`: environment, lock wait, retention, backup.
    #[command(flatten)]
    request: RequestArgs,
    /// The release to deploy again (default: the successful release before the current one).
    #[arg(long)]
    to: Option<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

fn outcome(o: &ReleaseOutcome) -> String {
    match o {
        ReleaseOutcome::Succeeded => "succeeded".into(),
        ReleaseOutcome::Failed { service, step, .. } => format!("failed ({service}: {step})"),
        ReleaseOutcome::Cancelled { service, step } => format!("cancelled ({service}: {step})"),
        ReleaseOutcome::PartlyDeployed { action, failures } => {
            let steps: Vec<&str> = failures.iter().map(|f| f.step.as_str()).collect();
            format!("partly deployed ({action}; failed: {})", steps.join(", "))
        }
        _ => "unknown".into(),
    }
}

/// Run `slipway status`.
pub async fn status(args: StatusArgs) -> u8 {
    let run = async {
        let project = args.target.project()?;
        if args.target.is_kubernetes() {
            return super::kubernetes::status(&args.target, &project, args.json).await;
        }
        if super::swarm::wanted(&args.target, None) {
            return super::swarm::status(&args.target, &project, args.json).await;
        }
        let st = args.target.host().await?.status(&project).await?;
        if args.json {
            output::json_line(&serde_json::to_value(&st).unwrap_or_default());
        } else {
            match &st.current {
                Some(r) => println!("{project}: release {} ({})", r.id, r.version.as_deref().unwrap_or("-")),
                None => println!("{project}: no release recorded"),
            }
            for c in &st.containers {
                println!(
                    "  {:<40} {:<10} r{:<4} {:<9} {}{}",
                    c.name,
                    c.service,
                    c.release.map(|r| r.to_string()).unwrap_or_default(),
                    c.role.as_str(),
                    if c.running { "running" } else { "stopped" },
                    c.health.as_deref().map(|h| format!(" ({h})")).unwrap_or_default()
                );
            }
        }
        Ok::<u8, slipway::Error>(0)
    };
    run.await.unwrap_or_else(|e| output::report_error(&e))
}

/// Run `slipway history`.
pub async fn history(args: HistoryArgs) -> u8 {
    let run = async {
        let project = args.target.project()?;
        let list = super::kubernetes::deployer(&args.target).await?.history(&project).await?;
        for r in &list {
            if args.json {
                output::json_line(&serde_json::json!({
                    "id": r.id, "version": r.version, "who": r.who, "when": r.when, "outcome": r.outcome,
                    "parent": r.parent, "rollback_of": r.rollback_of, "services": r.services,
                }));
            } else {
                println!(
                    "{:>4}  {}  {:<12} {:<20} {}{}",
                    r.id,
                    r.when.format("%Y-%m-%d %H:%M:%S"),
                    r.version.as_deref().unwrap_or("-"),
                    r.who,
                    outcome(&r.outcome),
                    r.rollback_of.map(|p| format!(" (rollback to {p})")).unwrap_or_default()
                );
            }
        }
        Ok::<u8, slipway::Error>(0)
    };
    run.await.unwrap_or_else(|e| output::report_error(&e))
}

/// Run `slipway rollback`.
pub async fn rollback(args: RollbackArgs) -> u8 {
    let run = async {
        let project = args.target.project()?;
        let to = match &args.to {
            Some(s) => Some(s.parse::<ReleaseId>().map_err(|_| {
                slipway::Error::from(slipway::deploy::DeployError::Invalid(format!("--to {s}: not a release id")))
            })?),
            None => None,
        };
        let progress = Progress::default();
        let opts = cancellable_options(&args.request.request(None), &project, &progress)?;
        let out = match super::kubernetes::deployer(&args.target).await?.rollback(&project, to, &opts, &progress).await
        {
            Ok(out) => out,
            Err(e) => {
                if args.json {
                    output::failure_json(&project, &e);
                }
                return Err(e);
            }
        };
        if args.json {
            output::json_line(&serde_json::json!({ "project": project, "release": out.release }));
        } else if let Some(r) = &out.release {
            println!("{project}: release {} deployed (rollback to {})", r.id, r.rollback_of.map(|i| i.0).unwrap_or(0));
        } else {
            println!("{project}: nothing to do (already running that release)");
        }
        Ok::<u8, slipway::Error>(0)
    };
    run.await.unwrap_or_else(|e| output::report_error(&e))
}

/// Run `slipway prune`.
pub async fn prune(target: &Target, retain: usize, json: bool) -> u8 {
    let run = async {
        let project = target.project()?;
        if target.is_kubernetes() {
            return super::kubernetes::prune(target, &project, retain, json).await;
        }
        if super::swarm::wanted(target, None) {
            return super::swarm::prune(target, &project, retain, json).await;
        }
        let report = target.host().await?.prune(&project, retain).await?;
        if json {
            output::json_line(&serde_json::to_value(&report).unwrap_or_default());
        } else {
            println!(
                "{project}: removed {} containers, {} images, {} networks",
                report.containers.len(),
                report.images.len(),
                report.networks.len()
            );
        }
        Ok::<u8, slipway::Error>(0)
    };
    run.await.unwrap_or_else(|e| output::report_error(&e))
}
