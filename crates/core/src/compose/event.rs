//! Progress events and warnings of the compose room. Loading returns warnings as data (the core
//! never prints); callers may forward them as events.

use std::fmt;

use super::error::Location;

/// Something that happened in the compose room.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ComposeEvent {
    /// A warning found while loading a stack.
    Warning {
        /// The warning, as text.
        text: String,
    },
}

/// A warning found while loading: the stack is usable, but the user should look.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ComposeWarning {
    /// A variable without a value and without a default: it was replaced by an empty string.
    UnsetVariable {
        /// The variable.
        variable: String,
        /// Where it was first used.
        at: Location,
    },
    /// A service has both `build:` and `image:`: `build:` is ignored (deploys pull `image:`).
    BuildIgnored {
        /// The service.
        service: String,
        /// Where.
        at: Location,
    },
    /// A key that does not apply to a deploy on a Docker host: read, and ignored for this reason.
    NotApplicable {
        /// The service (empty for a top-level key).
        service: String,
        /// The key path inside the service.
        key: String,
        /// Why it does not apply.
        reason: String,
        /// Where.
        at: Location,
    },
    /// The top-level `version:` key is obsolete and ignored.
    VersionObsolete {
        /// Where.
        at: Location,
    },
}

impl fmt::Display for ComposeWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsetVariable { variable, at } => {
                write!(f, "{at}: the \"{variable}\" variable is not set. Defaulting to a blank string.")
            }
            Self::BuildIgnored { service, at } => {
                write!(f, "{at}: service `{service}` has both `build:` and `image:`; deploys pull `image:` (`slipway build` builds and pushes it)")
            }
            Self::NotApplicable { service, key, reason, at } => {
                write!(f, "{at}: service `{service}`: `{key}` is not applied on a Docker host: {reason}")
            }
            Self::VersionObsolete { at } => write!(f, "{at}: `version` is obsolete and ignored"),
        }
    }
}

impl From<&ComposeWarning> for ComposeEvent {
    fn from(w: &ComposeWarning) -> Self {
        ComposeEvent::Warning { text: w.to_string() }
    }
}
