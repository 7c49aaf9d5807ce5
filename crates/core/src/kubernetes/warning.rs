//! `MappingWarning`: a compose key that has no Kubernetes counterpart (dropped) or maps only
//! approximately, with the reason and what to do instead. `--strict` turns them into an error.

use serde::Serialize;

/// How a key fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WarningKind {
    /// Not rendered at all.
    Dropped,
    /// Rendered, with a different meaning in a detail the reason names.
    Approximated,
}

/// One key that did not map as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct MappingWarning {
    /// The service (`None` for a top-level key).
    pub service: Option<String>,
    /// The compose key, e.g. `network_mode` or `volumes[./data:/data]`.
    pub key: String,
    /// Dropped or approximated.
    pub kind: WarningKind,
    /// Why, and what to do instead.
    pub reason: String,
}

impl MappingWarning {
    /// A warning about a service's key.
    pub fn service(service: &str, key: impl Into<String>, kind: WarningKind, reason: impl Into<String>) -> Self {
        MappingWarning { service: Some(service.to_string()), key: key.into(), kind, reason: reason.into() }
    }

    /// A warning about a top-level key.
    pub fn top(key: impl Into<String>, kind: WarningKind, reason: impl Into<String>) -> Self {
        MappingWarning { service: None, key: key.into(), kind, reason: reason.into() }
    }
}

impl std::fmt::Display for MappingWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            WarningKind::Dropped => "not rendered",
            WarningKind::Approximated => "approximated",
        };
        match &self.service {
            Some(s) => write!(f, "service {s}: {}: {what}: {}", self.key, self.reason),
            None => write!(f, "{}: {what}: {}", self.key, self.reason),
        }
    }
}
