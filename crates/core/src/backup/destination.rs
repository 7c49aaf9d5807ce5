//! Where backups are kept, decided once for every face (backup room, remote part): by default in
//! a volume on the engine's host ([`super::host_store`]), next to what they protect, so that a
//! throwaway CI runner loses nothing; or in a local directory only (`--dir`, `dir=`). A download
//! directory (`--download DIR`, `download=`) also keeps a copy on the operator's machine. Restore
//! and verify take either a backup kept on the host (`host:<stem>.json`) or a local file
//! ([`BackupRef`]). The CLI and Python both call [`take_backup`], [`list_backups`],
//! [`prune_backups`] and [`BackupRef::fetch`], so the same arguments mean the same thing.

use std::path::{Path, PathBuf};

use bollard::Docker;
use chrono::{DateTime, Utc};

use super::error::BackupError;
use super::host_store::{self, HOST_PREFIX};
use super::manifest::BackupManifest;
use super::retention::RetentionPolicy;
use super::store::BackupStore;
use crate::engine::Connection;
use crate::events::Observer;

/// Where backups are kept (and listed and pruned).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackupLocation {
    /// A volume per backup on the engine's host (`slipway-backups.<stem>`): the default.
    Host,
    /// A directory on this machine only.
    Dir(PathBuf),
}

impl BackupLocation {
    /// `--dir DIR` / `dir=`: that directory; none given: the engine's host.
    pub fn from_dir(dir: Option<PathBuf>) -> Self {
        dir.map_or(BackupLocation::Host, BackupLocation::Dir)
    }
}

/// Where a new backup goes: its [`BackupLocation`], and optionally a copy on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupDestination {
    /// Where it is kept.
    pub location: BackupLocation,
    /// Also copy it into this local directory (only with [`BackupLocation::Host`]).
    pub download: Option<PathBuf>,
}

impl BackupDestination {
    /// From the faces' arguments: `dir` (a local directory only) or, without it, the engine's
    /// host, plus `download` (a copy here). Both together are refused: a backup kept only in a
    /// local directory has nothing to download.
    pub fn new(dir: Option<PathBuf>, download: Option<PathBuf>) -> Result<Self, BackupError> {
        if let (Some(d), Some(w)) = (&dir, &download) {
            return Err(BackupError::Invalid(format!(
                "a directory ({}) and a download ({}) conflict: the directory keeps the backup on this machine only; \
                 give one of them",
                d.display(),
                w.display()
            )));
        }
        Ok(BackupDestination { location: BackupLocation::from_dir(dir), download })
    }
}

impl Default for BackupDestination {
    /// The engine's host, no copy here.
    fn default() -> Self {
        BackupDestination { location: BackupLocation::Host, download: None }
    }
}

/// What to back up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackupSource {
    /// These PostgreSQL services (every running one when empty).
    Databases(Vec<String>),
    /// This named volume.
    Volume(String),
}

/// One backup taken, and where it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeptBackup {
    /// Its manifest.
    pub manifest: BackupManifest,
    /// Its name on the engine's host (`host:<stem>.json`), when kept there.
    pub host: Option<String>,
    /// Its manifest on this machine (in the directory, or the download), when kept here.
    pub local: Option<PathBuf>,
}

impl KeptBackup {
    /// The CLI's `--json` line and Python's dict: the manifest's fields plus `host` and/or
    /// `manifest_path` (each only when kept there).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.manifest).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            if let Some(p) = &self.local {
                o.insert("manifest_path".into(), p.display().to_string().into());
            }
            if let Some(h) = &self.host {
                o.insert("host".into(), h.clone().into());
            }
        }
        v
    }
}

/// Take a backup of `source` of `project` and keep it where `destination` says. With the host as
/// location and no download, the dump passes through a scratch directory that is removed.
pub async fn take_backup(
    docker: &Docker,
    destination: &BackupDestination,
    project: &str,
    source: &BackupSource,
    release: Option<&str>,
    observer: &dyn Observer,
) -> Result<Vec<KeptBackup>, BackupError> {
    let scratch = tempfile::tempdir().map_err(BackupError::io(std::env::temp_dir()))?;
    let (store, here) = match (&destination.location, &destination.download) {
        (BackupLocation::Dir(dir), _) => (BackupStore::new(dir), true),
        (BackupLocation::Host, Some(dir)) => (BackupStore::new(dir), true),
        (BackupLocation::Host, None) => (BackupStore::new(scratch.path()), false),
    };
    let taken = match source {
        BackupSource::Volume(volume) => {
            vec![super::backup_volume(docker, &store, project, volume, release, observer).await?]
        }
        BackupSource::Databases(services) => {
            super::backup_databases(docker, &store, project, services, release, observer).await?
        }
    };
    let mut kept = Vec::with_capacity(taken.len());
    for (manifest, path) in taken {
        let host = match destination.location {
            BackupLocation::Host => Some(host_store::keep_on_host(docker, &path).await?),
            BackupLocation::Dir(_) => None,
        };
        kept.push(KeptBackup { manifest, host, local: here.then_some(path) });
    }
    Ok(kept)
}

/// The backups kept at `location` (of `project` only, when given), oldest first. The engine is
/// reached only for [`BackupLocation::Host`].
pub async fn list_backups(
    engine: &Connection,
    location: &BackupLocation,
    project: Option<&str>,
) -> Result<Vec<KeptBackup>, BackupError> {
    match location {
        BackupLocation::Host => {
            let docker = crate::engine::connect(engine).await?;
            let on_host = host_store::list_on_host(&docker, project).await?;
            Ok(on_host
                .into_iter()
                .map(|b| KeptBackup { manifest: b.manifest, host: Some(b.name), local: None })
                .collect())
        }
        BackupLocation::Dir(dir) => Ok(BackupStore::new(dir)
            .list()
            .await?
            .into_iter()
            .filter(|(_, m)| project.is_none_or(|p| p == m.project))
            .map(|(path, manifest)| KeptBackup { manifest, host: None, local: Some(path) })
            .collect()),
    }
}

/// Apply `policy` to the backups kept at `location` (of `project` only, when given); returns what
/// was removed: `host:` names, or the data files of a directory. The engine is reached only for
/// [`BackupLocation::Host`].
pub async fn prune_backups(
    engine: &Connection,
    location: &BackupLocation,
    policy: RetentionPolicy,
    now: DateTime<Utc>,
    project: Option<&str>,
) -> Result<Vec<String>, BackupError> {
    match location {
        BackupLocation::Host => {
            let docker = crate::engine::connect(engine).await?;
            let removed = host_store::prune_on_host(&docker, policy, now, project).await?;
            Ok(removed.into_iter().map(|b| b.name).collect())
        }
        BackupLocation::Dir(dir) => Ok(BackupStore::new(dir)
            .prune_of(policy, now, project)
            .await?
            .into_iter()
            .map(|p| p.display().to_string())
            .collect()),
    }
}

/// A backup named for restore or verify: `host:<stem>.json` on the engine's host, or a local
/// manifest (`.json`) or data file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackupRef {
    /// Kept on the engine's host: its name with the `host:` prefix.
    Host(String),
    /// A file on this machine.
    Local(PathBuf),
}

impl BackupRef {
    /// `host:NAME.json` names a backup on the engine's host; anything else is a local path.
    pub fn parse(reference: &Path) -> Self {
        match reference.to_str().filter(|s| s.starts_with(HOST_PREFIX)) {
            Some(name) => BackupRef::Host(name.to_string()),
            None => BackupRef::Local(reference.to_path_buf()),
        }
    }

    /// A local manifest path for this backup: itself, or (kept on the host) a copy fetched into
    /// `scratch`.
    pub async fn fetch(&self, docker: &Docker, scratch: &Path) -> Result<PathBuf, BackupError> {
        match self {
            BackupRef::Host(name) => host_store::fetch_from_host(docker, name, scratch).await,
            BackupRef::Local(path) => Ok(path.clone()),
        }
    }
}

impl std::fmt::Display for BackupRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackupRef::Host(name) => f.write_str(name),
            BackupRef::Local(path) => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_the_default_a_directory_is_local_only_and_a_download_is_a_copy() {
        let d = BackupDestination::new(None, None).unwrap();
        assert_eq!(d, BackupDestination { location: BackupLocation::Host, download: None });
        assert_eq!(d, BackupDestination::default());
        let d = BackupDestination::new(None, Some("dl".into())).unwrap();
        assert_eq!((d.location, d.download), (BackupLocation::Host, Some(PathBuf::from("dl"))));
        let d = BackupDestination::new(Some("here".into()), None).unwrap();
        assert_eq!(d.location, BackupLocation::Dir("here".into()));
        let err = BackupDestination::new(Some("here".into()), Some("dl".into())).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("here") && err.to_string().contains("dl"), "{err}");
    }

    #[test]
    fn host_names_and_local_paths_are_told_apart() {
        let name = "host:shop_db_norelease_20261122T090501.000Z.json";
        assert_eq!(BackupRef::parse(Path::new(name)), BackupRef::Host(name.into()));
        assert_eq!(BackupRef::parse(Path::new(name)).to_string(), name);
        let local = Path::new("/b/shop_db.json");
        assert_eq!(BackupRef::parse(local), BackupRef::Local(local.into()));
        assert_eq!(BackupRef::parse(Path::new("./host:x.json")), BackupRef::Local("./host:x.json".into()));
    }

    #[tokio::test]
    async fn a_local_directory_is_listed_and_pruned_without_reaching_the_engine() {
        let dir = tempfile::tempdir().unwrap();
        // An engine that does not exist: a directory must not need it.
        let nowhere = Connection::resolve(&crate::engine::ConnectOptions::host(Some("unix:///nonexistent.sock")))
            .expect("resolves");
        let location = BackupLocation::Dir(dir.path().to_path_buf());
        assert!(list_backups(&nowhere, &location, None).await.unwrap().is_empty());
        let removed = prune_backups(&nowhere, &location, RetentionPolicy::default(), Utc::now(), Some("shop"));
        assert!(removed.await.unwrap().is_empty());
        assert!(list_backups(&nowhere, &BackupLocation::Host, None).await.is_err(), "the host needs the engine");
    }
}
