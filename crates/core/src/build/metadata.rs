//! Build metadata turned into the OCI annotation labels
//! (`org.opencontainers.image.{revision,version,created,source}`), and the reproducible
//! timestamp rule (`SOURCE_DATE_EPOCH`, else 0).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};

/// Label key of the source revision (git SHA).
pub const LABEL_REVISION: &str = "org.opencontainers.image.revision";
/// Label key of the version.
pub const LABEL_VERSION: &str = "org.opencontainers.image.version";
/// Label key of the creation time (RFC 3339).
pub const LABEL_CREATED: &str = "org.opencontainers.image.created";
/// Label key of the source repository URL.
pub const LABEL_SOURCE: &str = "org.opencontainers.image.source";

/// What the OCI annotation labels say about a build. Empty fields produce no label.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BuildMetadata {
    /// The git commit SHA.
    pub revision: Option<String>,
    /// The version (`1.4.2`, or a tag).
    pub version: Option<String>,
    /// Creation time, RFC 3339.
    pub created: Option<String>,
    /// The source repository URL.
    pub source: Option<String>,
}

impl BuildMetadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }
    /// Set the revision.
    pub fn revision(mut self, sha: impl Into<String>) -> Self {
        self.revision = Some(sha.into());
        self
    }
    /// Set the version.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }
    /// Set the creation time.
    pub fn created(mut self, created: impl Into<String>) -> Self {
        self.created = Some(created.into());
        self
    }
    /// Set the source URL.
    pub fn source(mut self, url: impl Into<String>) -> Self {
        self.source = Some(url.into());
        self
    }

    /// Fill the revision and source from the git checkout at `dir` (when it is one) and the
    /// creation time from [`source_date`] (or now when `SOURCE_DATE_EPOCH` is unset).
    /// Fields already set are kept.
    pub async fn fill_from_git(mut self, dir: &Path) -> Self {
        if self.revision.is_none() {
            self.revision = git(dir, &["rev-parse", "HEAD"]).await;
        }
        if self.source.is_none() {
            self.source = git(dir, &["config", "--get", "remote.origin.url"]).await.map(|u| strip_credentials(&u));
        }
        if self.created.is_none() {
            let when = source_date_epoch().map(epoch_to_time).unwrap_or_else(Utc::now);
            self.created = Some(rfc3339(when));
        }
        self
    }

    /// The labels, sorted by key.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in [
            (LABEL_REVISION, &self.revision),
            (LABEL_VERSION, &self.version),
            (LABEL_CREATED, &self.created),
            (LABEL_SOURCE, &self.source),
        ] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                out.insert(k.to_string(), v.clone());
            }
        }
        out
    }
}

/// `SOURCE_DATE_EPOCH` when set to a valid number of seconds.
pub fn source_date_epoch() -> Option<i64> {
    std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.trim().parse().ok())
}

/// The reproducible timestamp: `SOURCE_DATE_EPOCH`, else 0 (1970-01-01T00:00:00Z).
pub fn source_date() -> i64 {
    source_date_epoch().unwrap_or(0).max(0)
}

/// Seconds since the epoch as a UTC time (0 when out of range).
pub fn epoch_to_time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// RFC 3339 with seconds precision and `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = tokio::process::Command::new("git").arg("-C").arg(dir).args(args).output().await.ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Remove `user:password@` from a URL so credentials never land in a label.
fn strip_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_skip_empty_and_sort() {
        let m = BuildMetadata::new().revision("abc").version("").source("https://x/y");
        let l = m.labels();
        assert_eq!(l.keys().collect::<Vec<_>>(), [LABEL_REVISION, LABEL_SOURCE]);
    }

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(strip_credentials("https://u:secret@example.com/r.git"), "https://example.com/r.git");
        assert_eq!(strip_credentials("git@example.com:r.git"), "git@example.com:r.git");
    }

    #[test]
    fn epoch_formats() {
        assert_eq!(rfc3339(epoch_to_time(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(epoch_to_time(1700000000)), "2023-11-14T22:13:20Z");
    }
}
