//! The build room's error enum.

use std::path::PathBuf;

use crate::error::ErrorKind;
use crate::registry::RegistryError;

/// Errors from the build room. Every variant names what it was working on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The build description itself is wrong (bad mapping, bad option, bad file).
    #[error("invalid build input: {0}")]
    Invalid(String),
    /// A `.dockerignore` pattern could not be parsed.
    #[error("{file}: line {line}: invalid pattern {pattern:?}: {reason}")]
    IgnorePattern {
        /// The ignore file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The pattern as written.
        pattern: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A declarative build file could not be read or parsed.
    #[error("build file {file}: {reason}")]
    BuildFile {
        /// The file.
        file: PathBuf,
        /// What is wrong (with line/column when the parser knows them).
        reason: String,
    },
    /// Reading or writing a local file failed.
    #[error("{action} {path}: {source}; check that the path exists and is readable")]
    Io {
        /// What was being done (`reading`, `walking`, ...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Docker engine refused or failed a request.
    #[error("docker engine: {action}: {message}; is the daemon running and reachable?")]
    Engine {
        /// What was being done.
        action: String,
        /// The engine's message.
        message: String,
    },
    /// A Dockerfile step failed during `docker build`.
    #[error("build step failed: {step}: {message}\nlast output:\n{last_lines}")]
    StepFailed {
        /// The step (`Step 3/5 : RUN make`), or `before the first step`.
        step: String,
        /// The engine's error message.
        message: String,
        /// The last lines the step printed, newline separated.
        last_lines: String,
    },
    /// A registry operation during a build (reading a base image, pushing the result) failed.
    #[error("{action}: {source}")]
    Registry {
        /// What was being done (`reading base image 127.0.0.1:5000/base:1`).
        action: String,
        /// The registry error.
        #[source]
        source: Box<RegistryError>,
    },
    /// The compose file of `slipway build -f` could not be loaded.
    #[error("{0}")]
    Compose(#[source] Box<crate::compose::ComposeError>),
    /// Packing a host program failed (`ldd` missing, program not found, ...).
    #[error("packing {program}: {reason}")]
    Pack {
        /// The program being packed.
        program: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl BuildError {
    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BuildError::Invalid(_)
            | BuildError::IgnorePattern { .. }
            | BuildError::BuildFile { .. }
            | BuildError::Compose(_) => ErrorKind::InvalidInput,
            BuildError::Registry { source, .. } => source.kind(),
            _ => ErrorKind::Failed,
        }
    }

    /// An I/O error with the path it concerns.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BuildError::Io { action, path: path.into(), source }
    }

    /// A registry error with what was being done.
    pub(crate) fn registry(action: impl Into<String>, source: RegistryError) -> Self {
        BuildError::Registry { action: action.into(), source: Box::new(source) }
    }

    /// An engine error from bollard.
    pub(crate) fn engine(action: impl Into<String>, e: impl std::fmt::Display) -> Self {
        BuildError::Engine { action: action.into(), message: e.to_string() }
    }
}
