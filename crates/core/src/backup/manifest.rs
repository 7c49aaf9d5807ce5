//! `BackupManifest`: the small JSON file written beside every backup (what, from where, when,
//! checksum, and for databases the per-table row counts that `verify` compares against).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackupKind {
    /// A `pg_dump` custom-format dump of one database.
    Postgres,
    /// A tar of a named volume's contents.
    Volume,
}

/// The manifest of one backup. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BackupManifest {
    /// What the backup holds.
    pub kind: BackupKind,
    /// The compose project.
    pub project: String,
    /// The service (PostgreSQL backups).
    pub service: Option<String>,
    /// The volume (volume backups).
    pub volume: Option<String>,
    /// The release that was running when the backup was taken, if known.
    pub release: Option<String>,
    /// When the backup finished (UTC).
    pub created: DateTime<Utc>,
    /// The data file's name, relative to the manifest's directory.
    pub file: String,
    /// `sha256:<hex>` of the data file.
    pub sha256: String,
    /// The data file's size in bytes.
    pub size: u64,
    /// The database name (PostgreSQL).
    pub database: Option<String>,
    /// The role the dump was taken as (PostgreSQL).
    pub user: Option<String>,
    /// The server's version (PostgreSQL `server_version`).
    pub server_version: Option<String>,
    /// The image the source container ran, used to start a scratch container for verification.
    pub image: Option<String>,
    /// How long the backup took, in milliseconds.
    pub duration_ms: u64,
    /// Exact row counts per table (`schema.table`), sorted.
    pub tables: BTreeMap<String, u64>,
}

impl BackupManifest {
    /// `project/service` or `volume NAME`, for messages.
    pub fn source(&self) -> String {
        match (&self.service, &self.volume) {
            (Some(s), _) => format!("{}/{}", self.project, s),
            (None, Some(v)) => format!("volume {v}"),
            (None, None) => self.project.clone(),
        }
    }

    /// The group retention works within: backups of the same source.
    pub fn group(&self) -> (String, String) {
        let what = self.service.clone().or_else(|| self.volume.clone()).unwrap_or_default();
        (self.project.clone(), what)
    }
}
