//! PostgreSQL backups: `pg_dump -Fc` inside the database container, streamed out through the
//! engine into the store; restores with `pg_restore` in one transaction, into the service or into
//! a scratch container started from the same image to verify a backup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use bollard::Docker;
use chrono::Utc;

use super::engine::{self, ServiceContainer};
use super::error::BackupError;
use super::event::BackupEvent;
use super::manifest::{BackupKind, BackupManifest};
use super::store::BackupStore;
use crate::events::{Event, Observer};
use crate::secret::Secret;
use crate::stack::StackSpec;
use crate::wait::wait_until;

/// Exact row counts for every user table, in one query (no `\gexec`, so it works with `psql -c`).
const ROW_COUNTS_SQL: &str = "SELECT n.nspname || '.' || c.relname, \
 (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text \
 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
 WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
 ORDER BY 1";

/// How long a scratch database may take to accept connections.
const SCRATCH_READY_TIMEOUT: Duration = Duration::from_secs(90);

/// Which database service to back up.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresTarget {
    /// The compose project.
    pub project: String,
    /// The database service.
    pub service: String,
    /// The release running now (recorded in the name and manifest).
    pub release: Option<String>,
}

impl PostgresTarget {
    /// A target for `project`/`service`.
    pub fn new(project: impl Into<String>, service: impl Into<String>) -> Self {
        Self { project: project.into(), service: service.into(), release: None }
    }
    /// Record the release that is running.
    pub fn release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self
    }
}

/// Where a restore goes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RestoreTarget {
    /// The running service's database (replaced in one transaction).
    Service {
        /// Project.
        project: String,
        /// Service.
        service: String,
    },
    /// A fresh container from the backup's image, removed afterwards.
    Scratch,
}

/// The credentials a service's environment gives, as the official image reads them.
struct Credentials {
    user: String,
    database: String,
    password: Option<Secret>,
}

impl Credentials {
    async fn of(docker: &Docker, c: &ServiceContainer) -> Result<Self, BackupError> {
        let user = c.env_var("POSTGRES_USER").filter(|u| !u.is_empty()).unwrap_or_else(|| "postgres".into());
        let database = c.env_var("POSTGRES_DB").filter(|d| !d.is_empty()).unwrap_or_else(|| user.clone());
        let password = match (c.env_var("POSTGRES_PASSWORD"), c.env_var("POSTGRES_PASSWORD_FILE")) {
            (Some(p), _) => Some(Secret::new(p)),
            (None, Some(file)) => {
                let bytes = engine::read_file(docker, &c.id, &file).await?;
                Some(Secret::new(String::from_utf8_lossy(&bytes).trim_end_matches(['\n', '\r']).to_string()))
            }
            (None, None) => None,
        };
        Ok(Self { user, database, password })
    }

    /// `PGPASSWORD=...` for the exec environment (never logged).
    fn env(&self) -> Vec<String> {
        self.password.iter().map(|p| format!("PGPASSWORD={}", p.expose())).collect()
    }
}

fn psql_args<'a>(creds: &'a Credentials, host: Option<&'a str>, sql: &'a str) -> Vec<&'a str> {
    let mut args =
        vec!["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t", "-U", &creds.user, "-d", &creds.database];
    if let Some(h) = host {
        args.extend(["-h", h]);
    }
    args.extend(["-c", sql]);
    args
}

async fn row_counts(
    docker: &Docker,
    container: &str,
    creds: &Credentials,
    host: Option<&str>,
) -> Result<BTreeMap<String, u64>, BackupError> {
    let out = engine::exec_ok(docker, container, &psql_args(creds, host, ROW_COUNTS_SQL), &creds.env()).await?;
    let text = String::from_utf8_lossy(&out);
    let mut tables = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (name, count) = line
            .split_once('\t')
            .ok_or_else(|| BackupError::Invalid(format!("unexpected row-count line from psql: {line:?}")))?;
        let count = count
            .trim()
            .parse::<u64>()
            .map_err(|_| BackupError::Invalid(format!("unexpected row count for {name}: {count:?}")))?;
        tables.insert(name.to_string(), count);
    }
    Ok(tables)
}

/// Dump `target`'s database into `store`; returns the manifest and its path.
pub async fn backup_postgres(
    docker: &Docker,
    store: &BackupStore,
    target: &PostgresTarget,
    observer: &dyn Observer,
) -> Result<(BackupManifest, PathBuf), BackupError> {
    let started = Instant::now();
    observer.event(&Event::Backup(BackupEvent::Started { source: format!("{}/{}", target.project, target.service) }));
    let container = engine::service_container(docker, &target.project, &target.service).await?;
    let creds = Credentials::of(docker, &container).await?;
    let version =
        engine::exec_ok(docker, &container.id, &psql_args(&creds, None, "SHOW server_version"), &creds.env()).await?;
    let tables = row_counts(docker, &container.id, &creds, None).await?;
    let stem = BackupStore::stem(&target.project, &target.service, target.release.as_deref(), Utc::now());
    let path = store.prepare(&stem, "dump").await?;
    let dump = ["pg_dump", "-Fc", "--no-password", "-U", &creds.user, "-d", &creds.database];
    let (sha256, size) = engine::exec_to_file(docker, &container.id, &dump, &creds.env(), &path).await?;
    let manifest = BackupManifest {
        kind: BackupKind::Postgres,
        project: target.project.clone(),
        service: Some(target.service.clone()),
        volume: None,
        release: target.release.clone(),
        created: Utc::now(),
        file: format!("{stem}.dump"),
        sha256: sha256.to_string(),
        size,
        database: Some(creds.database.clone()),
        user: Some(creds.user.clone()),
        server_version: Some(String::from_utf8_lossy(&version).trim().to_string()),
        image: Some(container.image.clone()),
        duration_ms: started.elapsed().as_millis() as u64,
        tables,
    };
    let manifest_path = store.write_manifest(&manifest).await?;
    observer.event(&Event::Backup(BackupEvent::Written { file: path.display().to_string(), size }));
    Ok((manifest, manifest_path))
}

/// The outcome of a restore.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct RestoreReport {
    /// Where it went (`service shop/db`, `scratch container`).
    pub into: String,
    /// Row counts per table after the restore.
    pub tables: BTreeMap<String, u64>,
}

/// Restore a PostgreSQL backup (given by its manifest or data file) into `into`. The file's
/// checksum is checked first; a corrupted backup is never applied.
pub async fn restore_postgres(
    docker: &Docker,
    backup: &Path,
    into: &RestoreTarget,
    observer: &dyn Observer,
) -> Result<RestoreReport, BackupError> {
    let (manifest, data) = BackupStore::load(backup).await?;
    if manifest.kind != BackupKind::Postgres {
        return Err(BackupError::Invalid(format!(
            "{} is a {:?} backup, not a PostgreSQL dump",
            backup.display(),
            manifest.kind
        )));
    }
    BackupStore::check_integrity(&manifest, &data).await?;
    match into {
        RestoreTarget::Service { project, service } => {
            observer.event(&Event::Backup(BackupEvent::Restoring {
                file: data.display().to_string(),
                into: format!("service {project}/{service}"),
            }));
            let container = engine::service_container(docker, project, service).await?;
            let creds = Credentials::of(docker, &container).await?;
            let cmd = [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--exit-on-error",
                "--single-transaction",
                "--no-password",
                "-U",
                &creds.user,
                "-d",
                &creds.database,
            ];
            engine::exec_from_file(docker, &container.id, &cmd, &creds.env(), &data).await?;
            let tables = row_counts(docker, &container.id, &creds, None).await?;
            Ok(RestoreReport { into: format!("service {project}/{service}"), tables })
        }
        RestoreTarget::Scratch => {
            observer.event(&Event::Backup(BackupEvent::Restoring {
                file: data.display().to_string(),
                into: "scratch container".into(),
            }));
            let tables = restore_into_scratch(docker, &manifest, &data).await?;
            Ok(RestoreReport { into: "scratch container".into(), tables })
        }
    }
}

async fn restore_into_scratch(
    docker: &Docker,
    manifest: &BackupManifest,
    data: &Path,
) -> Result<BTreeMap<String, u64>, BackupError> {
    let image = manifest
        .image
        .clone()
        .ok_or_else(|| BackupError::Invalid("the manifest names no image to start a scratch database from".into()))?;
    let creds = Credentials {
        user: manifest.user.clone().unwrap_or_else(|| "postgres".into()),
        database: manifest.database.clone().unwrap_or_else(|| "postgres".into()),
        password: Some(Secret::new(hex::encode(rand::random::<[u8; 16]>()))),
    };
    let name = format!("slipway-scratch-{}-{}", manifest.project, hex::encode(rand::random::<[u8; 4]>()));
    let env = vec![
        format!("POSTGRES_USER={}", creds.user),
        format!("POSTGRES_DB={}", creds.database),
        format!("POSTGRES_PASSWORD={}", creds.password.as_ref().map(Secret::expose).unwrap_or_default()),
    ];
    let body = ContainerCreateBody {
        image: Some(image.clone()),
        env: Some(env),
        labels: Some([("dev.slipway.scratch".to_string(), manifest.project.clone())].into()),
        ..Default::default()
    };
    let created = docker
        .create_container(Some(CreateContainerOptionsBuilder::new().name(&name).build()), body)
        .await
        .map_err(BackupError::engine(format!("creating scratch database from {image}")))?;
    let result = scratch_restore_steps(docker, &created.id, &creds, data).await;
    let remove = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
    if let Err(e) = docker.remove_container(&created.id, Some(remove)).await {
        tracing::warn!("could not remove scratch container {name}: {e}");
    }
    result
}

async fn scratch_restore_steps(
    docker: &Docker,
    id: &str,
    creds: &Credentials,
    data: &Path,
) -> Result<BTreeMap<String, u64>, BackupError> {
    docker.start_container(id, None).await.map_err(BackupError::engine("starting scratch database"))?;
    let host = Some("127.0.0.1");
    let probe = psql_args(creds, host, "SELECT 1");
    wait_until(
        "the scratch database to accept connections",
        SCRATCH_READY_TIMEOUT,
        Duration::from_millis(500),
        || async {
            engine::exec_capture(docker, id, &probe, &creds.env()).await.ok().filter(|o| o.code == 0).map(|_| ())
        },
    )
    .await?;
    let cmd = [
        "pg_restore",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--no-password",
        "-h",
        "127.0.0.1",
        "-U",
        &creds.user,
        "-d",
        &creds.database,
    ];
    engine::exec_from_file(docker, id, &cmd, &creds.env(), data).await?;
    row_counts(docker, id, creds, host).await
}

/// Verify a backup: checksum, restore into a scratch container, and compare per-table row
/// counts with the manifest. Returns the restored counts; a difference is an error.
pub async fn verify_postgres(
    docker: &Docker,
    backup: &Path,
    observer: &dyn Observer,
) -> Result<RestoreReport, BackupError> {
    let (manifest, data) = BackupStore::load(backup).await?;
    let report = restore_postgres(docker, backup, &RestoreTarget::Scratch, observer).await?;
    let mut differences = Vec::new();
    let names: std::collections::BTreeSet<&String> = manifest.tables.keys().chain(report.tables.keys()).collect();
    for name in names {
        let (want, got) = (manifest.tables.get(name), report.tables.get(name));
        if want != got {
            let show = |v: Option<&u64>| v.map_or("missing".to_string(), u64::to_string);
            differences.push(format!("{name}: manifest {}, restored {}", show(want), show(got)));
        }
    }
    if !differences.is_empty() {
        return Err(BackupError::VerifyMismatch { path: data, differences: differences.join("; ") });
    }
    Ok(report)
}

/// The services of `stack` that hold a PostgreSQL database: `x-slipway: {backup: postgres}`, or
/// an image whose repository is `postgres`/`postgis` (and not `x-slipway: {backup: false}`).
pub fn postgres_services(stack: &StackSpec) -> Vec<String> {
    stack
        .services
        .values()
        .filter(|s| {
            let setting = s.extensions.get("x-slipway").and_then(|x| x.get("backup"));
            match setting {
                Some(serde_json::Value::Bool(false)) => false,
                Some(serde_json::Value::String(kind)) => kind == "postgres",
                _ => s.image.as_deref().is_some_and(is_postgres_image),
            }
        })
        .map(|s| s.name.clone())
        .collect()
}

/// Whether an image reference names a PostgreSQL image (`postgres`, `postgis`, `postgres-*`).
pub(crate) fn is_postgres_image(image: &str) -> bool {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let repo = last.split(':').next().unwrap_or(last);
    repo == "postgres" || repo == "postgis" || repo.starts_with("postgres-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::ServiceSpec;

    fn svc(name: &str, image: &str, x: Option<serde_json::Value>) -> ServiceSpec {
        let mut s = ServiceSpec { name: name.into(), image: Some(image.into()), ..Default::default() };
        if let Some(x) = x {
            s.extensions.insert("x-slipway".into(), x);
        }
        s
    }

    #[test]
    fn finds_database_services() {
        let mut stack = StackSpec::default();
        for s in [
            svc("db", "postgres:16", None),
            svc("gis", "registry.local:5000/postgis/postgis:3@sha256:aa", None),
            svc("app", "ghcr.io/acme/app:v1.0.0", None),
            svc("custom", "ghcr.io/acme/pg:v1", Some(serde_json::json!({"backup": "postgres"}))),
            svc("skipped", "postgres:16", Some(serde_json::json!({"backup": false}))),
        ] {
            stack.services.insert(s.name.clone(), s);
        }
        assert_eq!(postgres_services(&stack), vec!["custom", "db", "gis"]);
    }
}
