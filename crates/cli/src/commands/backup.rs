//! `slipway backup [...]`, `slipway backup verify BACKUP`, `slipway backup list`,
//! `slipway backup prune`.

use std::path::PathBuf;
use std::time::Duration;

use slipway::backup::{self, BackupDestination, BackupLocation, BackupRef, BackupSource, KeptBackup, RetentionPolicy};
use slipway::NoopObserver;

use crate::output;

const EXAMPLES: &str = "Examples:
  slipway backup -p shop                      # every running PostgreSQL service of project shop
  slipway backup -p shop --service db --json
  slipway backup -f compose.yaml              # the project named by the compose file
  slipway backup -p shop --volume shop_redis-data
  slipway backup -p shop --download ./backups     # kept on the host's volume, and a copy here
  slipway backup verify host:shop_db_norelease_20261122T090501.000Z.json
  slipway backup verify /var/lib/slipway/backups/shop_db_norelease_20261122T090501.000Z.json
  slipway backup list -H ssh://deploy@vps -p shop     # kept on the host, oldest first
  slipway backup prune -H ssh://deploy@vps --keep 7 --younger-than 7d
  slipway backup prune --dir ./backups --keep 3       # a local directory instead";

/// Arguments of `slipway backup`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    take: TakeArgs,
}

/// Options shared by every backup subcommand.
#[derive(clap::Args, Clone)]
struct StoreArgs {
    /// Keep (list, prune) backups in this directory on this machine only, instead of a volume on the engine's host.
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The engine: -H, --context, --tls* (default DOCKER_HOST, a Docker context, else the local socket).
    #[command(flatten)]
    engine: crate::engine_args::EngineArgs,
    /// One JSON object per line.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(clap::Args)]
struct TakeArgs {
    /// Compose file(s) naming the project, as deploy reads them (default: compose.yaml in the current directory).
    #[arg(short = 'f', long = "file")]
    files: Vec<PathBuf>,
    /// Compose project (default: the compose file's `name:`, else $COMPOSE_PROJECT_NAME, else the current directory's name).
    #[arg(short = 'p', long = "project-name", visible_alias = "project")]
    project: Option<String>,
    /// Database service to dump (repeatable; default: every running PostgreSQL service).
    #[arg(long, conflicts_with = "volume")]
    service: Vec<String>,
    /// Named volume to archive instead of a database.
    #[arg(long)]
    volume: Option<String>,
    /// Release id to record in the backup's name and manifest.
    #[arg(long)]
    release: Option<String>,
    /// Also copy the backup into DIR on this machine (it is kept in its `slipway-backups.<stem>` volume on the engine's host either way).
    #[arg(long, value_name = "DIR", conflicts_with = "dir")]
    download: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Restore a PostgreSQL backup into a scratch container and compare per-table row counts.
    Verify {
        /// The backup's manifest (.json) or data file, or `host:NAME.json` in the host's backup volume.
        backup: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the backups kept on the engine's host (with --dir: in that directory), oldest first.
    List {
        /// Only this project's backups.
        #[arg(short = 'p', long = "project-name", visible_alias = "project")]
        project: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove backups beyond retention: keep the last N of each source and any younger than D
    /// (on the engine's host; with --dir: in that directory).
    Prune {
        /// Only this project's backups (on the engine's host).
        #[arg(short = 'p', long = "project-name", visible_alias = "project")]
        project: Option<String>,
        /// How many to keep per source.
        #[arg(long, default_value_t = 7)]
        keep: usize,
        /// Also keep backups younger than this (`36h`, `7d`).
        #[arg(long, value_parser = humantime::parse_duration)]
        younger_than: Option<Duration>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// The project `deploy` would use: `-p`, else the stack's name when `-f` is given or a compose file
/// is in the current directory (its `name:`, `COMPOSE_PROJECT_NAME`, its directory), else
/// [`project_name`].
pub fn project_of(flag: Option<String>, files: &[PathBuf]) -> Result<String, slipway::Error> {
    if let Some(p) = flag {
        return Ok(p);
    }
    let compose_here = std::env::current_dir().ok().and_then(|d| slipway::compose::default_file(&d)).is_some();
    if !files.is_empty() || compose_here {
        return Ok(crate::commands::deploy::load_stack(files, None, None)?.name);
    }
    Ok(project_name(None))
}

/// The project name as Compose picks it: the flag, else `COMPOSE_PROJECT_NAME` (both as given),
/// else the current directory's name normalised by [`slipway::compose::normalise_project_name`].
pub fn project_name(flag: Option<String>) -> String {
    flag.or_else(|| std::env::var("COMPOSE_PROJECT_NAME").ok().filter(|p| !p.is_empty())).unwrap_or_else(|| {
        let dir = std::env::current_dir().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
        slipway::compose::normalise_project_name(&dir.unwrap_or_default())
    })
}

/// Where these flags keep backups: `--dir` (this machine only), else the engine's host.
fn location_of(args: &StoreArgs) -> BackupLocation {
    BackupLocation::from_dir(args.dir.clone())
}

/// A backup's line: where it is on the host (`host:NAME.json`) and/or on this machine.
fn print_kept(json: bool, kept: &KeptBackup) {
    if json {
        output::json_line(&kept.to_json());
    } else {
        let at: Vec<String> =
            kept.host.iter().cloned().chain(kept.local.iter().map(|p| p.display().to_string())).collect();
        let m = &kept.manifest;
        println!("{}\t{}\t{} bytes\t{}", m.source(), at.join(" "), m.size, m.sha256);
    }
}

/// Run `slipway backup`.
pub async fn run(args: Args) -> u8 {
    match run_inner(args).await {
        Ok(()) => 0,
        Err(e) => output::report_error(&e),
    }
}

async fn run_inner(args: Args) -> Result<(), slipway::Error> {
    match args.action {
        None => {
            let take = args.take;
            // The core decides: --dir a local directory only; else the host's volume (and --download DIR).
            let destination = BackupDestination::new(take.store.dir.clone(), take.download.clone())?;
            let source = match take.volume {
                Some(volume) => BackupSource::Volume(volume),
                None => BackupSource::Databases(take.service),
            };
            let docker = crate::engine_args::connect(&take.store.engine).await.map_err(backup::BackupError::from)?;
            let project = project_of(take.project, &take.files)?;
            let kept =
                backup::take_backup(&docker, &destination, &project, &source, take.release.as_deref(), &NoopObserver)
                    .await?;
            for k in &kept {
                print_kept(take.store.json, k);
            }
        }
        Some(Action::Verify { backup: path, store }) => {
            let docker = crate::engine_args::connect(&store.engine).await.map_err(backup::BackupError::from)?;
            let tables = backup::verify_backup(&docker, &BackupRef::parse(&path), &NoopObserver).await?;
            if store.json {
                output::json_line(
                    &serde_json::json!({"backup": path.display().to_string(), "verified": true, "tables": tables}),
                );
            } else {
                println!("verified {}: {} tables, row counts match the manifest", path.display(), tables.len());
            }
        }
        // --dir: that local directory; else the backups kept on the engine's host.
        Some(Action::List { project, store }) => {
            let engine = store.engine.resolve().map_err(backup::BackupError::from)?;
            for k in backup::list_backups(&engine, &location_of(&store), project.as_deref()).await? {
                print_kept(store.json, &k);
            }
        }
        Some(Action::Prune { keep, younger_than, project, store }) => {
            let policy = RetentionPolicy { keep_last: keep, keep_younger_than: younger_than };
            let engine = store.engine.resolve().map_err(backup::BackupError::from)?;
            let location = location_of(&store);
            let removed =
                backup::prune_backups(&engine, &location, policy, chrono::Utc::now(), project.as_deref()).await?;
            for name in removed {
                if store.json {
                    output::json_line(&serde_json::json!({"removed": name}));
                } else {
                    println!("removed {name}");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_comes_from_the_flag_else_the_compose_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("compose.yaml");
        std::fs::write(&file, "name: shop\nservices:\n  db:\n    image: postgres:16\n").unwrap();
        assert_eq!(project_of(None, std::slice::from_ref(&file)).unwrap(), "shop");
        assert_eq!(project_of(Some("other".into()), &[file]).unwrap(), "other");
        let missing = dir.path().join("nope.yaml");
        let err = project_of(None, &[missing]).unwrap_err();
        assert_eq!(err.kind(), slipway::ErrorKind::InvalidInput, "{err}");
    }
}
