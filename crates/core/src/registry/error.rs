//! The registry room's error enum. Every variant names the registry (or layout), the repository
//! and the operation, so a user can tell what failed where; secrets never appear here.

use crate::digest::Digest;
use crate::error::ErrorKind;

/// Where a registry operation failed: registry host (or `oci:DIR`), repository, operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Registry host or layout.
    pub registry: String,
    /// Repository (empty for layouts).
    pub repository: String,
    /// The operation (`resolve`, `get blob`, `upload blob`, ...).
    pub operation: String,
}

impl Site {
    /// A boxed site (errors keep it boxed to stay small).
    pub fn boxed(
        registry: impl Into<String>,
        repository: impl Into<String>,
        operation: impl Into<String>,
    ) -> Box<Self> {
        Box::new(Self { registry: registry.into(), repository: repository.into(), operation: operation.into() })
    }
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.repository.is_empty() {
            write!(f, "{} ({})", self.registry, self.operation)
        } else {
            write!(f, "{}/{} ({})", self.registry, self.repository, self.operation)
        }
    }
}

/// Errors from the registry room.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The caller's input is wrong (bad reference, bad flag combination, bad glob).
    #[error("invalid input {input:?}: {reason}")]
    InvalidInput {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The manifest, tag or blob does not exist.
    #[error("{at}: {what} not found")]
    NotFound {
        /// Where: registry (or layout), repository, operation.
        at: Box<Site>,
        /// The tag, digest or blob that is missing.
        what: String,
    },
    /// The registry refused the credentials or the access.
    #[error("{at}: access denied ({status}); run `slipway login {}` or check permissions", at.registry)]
    Unauthorized {
        /// Where.
        at: Box<Site>,
        /// The HTTP status (401 or 403).
        status: u16,
    },
    /// Content did not hash to the digest that names it. Nothing was tagged.
    #[error("{at}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Where.
        at: Box<Site>,
        /// The digest asked for.
        expected: Box<Digest>,
        /// The digest of what arrived.
        actual: Box<Digest>,
    },
    /// The registry answered with an error that retrying will not fix.
    #[error("{at}: HTTP {status}: {message}")]
    Http {
        /// Where.
        at: Box<Site>,
        /// The HTTP status.
        status: u16,
        /// The registry's error message (codes and messages from its JSON body).
        message: String,
    },
    /// The registry could not be reached or kept failing after every retry.
    #[error("{at}: failed after {attempts} attempts: {last_error}; is the registry up?")]
    Unavailable {
        /// Where.
        at: Box<Site>,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure (status or connection error).
        last_error: String,
    },
    /// A manifest or index could not be understood.
    #[error("{reference}: invalid manifest: {reason}")]
    InvalidManifest {
        /// The reference.
        reference: String,
        /// Why.
        reason: String,
    },
    /// Credentials could not be read or stored.
    #[error("credentials for {registry}: {reason}")]
    Credentials {
        /// Registry host.
        registry: String,
        /// Why.
        reason: String,
    },
    /// A file or directory operation failed (layouts, config.json, temp files).
    #[error("{path}: {operation} failed: {source}")]
    Io {
        /// The path.
        path: String,
        /// The operation.
        operation: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The Docker engine failed while exporting or loading an image.
    #[error("docker engine: {operation} of {image} failed: {reason}")]
    Engine {
        /// The image.
        image: String,
        /// The operation (`export`, `load`).
        operation: String,
        /// Why.
        reason: String,
    },
    /// TLS or client set-up failed (bad CA file, ...).
    #[error("{registry}: client set-up failed: {reason}")]
    Client {
        /// Registry host.
        registry: String,
        /// Why.
        reason: String,
    },
}

impl RegistryError {
    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::InvalidInput { .. } => ErrorKind::InvalidInput,
            _ => ErrorKind::Failed,
        }
    }

    /// An [`RegistryError::InvalidInput`].
    pub fn invalid(input: impl Into<String>, reason: impl Into<String>) -> Self {
        RegistryError::InvalidInput { input: input.into(), reason: reason.into() }
    }

    /// A [`RegistryError::DigestMismatch`].
    pub fn mismatch(registry: String, repository: &str, operation: &str, expected: Digest, actual: Digest) -> Self {
        RegistryError::DigestMismatch {
            at: Site::boxed(registry, repository, operation),
            expected: Box::new(expected),
            actual: Box::new(actual),
        }
    }

    /// An [`RegistryError::Io`].
    pub fn io(path: impl std::fmt::Display, operation: &str, source: std::io::Error) -> Self {
        RegistryError::Io { path: path.to_string(), operation: operation.to_string(), source }
    }
}
