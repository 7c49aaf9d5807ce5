//! `EnvironmentPolicies`: the named set of environment policies — the built-in `production` and
//! `staging`, plus any a user defines in TOML or JSON (which replace built-ins of the same name).
//!
//! File format (TOML; JSON has the same shape):
//!
//! ```toml
//! [environments.qa]
//! fix = "pin a release candidate or a digest"
//! otherwise = "refuse"                       # when no rule matches (default: refuse)
//! rules = [
//!   { name = "pinned", match = "pinned", action = "accept" },
//!   { name = "candidates", match = { tag-glob = "v*-rc.*" }, action = "accept" },
//!   { name = "no-latest", match = { tag = "latest" }, action = "refuse", reason = "latest moves" },
//! ]
//! ```
//! Matchers: `pinned`, `release-version`, `any-tag`, `any`, `{ tag = "..." }`, `{ tag-prefix = "..." }`,
//! `{ tag-glob = "..." }`. Tag matchers never match a reference that carries a digest.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::environment::{Action, EnvironmentPolicy, Matcher, Rule};
use super::PolicyError;

/// The fix production refusals suggest.
pub const PRODUCTION_FIX: &str = "pin vX.Y.Z or a digest";

/// The built-in `production` policy: accepts `vX.Y.Z` tags and digests only, and asks for a
/// database backup before every deploy.
pub fn production() -> EnvironmentPolicy {
    EnvironmentPolicy::new("production")
        .fix(PRODUCTION_FIX)
        .backup_before_deploy(true)
        .rule(Rule::accept("pinned-by-digest", Matcher::Pinned).reason("a digest names exactly one image"))
        .rule(Rule::accept("release-version", Matcher::ReleaseVersion).reason("a vX.Y.Z release tag"))
        .rule(
            Rule::refuse("no-latest", Matcher::Tag("latest".into()))
                .reason("`latest` moves with every release, so the deployed image is not known"),
        )
        .rule(
            Rule::refuse("no-staging-latest", Matcher::Tag("staging-latest".into()))
                .reason("`staging-latest` moves with every integration build"),
        )
        .rule(
            Rule::refuse("no-test-builds", Matcher::TagPrefix("test-".into()))
                .reason("test-* tags are integration builds, not releases"),
        )
        .rule(
            Rule::refuse("no-commit-builds", Matcher::TagPrefix("sha-".into()))
                .reason("sha-* tags are commit builds, not releases"),
        )
        .rule(
            Rule::refuse("release-versions-only", Matcher::AnyTag)
                .reason("only vX.Y.Z tags and digests go to production"),
        )
}

/// The built-in `staging` policy: accepts everything.
pub fn staging() -> EnvironmentPolicy {
    EnvironmentPolicy::new("staging")
        .rule(Rule::accept("accept-all", Matcher::Any).reason("staging takes any build"))
        .otherwise(Action::Accept)
}

/// A named set of environment policies.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentPolicies {
    /// Policies by environment name (sorted).
    #[serde(default)]
    environments: BTreeMap<String, EnvironmentPolicy>,
}

impl EnvironmentPolicies {
    /// No policies at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The built-in `production` and `staging` policies.
    pub fn builtin() -> Self {
        Self::empty().with(production()).with(staging())
    }

    /// Add `policy`, replacing one of the same name.
    pub fn with(mut self, policy: EnvironmentPolicy) -> Self {
        self.environments.insert(policy.name.clone(), policy);
        self
    }

    /// Add every policy of `other`, replacing those of the same name.
    pub fn merge(mut self, other: EnvironmentPolicies) -> Self {
        self.environments.extend(other.environments);
        self
    }

    /// Parse policies from TOML (see the module docs for the format).
    pub fn from_toml(text: &str, source_name: &str) -> Result<Self, PolicyError> {
        let parsed: Self = toml::from_str(text).map_err(|e| invalid(source_name, e.to_string()))?;
        Ok(parsed.named())
    }

    /// Parse policies from JSON (same shape as TOML).
    pub fn from_json(text: &str, source_name: &str) -> Result<Self, PolicyError> {
        let parsed: Self = serde_json::from_str(text).map_err(|e| invalid(source_name, e.to_string()))?;
        Ok(parsed.named())
    }

    /// Read a policy file: JSON when it ends in `.json`, TOML otherwise.
    pub fn from_file(path: &Path) -> Result<Self, PolicyError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| PolicyError::ReadPolicy { path: shown.clone(), source })?;
        if path.extension().is_some_and(|e| e == "json") {
            Self::from_json(&text, &shown)
        } else {
            Self::from_toml(&text, &shown)
        }
    }

    /// The built-in policies merged with those of `path` when given.
    pub fn builtin_with_file(path: Option<&Path>) -> Result<Self, PolicyError> {
        match path {
            Some(p) => Ok(Self::builtin().merge(Self::from_file(p)?)),
            None => Ok(Self::builtin()),
        }
    }

    /// The policy of `environment`, or `UnknownEnvironment`.
    pub fn get(&self, environment: &str) -> Result<&EnvironmentPolicy, PolicyError> {
        self.environments.get(environment).ok_or_else(|| PolicyError::UnknownEnvironment {
            environment: environment.to_string(),
            known: self.names(),
        })
    }

    /// The environment names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.environments.keys().cloned().collect()
    }

    /// Serialise to TOML (stable order), e.g. to show the built-ins as a starting point.
    pub fn to_toml(&self) -> Result<String, PolicyError> {
        toml::to_string(self).map_err(|e| invalid("serialisation", e.to_string()))
    }

    fn named(mut self) -> Self {
        for (name, policy) in &mut self.environments {
            policy.name = name.clone();
        }
        self
    }
}

fn invalid(source_name: &str, reason: String) -> PolicyError {
    PolicyError::InvalidPolicy { source_name: source_name.to_string(), reason }
}
