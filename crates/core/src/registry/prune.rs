//! `prune`: delete tags matching a pattern beyond the newest N, never deleting a digest that a
//! protected tag, a kept tag or any other remaining tag still points at (deleting a manifest by
//! digest removes every tag on it). A dry run unless `apply` is set.
//!
//! Order: when every matching tag follows a `...YYYYMMDD-N` sequence (`test-20250101-3`), by that
//! sequence; otherwise by the image config's `created` time (then by name).

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use globset::{Glob, GlobMatcher};
use regex::Regex;

use super::manifest::{self, ManifestContent};
use super::{Registry, RegistryError, RegistryEvent};
use crate::digest::Digest;
use crate::events::{Event, Observer};
use crate::ImageRef;

/// Tags protected whatever the rules say: `vX.Y.Z` (with optional pre-release) and `staging-latest`.
pub const DEFAULT_PROTECTED: &[&str] = &["v[0-9]*.[0-9]*.[0-9]*", "staging-latest"];

/// What to prune.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PruneRules {
    /// Keep this many of the newest matching tags.
    pub keep: usize,
    /// Glob selecting the tags subject to pruning.
    pub matching: String,
    /// Extra globs of protected tags (added to [`DEFAULT_PROTECTED`]).
    pub protect: Vec<String>,
}

impl PruneRules {
    /// Rules keeping `keep` newest tags among those matching `matching`.
    pub fn new(keep: usize, matching: &str) -> Self {
        Self { keep, matching: matching.to_string(), protect: Vec::new() }
    }
    /// Add a protected-tag glob.
    pub fn protect(mut self, glob: &str) -> Self {
        self.protect.push(glob.to_string());
        self
    }
}

/// What prune did (or would do).
#[derive(Debug, Clone, Default, serde::Serialize)]
#[non_exhaustive]
pub struct PruneOutcome {
    /// Tags deleted (or to delete in a dry run), oldest first, with their digest.
    pub deleted: Vec<(String, Digest)>,
    /// Matching tags kept as the newest N.
    pub kept: Vec<String>,
    /// Tags beyond N left alone because another remaining tag shares their digest.
    pub shared: Vec<String>,
    /// Whether the deletes were applied.
    pub applied: bool,
}

fn glob(pattern: &str) -> Result<GlobMatcher, RegistryError> {
    Glob::new(pattern).map(|g| g.compile_matcher()).map_err(|e| RegistryError::invalid(pattern, e.to_string()))
}

fn sequence_key(tag: &str) -> Option<(u64, u64)> {
    static RE: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"(?:^|-)(\d{8})-(\d+)$").ok()).as_ref()?;
    let c = re.captures(tag)?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?))
}

async fn created_time(reg: &dyn Registry, reference: &ImageRef) -> Result<String, RegistryError> {
    let raw = reg.get_manifest(reference).await?;
    let config = match manifest::parse(&reference.to_string(), &raw)? {
        ManifestContent::Image { config, .. } => config,
        // An index: use its first child's config.
        ManifestContent::Index { manifests } => match manifests.first() {
            Some(child) => {
                let raw = reg.get_manifest(&reference.pinned(child.digest.clone())).await?;
                match manifest::parse(&reference.to_string(), &raw)? {
                    ManifestContent::Image { config, .. } => config,
                    ManifestContent::Index { .. } => return Ok(String::new()),
                }
            }
            None => return Ok(String::new()),
        },
    };
    let mut stream = reg.get_blob(reference.repository(), &config.digest).await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk?);
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    // RFC 3339 strings in UTC sort lexically well enough for ordering.
    Ok(v.get("created").and_then(|c| c.as_str()).unwrap_or_default().to_string())
}

/// Prune `repository` (a reference whose tag is ignored) by `rules`; deletes only when `apply`.
pub async fn prune(
    reg: &dyn Registry,
    repository: &ImageRef,
    rules: &PruneRules,
    apply: bool,
    observer: &dyn Observer,
) -> Result<PruneOutcome, RegistryError> {
    let matcher = glob(&rules.matching)?;
    let protect: Vec<GlobMatcher> = DEFAULT_PROTECTED
        .iter()
        .map(|p| p.to_string())
        .chain(rules.protect.iter().cloned())
        .map(|p| glob(&p))
        .collect::<Result<_, _>>()?;
    let tags = reg.list_tags(repository.repository()).await?;
    let tag_ref = |t: &str| repository.with_tag(t).map_err(|e| RegistryError::invalid(t, e.to_string()));
    let mut candidates: Vec<String> = tags
        .iter()
        .filter(|t| matcher.is_match(t.as_str()) && !protect.iter().any(|p| p.is_match(t.as_str())))
        .cloned()
        .collect();
    if candidates.iter().all(|t| sequence_key(t).is_some()) {
        candidates.sort_by_key(|t| (sequence_key(t), t.clone()));
    } else {
        let mut keyed = Vec::new();
        for t in candidates {
            keyed.push((created_time(reg, &tag_ref(&t)?).await?, t));
        }
        keyed.sort();
        candidates = keyed.into_iter().map(|(_, t)| t).collect();
    }
    let split = candidates.len().saturating_sub(rules.keep);
    let (old, newest) = candidates.split_at(split);
    let old: BTreeSet<&String> = old.iter().collect();
    // Digest of every tag, and the digests that must survive (any tag not being deleted).
    let mut digests = BTreeMap::new();
    for t in &tags {
        digests.insert(t.clone(), reg.resolve(&tag_ref(t)?).await?.digest);
    }
    let survivors: BTreeSet<&Digest> =
        tags.iter().filter(|t| !old.contains(t)).filter_map(|t| digests.get(t)).collect();
    let mut outcome = PruneOutcome { kept: newest.to_vec(), applied: apply, ..Default::default() };
    let mut deleted_digests = BTreeSet::new();
    for t in candidates.iter().filter(|t| old.contains(t)) {
        let Some(d) = digests.get(t) else { continue };
        if survivors.contains(d) {
            outcome.shared.push(t.clone());
            continue;
        }
        if apply && deleted_digests.insert(d.clone()) {
            reg.delete_manifest(repository.repository(), d).await?;
        }
        observer.event(&Event::Registry(RegistryEvent::Pruned { tag: t.clone(), digest: d.clone(), applied: apply }));
        outcome.deleted.push((t.clone(), d.clone()));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_tags_order_by_date_then_number() {
        let mut tags = vec!["test-20250102-1", "test-20250101-10", "test-20250101-9"];
        tags.sort_by_key(|t| sequence_key(t));
        assert_eq!(tags, ["test-20250101-9", "test-20250101-10", "test-20250102-1"]);
        assert_eq!(sequence_key("main"), None);
        assert!(glob("v[0-9]*.[0-9]*.[0-9]*").unwrap().is_match("v1.2.3"));
    }
}
