//! `BackupStore`: the backup directory on the host. A backup is two files, the data
//! (`<project>_<source>_<release>_<UTC>.dump|.tar`) and its manifest (same stem, `.json`).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt;

use super::error::BackupError;
use super::manifest::BackupManifest;
use super::retention::{select_for_pruning, RetentionPolicy};
use crate::digest::Sha256Hasher;

/// A directory of backups.
#[derive(Debug, Clone)]
pub struct BackupStore {
    dir: PathBuf,
}

impl BackupStore {
    /// A store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file stem for a new backup: `<project>_<source>_<release>_<YYYYMMDDTHHMMSSZ>`, with
    /// characters outside `[A-Za-z0-9.-]` replaced so the name is safe on any filesystem.
    pub fn stem(project: &str, source: &str, release: Option<&str>, at: DateTime<Utc>) -> String {
        let clean = |s: &str| {
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' })
                .collect::<String>()
        };
        format!(
            "{}_{}_{}_{}",
            clean(project),
            clean(source),
            clean(release.unwrap_or("norelease")),
            at.format("%Y%m%dT%H%M%S%.3fZ")
        )
    }

    /// Create the directory if needed; returns the path of a data file named `stem.ext`.
    pub async fn prepare(&self, stem: &str, ext: &str) -> Result<PathBuf, BackupError> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(BackupError::io(&self.dir))?;
        Ok(self.dir.join(format!("{stem}.{ext}")))
    }

    /// Write `manifest` beside its data file (atomically: temp file then rename).
    pub async fn write_manifest(&self, manifest: &BackupManifest) -> Result<PathBuf, BackupError> {
        let path = self.manifest_path_for(&manifest.file);
        let json = serde_json::to_vec_pretty(manifest)
            .map_err(|e| BackupError::Manifest { path: path.clone(), reason: e.to_string() })?;
        let tmp = path.with_extension("json.tmp");
        tokio::fs::write(&tmp, json).await.map_err(BackupError::io(&tmp))?;
        tokio::fs::rename(&tmp, &path).await.map_err(BackupError::io(&path))?;
        Ok(path)
    }

    fn manifest_path_for(&self, data_file: &str) -> PathBuf {
        let stem = Path::new(data_file).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        self.dir.join(format!("{stem}.json"))
    }

    /// Load a backup given either its data file or its manifest; returns the manifest and the
    /// data file's path.
    pub async fn load(path: &Path) -> Result<(BackupManifest, PathBuf), BackupError> {
        let manifest_path = if path.extension().is_some_and(|e| e == "json") {
            path.to_path_buf()
        } else {
            path.with_extension("json")
        };
        let bytes = tokio::fs::read(&manifest_path).await.map_err(|e| BackupError::Manifest {
            path: manifest_path.clone(),
            reason: format!("cannot read it ({e}); give the backup's .json manifest or its data file beside it"),
        })?;
        let manifest: BackupManifest = serde_json::from_slice(&bytes)
            .map_err(|e| BackupError::Manifest { path: manifest_path.clone(), reason: e.to_string() })?;
        let dir = manifest_path.parent().unwrap_or(Path::new("."));
        let data = dir.join(&manifest.file);
        Ok((manifest, data))
    }

    /// Check the data file against the manifest's sha256 and size.
    pub async fn check_integrity(manifest: &BackupManifest, data: &Path) -> Result<(), BackupError> {
        let mut file = tokio::fs::File::open(data).await.map_err(BackupError::io(data))?;
        let mut hasher = Sha256Hasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).await.map_err(BackupError::io(data))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let actual = hasher.finish().to_string();
        if actual != manifest.sha256 {
            return Err(BackupError::Corrupted { path: data.to_path_buf(), expected: manifest.sha256.clone(), actual });
        }
        Ok(())
    }

    /// Every backup in the store, oldest first (unreadable manifests are skipped with a warning).
    pub async fn list(&self) -> Result<Vec<(PathBuf, BackupManifest)>, BackupError> {
        let mut out = Vec::new();
        let mut entries = match tokio::fs::read_dir(&self.dir).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(BackupError::Io { path: self.dir.clone(), source: e }),
        };
        while let Some(entry) = entries.next_entry().await.map_err(BackupError::io(&self.dir))? {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                match Self::load(&path).await {
                    Ok((m, _)) => out.push((path, m)),
                    Err(e) => tracing::warn!("skipping {}: {e}", path.display()),
                }
            }
        }
        out.sort_by(|a, b| a.1.created.cmp(&b.1.created).then(a.1.file.cmp(&b.1.file)));
        Ok(out)
    }

    /// Apply `policy`: remove pruned backups (data and manifest); returns the removed data files.
    pub async fn prune(&self, policy: RetentionPolicy, now: DateTime<Utc>) -> Result<Vec<PathBuf>, BackupError> {
        self.prune_of(policy, now, None).await
    }

    /// [`BackupStore::prune`] over the backups of `project` only, when given (as on the host).
    pub async fn prune_of(
        &self,
        policy: RetentionPolicy,
        now: DateTime<Utc>,
        project: Option<&str>,
    ) -> Result<Vec<PathBuf>, BackupError> {
        let mut all = self.list().await?;
        all.retain(|(_, m)| project.is_none_or(|p| p == m.project));
        let manifests: Vec<BackupManifest> = all.iter().map(|(_, m)| m.clone()).collect();
        let mut removed = Vec::new();
        for i in select_for_pruning(&manifests, policy, now) {
            let (manifest_path, m) = &all[i];
            let data = self.dir.join(&m.file);
            match tokio::fs::remove_file(&data).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(BackupError::Io { path: data, source: e }),
            }
            tokio::fs::remove_file(manifest_path).await.map_err(BackupError::io(manifest_path))?;
            removed.push(data);
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stems_are_safe_and_sortable() {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 5, 1).unwrap();
        assert_eq!(BackupStore::stem("shop", "db", Some("r/1"), at), "shop_db_r-1_20261122T090501.000Z");
        assert_eq!(BackupStore::stem("shop", "db", None, at), "shop_db_norelease_20261122T090501.000Z");
    }
}

#[cfg(test)]
mod prune_tests {
    use super::*;
    use crate::backup::BackupKind;
    use chrono::TimeZone;

    async fn write(store: &BackupStore, day: u32) -> PathBuf {
        let at = Utc.with_ymd_and_hms(2026, 11, day, 3, 0, 0).unwrap();
        let stem = BackupStore::stem("shop", "db", None, at);
        let data = store.prepare(&stem, "dump").await.unwrap();
        tokio::fs::write(&data, format!("dump {day}")).await.unwrap();
        let m = BackupManifest {
            kind: BackupKind::Postgres,
            project: "shop".into(),
            service: Some("db".into()),
            volume: None,
            release: None,
            created: at,
            file: format!("{stem}.dump"),
            sha256: crate::Digest::sha256(format!("dump {day}").as_bytes()).to_string(),
            size: 6,
            database: None,
            user: None,
            server_version: None,
            image: None,
            duration_ms: 1,
            tables: Default::default(),
        };
        store.write_manifest(&m).await.unwrap();
        data
    }

    #[tokio::test]
    async fn prune_removes_data_and_manifest_of_the_oldest_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = BackupStore::new(dir.path());
        let files = [write(&store, 1).await, write(&store, 2).await, write(&store, 3).await];
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let removed = store.prune(RetentionPolicy { keep_last: 2, keep_younger_than: None }, now).await.unwrap();
        assert_eq!(removed, vec![files[0].clone()]);
        assert!(!files[0].exists() && !files[0].with_extension("json").exists());
        assert!(files[1].exists() && files[2].exists());
        let left: Vec<_> = store.list().await.unwrap().into_iter().map(|(_, m)| m.file).collect();
        assert_eq!(left.len(), 2);
        // Another project's backups are not counted, nor removed.
        assert!(store
            .prune_of(RetentionPolicy { keep_last: 0, keep_younger_than: None }, now, Some("other"))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.list().await.unwrap().len(), 2);
        // A second prune with the same policy removes nothing more.
        assert!(store.prune(RetentionPolicy { keep_last: 2, keep_younger_than: None }, now).await.unwrap().is_empty());
    }
}
