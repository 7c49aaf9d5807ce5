//! The health room's error enum. An unhealthy thing is never an error (that is an `Outcome`):
//! errors are for probes that cannot be built or run (bad target, bad option, no engine).

use crate::duration::DurationError;
use crate::error::ErrorKind;

/// Errors from the health room. Every variant names what it was working on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HealthError {
    /// A probe target string could not be understood.
    #[error("invalid probe target {target:?}: {reason}")]
    InvalidTarget {
        /// The target as given (secrets removed).
        target: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A probe or check option is not valid.
    #[error("invalid health option {option}: {reason}")]
    InvalidOption {
        /// Which option.
        option: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A duration could not be read.
    #[error(transparent)]
    Duration(#[from] DurationError),
    /// The HTTP client for a probe could not be built (bad CA file, TLS setup).
    #[error("cannot set up the HTTP probe for {target}: {reason}")]
    HttpClient {
        /// The probe target.
        target: String,
        /// Why.
        reason: String,
    },
}

impl HealthError {
    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            HealthError::InvalidTarget { .. } | HealthError::InvalidOption { .. } | HealthError::Duration(_) => {
                ErrorKind::InvalidInput
            }
            HealthError::HttpClient { .. } => ErrorKind::InvalidInput,
        }
    }

    pub(crate) fn target(target: &str, reason: impl Into<String>) -> Self {
        HealthError::InvalidTarget { target: target.to_string(), reason: reason.into() }
    }
}
