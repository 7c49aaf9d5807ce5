//! Progress events of the backup room.

/// Something that happened during a backup or restore.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackupEvent {
    /// A backup started.
    Started {
        /// `project/service` or the volume name.
        source: String,
    },
    /// A backup was written.
    Written {
        /// The backup file.
        file: String,
        /// Its size in bytes.
        size: u64,
    },
    /// A restore started.
    Restoring {
        /// The backup file.
        file: String,
        /// Where it goes (`service db`, `scratch container`, `volume X`).
        into: String,
    },
    /// Old backups were removed by retention.
    Pruned {
        /// The removed files.
        files: Vec<String>,
    },
}
