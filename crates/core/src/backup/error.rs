//! The backup room's error enum.

use std::path::PathBuf;

use crate::error::ErrorKind;

/// Errors from backups and restores. Each names the project/service/volume or file involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// No running container serves the service.
    #[error("no running container for service {service:?} of project {project:?}: deploy it first")]
    NoContainer {
        /// Project.
        project: String,
        /// Service.
        service: String,
    },
    /// A command inside a container exited non-zero.
    #[error("{what} in container {container} failed with exit code {code}: {stderr}")]
    Command {
        /// What was run (`pg_dump`, `pg_restore`, ...), never with secrets.
        what: String,
        /// The container.
        container: String,
        /// Exit code.
        code: i64,
        /// The last lines of its error output.
        stderr: String,
    },
    /// The Docker Engine API failed.
    #[error("docker engine: {context}: {source}")]
    Engine {
        /// What was being done.
        context: String,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// Reading or writing the backup directory failed.
    #[error("backup file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The backup file does not match the sha256 its manifest records.
    #[error("backup {path} is corrupted: sha256 is {actual}, manifest says {expected}")]
    Corrupted {
        /// The file.
        path: PathBuf,
        /// From the manifest.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// A verification restore gave other row counts than the manifest records.
    #[error("backup {path} failed verification: {differences}")]
    VerifyMismatch {
        /// The file.
        path: PathBuf,
        /// Table by table: `public.users: manifest 3, restored 2`.
        differences: String,
    },
    /// The manifest is missing or not valid JSON.
    #[error("backup manifest {path}: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The request itself is wrong (unknown service, not a PostgreSQL backup, ...).
    #[error("{0}")]
    Invalid(String),
    /// The engine could not be reached.
    #[error(transparent)]
    Connect(#[from] crate::engine::EngineError),
    /// A bounded wait ran out.
    #[error(transparent)]
    Timeout(#[from] crate::wait::WaitTimeout),
}

impl BackupError {
    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BackupError::Invalid(_) | BackupError::Manifest { .. } => ErrorKind::InvalidInput,
            _ => ErrorKind::Failed,
        }
    }

    pub(crate) fn engine(context: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Self {
        let context = context.into();
        move |source| BackupError::Engine { context, source }
    }

    /// An I/O error on `path` (also for the faces' scratch directories).
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| BackupError::Io { path, source }
    }
}
