//! The compose room's error enum: every variant says which file, line and key it is about.

use std::fmt;
use std::path::PathBuf;

use crate::error::ErrorKind;

/// Where in which compose file something was found: file, 1-based line and the dotted key path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Location {
    /// The compose (or env) file.
    pub file: PathBuf,
    /// 1-based line; 0 when the line is not known (e.g. a value that only exists after merging).
    pub line: usize,
    /// The key path, e.g. `services.app.ports[0]`.
    pub key: String,
    /// 1-based column; 0 when not known.
    pub column: usize,
}

impl Location {
    /// A location.
    pub fn new(file: impl Into<PathBuf>, line: usize, key: impl Into<String>) -> Self {
        Self { file: file.into(), line, key: key.into(), column: 0 }
    }

    /// The same location with a column.
    pub fn column(mut self, column: usize) -> Self {
        self.column = column;
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column > 0 {
            write!(f, "{}:{}:{}: `{}`", self.file.display(), self.line, self.column, self.key)
        } else {
            write!(f, "{}:{}: `{}`", self.file.display(), self.line, self.key)
        }
    }
}

/// Errors from the compose room. Every variant names the file, the line and the key concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComposeError {
    /// A compose or env file could not be read.
    #[error("cannot read {}: {source}; check the path given with -f/--env-file/env_file", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid YAML (or not a mapping at the top).
    #[error("{}:{line}: invalid YAML: {message}", file.display())]
    Yaml {
        /// The file.
        file: PathBuf,
        /// 1-based line (0 if unknown).
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A key the Compose specification does not have at this position (never silently dropped).
    #[error("{at}: unknown key `{key}`{}; remove it, or move it under an `x-` extension", hint.as_ref().map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default())]
    UnknownKey {
        /// Where.
        at: Location,
        /// The key.
        key: String,
        /// The nearest valid key at this position, when one is close.
        hint: Option<String>,
    },
    /// A valid Compose key that slipway cannot honour, and why.
    #[error("{at}: `{key}` is not supported by slipway: {reason}")]
    UnsupportedKey {
        /// Where.
        at: Location,
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Several problems of one project, sorted by file and position (each one of the other variants).
    #[error("{} problems:\n{}", errors.len(), errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Several {
        /// The problems, sorted by file, line and column.
        errors: Vec<ComposeError>,
    },
    /// A value of the wrong type or shape.
    #[error("{at}: invalid value: {message}")]
    InvalidValue {
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A `${...}` expression that is not valid interpolation syntax (write `$$` for a literal `$`).
    /// The value itself is not repeated (it may hold a secret).
    #[error("{at}: invalid interpolation: {message}; write `$$` for a literal `$`")]
    InvalidInterpolation {
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// `${VAR:?msg}` / `${VAR?msg}` with the variable unset (or empty for `:?`).
    #[error("{at}: required variable {variable} is missing a value: {message}")]
    RequiredVariable {
        /// Where.
        at: Location,
        /// The variable.
        variable: String,
        /// The message written in the file.
        message: String,
    },
    /// `depends_on` names a service that does not exist (or is disabled by profiles).
    #[error("{at}: service `{service}` depends on `{dependency}`, which is not defined or not enabled by the selected profiles")]
    MissingDependency {
        /// Where.
        at: Location,
        /// The dependent service.
        service: String,
        /// The missing service.
        dependency: String,
    },
    /// A `depends_on` cycle.
    #[error("{at}: dependency cycle: {}", cycle.join(" -> "))]
    DependencyCycle {
        /// Where (the first service of the cycle).
        at: Location,
        /// The services in the cycle, first repeated at the end.
        cycle: Vec<String>,
    },
    /// Two services (or two mappings) publish the same host port.
    #[error("{at}: service `{service}` publishes host port {port} already published by `{other}`")]
    PortConflict {
        /// Where.
        at: Location,
        /// The service.
        service: String,
        /// The service already holding the port.
        other: String,
        /// The host port.
        port: u16,
    },
    /// A service uses a network that the top-level `networks:` does not declare.
    #[error("{at}: service `{service}` uses network `{network}`, which is not declared under top-level `networks:`")]
    UndeclaredNetwork {
        /// Where.
        at: Location,
        /// The service.
        service: String,
        /// The network key.
        network: String,
    },
    /// A service mounts a named volume that the top-level `volumes:` does not declare.
    #[error("{at}: service `{service}` mounts volume `{volume}`, which is not declared under top-level `volumes:`")]
    UndeclaredVolume {
        /// Where.
        at: Location,
        /// The service.
        service: String,
        /// The volume key.
        volume: String,
    },
    /// `build:` without `image:`: slipway deploys images only.
    #[error("{at}: service `{service}` has `build:` but no `image:`; slipway deploys by pull: build and push the image first (slipway build) and set `image:`")]
    BuildWithoutImage {
        /// Where.
        at: Location,
        /// The service.
        service: String,
    },
    /// A service with neither `image:` nor `build:`.
    #[error("{at}: service `{service}` has no `image:`")]
    MissingImage {
        /// Where.
        at: Location,
        /// The service.
        service: String,
    },
    /// An invalid project name (`name:` or `-p`).
    #[error(
        "invalid project name `{name}`: use lowercase letters, digits, `-` and `_`, starting with a letter or digit"
    )]
    InvalidProjectName {
        /// The name.
        name: String,
    },
    /// A line of an env file that cannot be parsed.
    #[error("{at}: invalid env file line")]
    InvalidEnvFile {
        /// Where (the env file and its line).
        at: Location,
    },
    /// No compose file given and none found in the working directory.
    #[error("no compose file given and none of compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml found in {}", dir.display())]
    NoComposeFile {
        /// The directory searched.
        dir: PathBuf,
    },
}

impl ComposeError {
    /// How a caller should treat this error: unreadable or wrong files are bad input.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }

    /// The location the error is about, when it has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::UnknownKey { at, .. }
            | Self::UnsupportedKey { at, .. }
            | Self::InvalidValue { at, .. }
            | Self::InvalidInterpolation { at, .. }
            | Self::RequiredVariable { at, .. }
            | Self::MissingDependency { at, .. }
            | Self::DependencyCycle { at, .. }
            | Self::PortConflict { at, .. }
            | Self::UndeclaredNetwork { at, .. }
            | Self::UndeclaredVolume { at, .. }
            | Self::BuildWithoutImage { at, .. }
            | Self::MissingImage { at, .. }
            | Self::InvalidEnvFile { at } => Some(at),
            _ => None,
        }
    }

    /// Every problem this error holds (itself, or the list of [`ComposeError::Several`]).
    pub fn problems(&self) -> Vec<&ComposeError> {
        match self {
            Self::Several { errors } => errors.iter().collect(),
            other => vec![other],
        }
    }

    /// One error from a list: the single one, or [`ComposeError::Several`] sorted by position.
    pub fn from_list(mut errors: Vec<ComposeError>) -> Option<ComposeError> {
        let pos = |e: &ComposeError| {
            let at = e.location();
            (at.map(|a| a.file.clone()), e.line(), at.map(|a| a.column).unwrap_or(0))
        };
        errors.sort_by_key(pos);
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(ComposeError::Several { errors }),
        }
    }

    /// The 1-based line the error is about (0 when unknown).
    pub fn line(&self) -> usize {
        match self {
            Self::Yaml { line, .. } => *line,
            Self::Several { errors } => errors.first().map(|e| e.line()).unwrap_or(0),
            _ => self.location().map(|l| l.line).unwrap_or(0),
        }
    }
}
