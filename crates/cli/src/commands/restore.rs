//! `slipway restore BACKUP [--into SERVICE | --scratch | --volume NAME]`.

use std::path::PathBuf;

use slipway::backup::{self, BackupRef, RestoreRequest};
use slipway::NoopObserver;

use crate::output;

/// Arguments of `slipway restore`.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  slipway restore -p shop --into db BACKUP.json   # replace the service's database (one transaction)
  slipway restore --scratch BACKUP.json           # into a throw-away container, to check it
  slipway restore BACKUP_OF_A_VOLUME.json         # a volume archive back into its volume
  slipway restore --scratch host:shop_db_norelease_20261122T090501.000Z.json   # from the host's backup volume")]
pub struct Args {
    /// The backup's manifest (.json) or data file, or `host:NAME.json` in the host's backup volume.
    backup: PathBuf,
    /// Compose project of the target service (default: the project the backup was taken from).
    #[arg(short = 'p', long = "project-name", visible_alias = "project")]
    project: Option<String>,
    /// Restore a database backup into this service (default: the service it was taken from).
    #[arg(long, conflicts_with = "scratch")]
    into: Option<String>,
    /// Restore a database backup into a scratch container (removed afterwards).
    #[arg(long)]
    scratch: bool,
    /// Restore a volume archive into this volume (default: the volume it was taken from).
    #[arg(long)]
    volume: Option<String>,
    /// The engine: -H, --context, --tls* (default DOCKER_HOST, a Docker context, else the local socket).
    #[command(flatten)]
    engine: crate::engine_args::EngineArgs,
    /// One JSON object.
    #[arg(long)]
    json: bool,
}

/// Run `slipway restore`.
pub async fn run(args: Args) -> u8 {
    match run_inner(args).await {
        Ok(()) => 0,
        Err(e) => output::report_error(&e),
    }
}

async fn run_inner(args: Args) -> Result<(), slipway::Error> {
    let connection = args.engine.resolve().map_err(backup::BackupError::from)?;
    let docker = slipway::engine::connect(&connection).await.map_err(backup::BackupError::from)?;
    let request = RestoreRequest::new(args.into, args.project, args.scratch, args.volume);
    let outcome = backup::restore_backup(&docker, &BackupRef::parse(&args.backup), &request, &NoopObserver).await?;
    if args.json {
        output::json_line(&serde_json::to_value(&outcome).unwrap_or_default());
    } else {
        println!("restored {} into {}", outcome.backup, outcome.into);
    }
    Ok(())
}
