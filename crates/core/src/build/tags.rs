//! Which references a build is tagged as: explicit `-t REF`s, or the tag policy's tags for a
//! build event applied to each repository named by `-t`.

use crate::build::BuildError;
use crate::policy::{today_utc, TagPolicy, TagRequest};
use crate::ImageRef;

/// A build event as the faces receive it (`--event pre-release --sha ...`, `--event release
/// --version ...`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EventRequest {
    /// `pre-release` or `release`.
    pub event: String,
    /// Commit sha (pre-release).
    pub sha: Option<String>,
    /// Version (release).
    pub version: Option<String>,
    /// Also move `latest` (release).
    pub latest: bool,
    /// Tags already in the repository (pre-release numbering).
    pub existing: Vec<String>,
}

impl EventRequest {
    /// A request for `event`.
    pub fn new(event: impl Into<String>) -> Self {
        Self { event: event.into(), ..Self::default() }
    }
}

/// The references to tag: without an event, `refs` as given (a missing tag means `latest`);
/// with an event, each of `refs` names a repository and gets every tag the policy gives.
pub fn resolve_tags(refs: &[String], event: Option<&EventRequest>) -> Result<Vec<ImageRef>, BuildError> {
    let parse = |s: &String| ImageRef::parse(s).map_err(|e| BuildError::Invalid(format!("tag {s:?}: {e}")));
    match event {
        None => refs.iter().map(parse).collect(),
        Some(request) => {
            if refs.is_empty() {
                return Err(BuildError::Invalid("--event needs -t REPOSITORY to apply the tags to".into()));
            }
            let tags = policy_tags(request)?;
            let mut out = Vec::new();
            for r in refs {
                let repo =
                    ImageRef::parse_repository_or_ref(r).map_err(|e| BuildError::Invalid(format!("{r}: {e}")))?;
                if repo.tag().is_some() || repo.digest().is_some() {
                    return Err(BuildError::Invalid(format!(
                        "-t {r}: with --event, give a repository without tag; the policy chooses the tags"
                    )));
                }
                for t in &tags {
                    out.push(repo.with_tag(t).map_err(|e| BuildError::Invalid(e.to_string()))?);
                }
            }
            Ok(out)
        }
    }
}

/// The tag policy's tags for `request` (the foundation room's `TagPolicy`).
fn policy_tags(request: &EventRequest) -> Result<Vec<String>, BuildError> {
    let mut r = TagRequest::new(&request.event);
    r.sha = request.sha.clone();
    r.version = request.version.clone();
    r.latest = request.latest;
    r.existing = request.existing.clone();
    let event = r.into_event(today_utc()).map_err(|e| BuildError::Invalid(e.to_string()))?;
    Ok(TagPolicy::new().tags_for(&event))
}

/// Split `KEY=VALUE` (build args, labels).
pub fn parse_key_value(s: &str) -> Result<(String, String), BuildError> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(BuildError::Invalid(format!("{s:?}: expected KEY=VALUE"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_tags_parse() {
        let t = resolve_tags(&["127.0.0.1:5000/app:v1".into(), "app".into()], None).unwrap();
        assert_eq!(t[0].to_string(), "127.0.0.1:5000/app:v1");
        assert_eq!(t[1].tag(), Some("latest"));
        assert!(resolve_tags(&["Bad:x".into()], None).is_err());
    }

    #[test]
    fn event_tags_apply_to_each_repository() {
        let mut e = EventRequest::new("release");
        e.version = Some("v1.4.2".into());
        e.latest = true;
        let t = resolve_tags(&["127.0.0.1:5000/app".into()], Some(&e)).unwrap();
        let t: Vec<String> = t.iter().map(|r| r.to_string()).collect();
        assert_eq!(t, ["127.0.0.1:5000/app:v1.4.2", "127.0.0.1:5000/app:latest"]);
        assert!(resolve_tags(&["127.0.0.1:5000/app:v1".into()], Some(&e)).is_err(), "a tag with --event");
        assert!(resolve_tags(&[], Some(&e)).is_err(), "no repository");
        let mut pre = EventRequest::new("pre-release");
        pre.sha = Some("3f2c1a9e8b7d".into());
        let t = resolve_tags(&["app".into()], Some(&pre)).unwrap();
        assert!(t.iter().any(|r| r.tag() == Some("sha-3f2c1a9")), "{t:?}");
    }

    #[test]
    fn key_values() {
        assert_eq!(parse_key_value("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(parse_key_value("=x").is_err());
        assert!(parse_key_value("nokey").is_err());
    }
}
