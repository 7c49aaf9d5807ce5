//! `EnvironmentPolicy`: what one environment accepts, as data — an ordered table of rules, the
//! first matching rule decides. A reference carrying a digest is judged by its digest: tag
//! matchers never match a pinned reference, whatever its tag says.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::Refusal;
use super::PolicyError;
use crate::reference::ImageRef;

/// What a rule does with a reference it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Accept the reference.
    Accept,
    /// Refuse the reference.
    Refuse,
}

/// A tag glob (`test-*`), validated when built or deserialised.
#[derive(Clone)]
pub struct TagGlob {
    pattern: String,
    matcher: globset::GlobMatcher,
}

impl TagGlob {
    /// Compile `pattern` (globset syntax: `*`, `?`, `[abc]`, `{a,b}`).
    pub fn new(pattern: &str) -> Result<Self, PolicyError> {
        let glob = globset::Glob::new(pattern).map_err(|e| PolicyError::InvalidPolicy {
            source_name: format!("tag glob {pattern:?}"),
            reason: e.to_string(),
        })?;
        Ok(Self { pattern: pattern.to_string(), matcher: glob.compile_matcher() })
    }
    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
    fn is_match(&self, tag: &str) -> bool {
        self.matcher.is_match(tag)
    }
}

impl fmt::Debug for TagGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TagGlob({:?})", self.pattern)
    }
}

impl PartialEq for TagGlob {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}
impl Eq for TagGlob {}

impl Serialize for TagGlob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.pattern)
    }
}

impl<'de> Deserialize<'de> for TagGlob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pattern = String::deserialize(d)?;
        TagGlob::new(&pattern).map_err(serde::de::Error::custom)
    }
}

/// Which references a rule matches. In files: `match = "pinned"` or `match = { tag-glob = "test-*" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Matcher {
    /// The reference carries a digest.
    Pinned,
    /// An unpinned reference whose tag is a release `vX.Y.Z` (semver, no pre-release part).
    ReleaseVersion,
    /// An unpinned reference whose tag is exactly this.
    Tag(String),
    /// An unpinned reference whose tag starts with this.
    TagPrefix(String),
    /// An unpinned reference whose tag matches this glob.
    TagGlob(TagGlob),
    /// Any unpinned reference.
    AnyTag,
    /// Every reference.
    Any,
}

impl Matcher {
    /// A [`Matcher::TagGlob`], validating the pattern.
    pub fn tag_glob(pattern: &str) -> Result<Self, PolicyError> {
        TagGlob::new(pattern).map(Matcher::TagGlob)
    }

    /// Whether `r` matches. Tag matchers never match a pinned reference.
    pub fn matches(&self, r: &ImageRef) -> bool {
        let unpinned_tag = if r.is_pinned() { None } else { r.tag() };
        match self {
            Matcher::Pinned => r.is_pinned(),
            Matcher::ReleaseVersion => unpinned_tag.is_some_and(is_release_tag),
            Matcher::Tag(t) => unpinned_tag == Some(t.as_str()),
            Matcher::TagPrefix(p) => unpinned_tag.is_some_and(|t| t.starts_with(p.as_str())),
            Matcher::TagGlob(g) => unpinned_tag.is_some_and(|t| g.is_match(t)),
            Matcher::AnyTag => !r.is_pinned(),
            Matcher::Any => true,
        }
    }

    fn describe(&self) -> String {
        match self {
            Matcher::Pinned => "references pinned by digest".to_string(),
            Matcher::ReleaseVersion => "release tags vX.Y.Z".to_string(),
            Matcher::Tag(t) => format!("the tag {t}"),
            Matcher::TagPrefix(p) => format!("tags starting with {p}"),
            Matcher::TagGlob(g) => format!("tags matching {}", g.pattern()),
            Matcher::AnyTag => "any tag".to_string(),
            Matcher::Any => "any reference".to_string(),
        }
    }
}

/// `vX.Y.Z` with X, Y, Z semver numbers (no leading zeros, no pre-release, no build metadata).
fn is_release_tag(tag: &str) -> bool {
    tag.strip_prefix('v')
        .and_then(|v| semver::Version::parse(v).ok())
        .is_some_and(|v| v.pre.is_empty() && v.build.is_empty())
}

/// One row of an environment's rule table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Rule {
    /// The rule's name, quoted in refusals.
    pub name: String,
    /// Which references it matches.
    #[serde(rename = "match")]
    pub matcher: Matcher,
    /// What it does with them.
    pub action: Action,
    /// Why the rule exists (shown in refusals); defaults to a description of the matcher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What to do instead (shown in refusals); defaults to the environment's `fix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Rule {
    /// A rule accepting what `matcher` matches.
    pub fn accept(name: &str, matcher: Matcher) -> Self {
        Self { name: name.to_string(), matcher, action: Action::Accept, reason: None, fix: None }
    }
    /// A rule refusing what `matcher` matches.
    pub fn refuse(name: &str, matcher: Matcher) -> Self {
        Self { name: name.to_string(), matcher, action: Action::Refuse, reason: None, fix: None }
    }
    /// Set why the rule exists.
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_string());
        self
    }
    /// Set what to do instead.
    pub fn fix(mut self, fix: &str) -> Self {
        self.fix = Some(fix.to_string());
        self
    }
}

/// The name quoted when no rule matched and `otherwise` refused.
pub const OTHERWISE_RULE: &str = "otherwise";

/// What one environment accepts: rules in order, the first match decides, else `otherwise`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EnvironmentPolicy {
    /// The environment's name (the key in a policy file).
    #[serde(skip)]
    pub name: String,
    /// The rule table, in order.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// What happens when no rule matches (default: refuse).
    #[serde(default = "refuse")]
    pub otherwise: Action,
    /// The fix shown with refusals whose rule has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Take a backup of the stack's databases before a deploy changes anything (`backup = true`
    /// in a policy file; on for the built-in `production`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backup: bool,
    /// Whether a caller may skip that backup (`--no-backup`, `backup=False`); default true.
    /// `allow_no_backup = false` in a policy file refuses such a deploy (exit code 3).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub allow_no_backup: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn refuse() -> Action {
    Action::Refuse
}

/// The outcome for one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Accepted by the named rule (or `otherwise`).
    Accepted {
        /// The rule that accepted.
        rule: String,
    },
    /// Refused.
    Refused(Refusal),
}

impl EnvironmentPolicy {
    /// An empty policy named `name` (refuses everything until rules are added).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            rules: Vec::new(),
            otherwise: Action::Refuse,
            fix: None,
            backup: false,
            allow_no_backup: true,
        }
    }
    /// Append a rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
    /// Set what happens when no rule matches.
    pub fn otherwise(mut self, action: Action) -> Self {
        self.otherwise = action;
        self
    }
    /// Set the environment-wide fix shown with refusals.
    pub fn fix(mut self, fix: &str) -> Self {
        self.fix = Some(fix.to_string());
        self
    }

    /// Ask for (or stop asking for) a database backup before every deploy.
    pub fn backup_before_deploy(mut self, on: bool) -> Self {
        self.backup = on;
        self
    }

    /// Allow (or refuse) deploys that skip the backup this policy asks for.
    pub fn allow_no_backup(mut self, allow: bool) -> Self {
        self.allow_no_backup = allow;
        self
    }

    /// Judge one reference.
    pub fn evaluate(&self, r: &ImageRef) -> Verdict {
        let hit = self.rules.iter().find(|rule| rule.matcher.matches(r));
        let (action, name, reason, fix) = match hit {
            Some(rule) => (
                rule.action,
                rule.name.clone(),
                rule.reason.clone().unwrap_or_else(|| rule.matcher.describe()),
                rule.fix.clone(),
            ),
            None => (self.otherwise, OTHERWISE_RULE.to_string(), "no rule matched this reference".to_string(), None),
        };
        match action {
            Action::Accept => Verdict::Accepted { rule: name },
            Action::Refuse => Verdict::Refused(Refusal {
                environment: self.name.clone(),
                reference: r.to_string(),
                rule: name,
                reason,
                fix: fix.or_else(|| self.fix.clone()),
            }),
        }
    }

    /// `Ok(())` when every reference is accepted, else `PolicyError::Refused` listing each refusal.
    pub fn check<'a>(&self, refs: impl IntoIterator<Item = &'a ImageRef>) -> Result<(), PolicyError> {
        let refusals: Vec<Refusal> = refs
            .into_iter()
            .filter_map(|r| match self.evaluate(r) {
                Verdict::Refused(refusal) => Some(refusal),
                Verdict::Accepted { .. } => None,
            })
            .collect();
        if refusals.is_empty() {
            Ok(())
        } else {
            Err(PolicyError::Refused { refusals })
        }
    }
}
