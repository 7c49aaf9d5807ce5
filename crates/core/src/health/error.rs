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
    /// A probe target is not a URL (`http://`, `postgres://`, `redis://` targets).
    #[error("invalid probe target {target:?}: not a URL: {source}")]
    TargetUrl {
        /// The target as given (secrets removed).
        target: String,
        /// The URL parser's error.
        #[source]
        source: url::ParseError,
    },
    /// A `log://` target's pattern is not a regular expression.
    #[error("invalid probe target {target:?}: invalid pattern: {source}")]
    TargetPattern {
        /// The target as given.
        target: String,
        /// The regex parser's error.
        #[source]
        source: regex::Error,
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
    /// The engine the probes ask (`-H`/`--context`, `host=`/`context=`) cannot be resolved.
    #[error("invalid health option {option}: {source}")]
    Engine {
        /// `--host/--context` or `host/context`.
        option: String,
        /// The engine room's error.
        #[source]
        source: crate::engine::EngineError,
    },
    /// A CA file for HTTPS probes cannot be read.
    #[error("invalid health option {option}: cannot read {}: {source}", path.display())]
    CaFile {
        /// Which option named it (`ca`, `--ca`).
        option: String,
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client for a probe could not be built (bad CA file, TLS setup).
    #[error("cannot set up the HTTP probe for {target}: {reason}")]
    HttpClient {
        /// The probe target.
        target: String,
        /// Why.
        reason: String,
    },
    /// The HTTP client for a probe could not be built: the HTTP library's error.
    #[error("cannot set up the HTTP probe for {target}: {what}: {source}")]
    HttpSetup {
        /// The probe target.
        target: String,
        /// What failed (`the CA is not valid PEM`, `the HTTP client cannot be built`).
        what: &'static str,
        /// The HTTP library's error.
        #[source]
        source: reqwest::Error,
    },
}

impl HealthError {
    /// How a caller should treat this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            HealthError::InvalidTarget { .. }
            | HealthError::TargetUrl { .. }
            | HealthError::TargetPattern { .. }
            | HealthError::InvalidOption { .. }
            | HealthError::CaFile { .. }
            | HealthError::Engine { .. }
            | HealthError::Duration(_) => ErrorKind::InvalidInput,
            HealthError::HttpClient { .. } | HealthError::HttpSetup { .. } => ErrorKind::InvalidInput,
        }
    }

    pub(crate) fn target(target: &str, reason: impl Into<String>) -> Self {
        HealthError::InvalidTarget { target: target.to_string(), reason: reason.into() }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::health::http::HttpProbe;
    use crate::health::parse_target;

    #[test]
    fn target_and_option_errors_keep_their_causes() {
        let e = parse_target("log://worker?pattern=(").unwrap_err();
        assert!(e.source().and_then(|s| s.downcast_ref::<regex::Error>()).is_some(), "{e:?}");
        assert!(e.to_string().starts_with("invalid probe target \"log://worker?pattern=(\": invalid pattern: "), "{e}");
        for bad in ["postgres://[::1", "redis://[nope", "http://[::1"] {
            let e = parse_target(bad).unwrap_err();
            assert!(e.source().and_then(|s| s.downcast_ref::<url::ParseError>()).is_some(), "{bad}: {e:?}");
            assert!(e.to_string().contains(": not a URL: "), "{e}");
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
        }
        let e = HttpProbe::builder("http://x/").ca_file(std::path::Path::new("/nonexistent/ca.pem")).unwrap_err();
        let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(io.map(|io| io.kind()), Some(std::io::ErrorKind::NotFound), "{e:?}");
        assert!(e.to_string().starts_with("invalid health option ca: cannot read /nonexistent/ca.pem: "), "{e}");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
}
