//! The policy room's error enum: bad tag-policy input (`InvalidInput`) and refusals by an
//! environment policy (`PolicyRefused`).

use std::fmt;

use crate::error::ErrorKind;

/// One reference an environment refused: which rule, why, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The environment whose policy refused.
    pub environment: String,
    /// The reference as judged (canonical form).
    pub reference: String,
    /// The name of the rule that refused it.
    pub rule: String,
    /// Why that rule exists.
    pub reason: String,
    /// What to do instead, e.g. "pin vX.Y.Z or a digest".
    pub fix: Option<String>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "environment {:?} refuses {} (rule {:?}: {})",
            self.environment, self.reference, self.rule, self.reason
        )?;
        if let Some(fix) = &self.fix {
            write!(f, "; fix: {fix}")?;
        }
        Ok(())
    }
}

/// Errors from the policy room. Every variant names what it was working on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// One or more references were refused by an environment policy.
    #[error("{}", join(refusals))]
    Refused {
        /// Every refusal, in the order the references were given.
        refusals: Vec<Refusal>,
    },
    /// The release version is not `X.Y.Z` semver (an optional `v` prefix is allowed).
    #[error("invalid release version {version:?}: {reason}; give X.Y.Z or vX.Y.Z, e.g. 1.4.2")]
    InvalidVersion {
        /// The version as given.
        version: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The commit sha is not 7 to 64 hex characters.
    #[error(
        "invalid commit sha {sha:?}: give 7 to 64 hexadecimal characters, e.g. the output of `git rev-parse HEAD`"
    )]
    InvalidSha {
        /// The sha as given.
        sha: String,
    },
    /// The date is not a real `YYYYMMDD` date.
    #[error("invalid date {date:?}: give YYYYMMDD, e.g. 20260131")]
    InvalidDate {
        /// The date as given.
        date: String,
    },
    /// The build event name is unknown.
    #[error("unknown build event {event:?}: use pre-release or release")]
    UnknownEvent {
        /// The event as given.
        event: String,
    },
    /// An option is missing for, or does not apply to, a build event.
    #[error("build event {event}: {problem}")]
    EventOptions {
        /// The event (`pre-release` or `release`).
        event: String,
        /// What is missing or extra, naming the option.
        problem: String,
    },
    /// No policy is defined for this environment.
    #[error("unknown environment {environment:?}: known environments are {}; define others in a policy file", known.join(", "))]
    UnknownEnvironment {
        /// The environment asked for.
        environment: String,
        /// The environments that exist, sorted.
        known: Vec<String>,
    },
    /// A policy definition (file or builder) is not valid.
    #[error("invalid policy {source_name}: {reason}")]
    InvalidPolicy {
        /// Where the policy came from (file path, `builder`, ...).
        source_name: String,
        /// What is wrong, with line and column when the parser knows them.
        reason: String,
    },
    /// A policy file could not be read.
    #[error("cannot read policy file {path}: {source}")]
    ReadPolicy {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn join(refusals: &[Refusal]) -> String {
    refusals.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

impl PolicyError {
    /// How a caller should treat this error: refusals are `PolicyRefused`, everything else is bad input.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PolicyError::Refused { .. } => ErrorKind::PolicyRefused,
            _ => ErrorKind::InvalidInput,
        }
    }

    /// The refusals carried by a `Refused` error (empty for other variants).
    pub fn refusals(&self) -> &[Refusal] {
        match self {
            PolicyError::Refused { refusals } => refusals,
            _ => &[],
        }
    }
}
