//! `TagPolicy`: which tags a build event gets.
//!
//! - pre-release (a push to the integration branch): `sha-<7>`, `test-YYYYMMDD-N`, `staging-latest`,
//!   where N is one more than the highest N already present for that day, else 1;
//! - release: `vX.Y.Z` (semver, `v` prefix normalised), plus `latest` only when asked for.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

use super::PolicyError;

/// The tag every pre-release also moves.
pub const STAGING_LATEST: &str = "staging-latest";
/// The tag a release moves when asked to.
pub const LATEST: &str = "latest";
/// How many sha characters `sha-<sha>` keeps.
pub const SHORT_SHA_LEN: usize = 7;

/// Which kind of build event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// A push to the integration branch.
    PreRelease,
    /// A release of version X.Y.Z.
    Release,
}

impl EventKind {
    /// The name used on the command line and in JSON: `pre-release` or `release`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PreRelease => "pre-release",
            EventKind::Release => "release",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pre-release" => Ok(EventKind::PreRelease),
            "release" => Ok(EventKind::Release),
            _ => Err(PolicyError::UnknownEvent { event: s.to_string() }),
        }
    }
}

/// A validated build event: what [`TagPolicy::tags_for`] turns into tags.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildEvent {
    /// A pre-release build of commit `sha` on `date`; `existing` are tags already in the repository.
    PreRelease {
        /// The full or short commit sha, lowercase hex.
        sha: String,
        /// The build day.
        date: NaiveDate,
        /// Tags already present (only `test-<same day>-N` ones matter).
        existing: Vec<String>,
    },
    /// A release of `version`.
    Release {
        /// The semver version (without `v`).
        version: semver::Version,
        /// Whether to also move `latest`.
        latest: bool,
    },
}

impl BuildEvent {
    /// A pre-release event; `sha` must be 7 to 64 hex characters (normalised to lowercase).
    pub fn pre_release(sha: &str, date: NaiveDate, existing: Vec<String>) -> Result<Self, PolicyError> {
        Ok(BuildEvent::PreRelease { sha: parse_sha(sha)?, date, existing })
    }

    /// A release event; `version` is `X.Y.Z` or `vX.Y.Z` (semver, no build metadata).
    pub fn release(version: &str, latest: bool) -> Result<Self, PolicyError> {
        Ok(BuildEvent::Release { version: parse_release_version(version)?, latest })
    }

    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            BuildEvent::PreRelease { .. } => EventKind::PreRelease,
            BuildEvent::Release { .. } => EventKind::Release,
        }
    }
}

/// Loose options as the CLI and Python receive them; [`TagRequest::into_event`] validates them
/// (which options each event needs or refuses) so every face behaves the same.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TagRequest {
    /// `pre-release` or `release`.
    pub event: String,
    /// Commit sha (pre-release only, required).
    pub sha: Option<String>,
    /// `YYYYMMDD` (pre-release only; default: `today`).
    pub date: Option<String>,
    /// Tags already present (pre-release only).
    pub existing: Vec<String>,
    /// `X.Y.Z` or `vX.Y.Z` (release only, required).
    pub version: Option<String>,
    /// Also move `latest` (release only).
    pub latest: bool,
}

impl TagRequest {
    /// A request for `event` with no options set.
    pub fn new(event: &str) -> Self {
        Self { event: event.to_string(), ..Self::default() }
    }

    /// Validate into a [`BuildEvent`]; `today` is the date used when none is given.
    pub fn into_event(self, today: NaiveDate) -> Result<BuildEvent, PolicyError> {
        let kind: EventKind = self.event.parse()?;
        let problem = |p: &str| PolicyError::EventOptions { event: kind.to_string(), problem: p.to_string() };
        match kind {
            EventKind::PreRelease => {
                if self.version.is_some() {
                    return Err(problem("--version / version applies to release events only"));
                }
                if self.latest {
                    return Err(problem("--latest / latest applies to release events only"));
                }
                let sha = self.sha.ok_or_else(|| problem("--sha / sha is required"))?;
                let date = match self.date {
                    Some(d) => parse_date(&d)?,
                    None => today,
                };
                BuildEvent::pre_release(&sha, date, self.existing)
            }
            EventKind::Release => {
                if self.sha.is_some() || self.date.is_some() || !self.existing.is_empty() {
                    return Err(problem("--sha, --date and --existing apply to pre-release events only"));
                }
                let version = self.version.ok_or_else(|| problem("--version / version is required"))?;
                BuildEvent::release(&version, self.latest)
            }
        }
    }
}

/// Turns build events into tags. `TagPolicy::default()` is the policy described in the module docs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TagPolicy {}

impl TagPolicy {
    /// The default policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tags for `event`, in a stable order (most specific first).
    pub fn tags_for(&self, event: &BuildEvent) -> Vec<String> {
        match event {
            BuildEvent::PreRelease { sha, date, existing } => {
                let day = date.format("%Y%m%d").to_string();
                let n = next_build_number(&day, existing);
                vec![format!("sha-{}", &sha[..SHORT_SHA_LEN]), format!("test-{day}-{n}"), STAGING_LATEST.to_string()]
            }
            BuildEvent::Release { version, latest } => {
                let mut tags = vec![format!("v{version}")];
                if *latest {
                    tags.push(LATEST.to_string());
                }
                tags
            }
        }
    }
}

/// One more than the highest N among `test-<day>-N` in `existing`, else 1.
fn next_build_number(day: &str, existing: &[String]) -> u64 {
    let prefix = format!("test-{day}-");
    existing
        .iter()
        .filter_map(|t| t.strip_prefix(&prefix))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|n| n.parse::<u64>().ok())
        .max()
        .map_or(1, |n| n.saturating_add(1))
}

/// Today's date in UTC: the default day of a pre-release build.
pub fn today_utc() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// A commit sha: 7 to 64 hex characters, lowercased.
pub fn parse_sha(sha: &str) -> Result<String, PolicyError> {
    if (SHORT_SHA_LEN..=64).contains(&sha.len()) && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(sha.to_ascii_lowercase())
    } else {
        Err(PolicyError::InvalidSha { sha: sha.to_string() })
    }
}

/// A `YYYYMMDD` date that exists in the calendar.
pub fn parse_date(date: &str) -> Result<NaiveDate, PolicyError> {
    let shaped = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
    shaped
        .then(|| NaiveDate::parse_from_str(date, "%Y%m%d").ok())
        .flatten()
        .ok_or_else(|| PolicyError::InvalidDate { date: date.to_string() })
}

/// A release version: `X.Y.Z` or `vX.Y.Z` semver (pre-release part allowed, build metadata refused
/// because `+` cannot appear in a tag).
pub fn parse_release_version(version: &str) -> Result<semver::Version, PolicyError> {
    let bad = |reason: String| PolicyError::InvalidVersion { version: version.to_string(), reason };
    let bare = version.strip_prefix('v').unwrap_or(version);
    let parsed = semver::Version::parse(bare).map_err(|e| bad(format!("not semver ({e})")))?;
    if !parsed.build.is_empty() {
        return Err(bad("build metadata (+...) cannot appear in an image tag".to_string()));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn pre(sha: &str, date: &str, existing: &[&str]) -> Vec<String> {
        let event = BuildEvent::pre_release(sha, day(date), existing.iter().map(|s| s.to_string()).collect()).unwrap();
        TagPolicy::new().tags_for(&event)
    }

    #[test]
    fn pre_release_tags() {
        assert_eq!(pre("0123456789abcdef", "20260131", &[]), ["sha-0123456", "test-20260131-1", "staging-latest"]);
        assert_eq!(pre("ABCDEF0", "20260131", &[])[0], "sha-abcdef0");
    }

    #[test]
    fn build_number_counts_only_that_day() {
        let existing = ["test-20260131-1", "test-20260131-9", "test-20260131-10", "test-20260130-50", "v1.0.0"];
        assert_eq!(pre("abcdef0", "20260131", &existing)[1], "test-20260131-11");
        assert_eq!(pre("abcdef0", "20260201", &existing)[1], "test-20260201-1");
        // Malformed look-alikes are ignored.
        let odd = ["test-20260131-x", "test-20260131-", "test-20260131-+3", "test-20260131-2a"];
        assert_eq!(pre("abcdef0", "20260131", &odd)[1], "test-20260131-1");
    }

    #[test]
    fn release_tags() {
        let tags = |v: &str, latest| TagPolicy::new().tags_for(&BuildEvent::release(v, latest).unwrap());
        assert_eq!(tags("1.2.3", false), ["v1.2.3"]);
        assert_eq!(tags("v1.2.3", true), ["v1.2.3", "latest"]);
        assert_eq!(tags("2.0.0-rc.1", false), ["v2.0.0-rc.1"]);
    }

    #[test]
    fn refuses_bad_versions() {
        for v in ["1.2", "v1", "1.2.3.4", "01.2.3", "1.2.3+build.5", "vv1.2.3", "V1.2.3", ""] {
            let e = BuildEvent::release(v, false).unwrap_err();
            assert!(matches!(e, PolicyError::InvalidVersion { .. }), "{v}");
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn refuses_bad_sha_and_date() {
        for s in ["abc123", "xyz1234", "", &"a".repeat(65)] {
            assert!(matches!(parse_sha(s), Err(PolicyError::InvalidSha { .. })), "{s}");
        }
        for d in ["2026-01-31", "20261331", "20260230", "2026013", "2026013a", "+2026013"] {
            assert!(matches!(parse_date(d), Err(PolicyError::InvalidDate { .. })), "{d}");
        }
    }

    #[test]
    fn request_validation() {
        let today = day("20260102");
        let mut r = TagRequest::new("pre-release");
        r.sha = Some("abcdef0".into());
        let tags = TagPolicy::new().tags_for(&r.clone().into_event(today).unwrap());
        assert_eq!(tags[1], "test-20260102-1");

        let mut with_version = r.clone();
        with_version.version = Some("1.0.0".into());
        assert!(matches!(with_version.into_event(today), Err(PolicyError::EventOptions { .. })));

        let no_sha = TagRequest::new("pre-release");
        assert!(matches!(no_sha.into_event(today), Err(PolicyError::EventOptions { .. })));

        let mut rel = TagRequest::new("release");
        rel.version = Some("v3.2.1".into());
        rel.latest = true;
        assert_eq!(TagPolicy::new().tags_for(&rel.clone().into_event(today).unwrap()), ["v3.2.1", "latest"]);
        rel.existing = vec!["x".into()];
        assert!(matches!(rel.into_event(today), Err(PolicyError::EventOptions { .. })));

        assert!(matches!(TagRequest::new("nightly").into_event(today), Err(PolicyError::UnknownEvent { .. })));
    }
}
