//! Backups: logical PostgreSQL dumps and named-volume archives taken through the engine before a
//! deploy touches anything, kept under a bounded retention, and restored (or verified in a scratch
//! container) on demand.
//!
//! Everything goes through the Docker Engine API: `pg_dump`/`pg_restore`/`psql` run inside the
//! database container (exec, streamed), and volumes are read and written with the engine's
//! archive endpoints on a created-but-never-started container, so no helper image is needed.
//! By default backups are kept in a volume on the engine's host ([`host_store`]); where, for every
//! face, is decided in `destination.rs`: [`BackupDestination`], [`take_backup`], [`BackupRef`].

mod destination;
mod engine;
mod error;
mod event;
pub mod host_store;
mod manifest;
mod postgres;
mod project;
mod restore;
mod retention;
mod store;
mod volume;

pub use destination::{
    list_backups, prune_backups, take_backup, BackupDestination, BackupLocation, BackupRef, BackupSource, KeptBackup,
};
pub use error::BackupError;
pub use event::BackupEvent;
pub use manifest::{BackupKind, BackupManifest};
pub use postgres::RestoreReport;
pub use postgres::{
    backup_postgres, postgres_services, restore_postgres, verify_postgres, PostgresTarget, RestoreTarget,
};
pub use project::{backup_before_deploy, backup_databases, default_backup_dir};
pub use restore::{restore_backup, verify_backup, RestoreOutcome, RestoreRequest};
pub use retention::{select_for_pruning, RetentionPolicy};
pub use store::BackupStore;
pub use volume::{backup_volume, restore_volume};
