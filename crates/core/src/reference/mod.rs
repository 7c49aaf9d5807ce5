//! `ImageRef`: an image reference parsed and normalised exactly as the Docker Engine does
//! (`redis` -> `docker.io/library/redis:latest`). The grammar itself lives in [`grammar`].

mod grammar;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use grammar::{
    is_64_hex, is_valid_path_component, looks_like_registry, parse_ref_digest, registry_problem, split_domain,
};
pub use grammar::{is_valid_tag, DOCKER_HUB, LEGACY_DOCKER_HUB, NAME_TOTAL_MAX, OFFICIAL_NAMESPACE, TAG_MAX};

/// The tag Docker adds when a reference names neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";

/// Why a string is not a valid image reference. Each variant names the reference and says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// Empty input.
    #[error("invalid reference: empty string; give an image such as redis:7 or registry.example.com/app:v1.2.3")]
    Empty,
    /// The reference does not follow the grammar.
    #[error("invalid reference {reference:?}: {reason}")]
    Format {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry host is not valid.
    #[error("invalid reference {reference:?}: invalid registry host {registry:?}: {reason}")]
    Registry {
        /// The reference as given.
        reference: String,
        /// The registry part.
        registry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Repository components must be lowercase.
    #[error("invalid reference {0:?}: repository name must be lowercase (only a registry host, before the first '/' and containing '.' or ':', may have capitals)")]
    Uppercase(String),
    /// A bare 64-hex string is refused as a name, as Docker does (it reads as an image ID).
    #[error("invalid reference {0:?}: cannot use a 64-character hexadecimal string as a repository name (it reads as an image ID)")]
    HexName(String),
    /// The normalised `registry/repository` is longer than 255 characters.
    #[error(
        "invalid reference {0:?}: repository name must not be more than 255 characters (counted with the registry)"
    )]
    NameTooLong(String),
    /// The tag is not `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    #[error("invalid reference {reference:?}: invalid tag {tag:?}: a tag is 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'")]
    Tag {
        /// The reference as given.
        reference: String,
        /// The offending tag.
        tag: String,
    },
    /// The digest is malformed or uses an algorithm the engine does not know.
    #[error("invalid reference {reference:?}: invalid digest {digest:?}: use sha256:<64 hex>, sha384:<96 hex> or sha512:<128 hex>, lowercase")]
    Digest {
        /// The reference as given.
        reference: String,
        /// The offending digest.
        digest: String,
    },
}

/// A fully normalised image reference: registry, repository, and a tag and/or digest.
///
/// ```
/// let r = slipway::ImageRef::parse("redis").unwrap();
/// assert_eq!(r.to_string(), "docker.io/library/redis:latest");
/// assert_eq!(r.familiar(), "redis:latest");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// Parse a reference as `docker pull` would, adding `docker.io`, `library/` and `:latest`
    /// (the latter only when neither tag nor digest is given).
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let mut r = Self::parse_name_tag_digest(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Parse without adding a default tag (a repository, or a reference with a digest only).
    pub fn parse_repository_or_ref(s: &str) -> Result<Self, ReferenceError> {
        Self::parse_name_tag_digest(s)
    }

    /// Build from parts, validating each. `registry` must read as a registry host
    /// (contain `.` or `:`, or be `localhost`); `index.docker.io` becomes `docker.io`.
    pub fn from_parts(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<Digest>,
    ) -> Result<Self, ReferenceError> {
        let mut s = format!("{registry}/{repository}");
        if !looks_like_registry(registry) {
            return Err(ReferenceError::Registry {
                reference: s,
                registry: registry.to_string(),
                reason: "a registry host contains '.' or ':' or is localhost".to_string(),
            });
        }
        push_tag_digest(&mut s, tag, digest.as_ref());
        Self::parse_name_tag_digest(&s)
    }

    fn parse_name_tag_digest(s: &str) -> Result<Self, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        // Docker checks the whole input: `<64 hex>` is refused, `<64 hex>:tag` is a valid name.
        if is_64_hex(s) {
            return Err(ReferenceError::HexName(s.to_string()));
        }
        let fmt_err = |reason: &str| ReferenceError::Format { reference: s.to_string(), reason: reason.to_string() };
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let digest = parse_ref_digest(d)
                    .ok_or_else(|| ReferenceError::Digest { reference: s.to_string(), digest: d.to_string() })?;
                (rest, Some(digest))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                if !is_valid_tag(tag) {
                    return Err(ReferenceError::Tag { reference: s.to_string(), tag: tag.to_string() });
                }
                (&rest[..last_slash + i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(fmt_err("missing repository name"));
        }
        let (registry, remote) = split_domain(name);
        if remote.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(s.to_string()));
        }
        if let Some(reason) = registry_problem(&registry) {
            return Err(ReferenceError::Registry { reference: s.to_string(), registry, reason: reason.to_string() });
        }
        if !remote.split('/').all(is_valid_path_component) {
            return Err(fmt_err(
                "invalid repository name: components are [a-z0-9] separated by '.', '_', '__' or dashes, joined by single '/'",
            ));
        }
        if registry.len() + 1 + remote.len() > NAME_TOTAL_MAX {
            return Err(ReferenceError::NameTooLong(s.to_string()));
        }
        Ok(Self { registry, repository: remote, tag, digest })
    }

    /// The registry host (with port), e.g. `docker.io` or `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }
    /// The repository path, e.g. `library/redis`.
    pub fn repository(&self) -> &str {
        &self.repository
    }
    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
    /// Whether a digest pins this reference (a tag, if also present, is then informative only).
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some()
    }
    /// The same reference with another tag (the digest is dropped).
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        Self::from_parts(&self.registry, &self.repository, Some(tag), None)
    }
    /// The same repository pinned to `digest` (the tag is kept).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Self { digest: Some(digest), ..self.clone() }
    }
    /// The same repository pinned to `digest` only (no tag).
    pub fn pinned(&self, digest: Digest) -> Self {
        Self { tag: None, digest: Some(digest), ..self.clone() }
    }
    /// The string to send to a registry as the manifest reference: the digest when present, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }
    /// The short form Docker prints: `redis:latest`, `user/app:1`, `127.0.0.1:5000/app:v1`.
    pub fn familiar(&self) -> String {
        let mut name = if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .filter(|r| !r.contains('/'))
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            self.name()
        };
        push_tag_digest(&mut name, self.tag.as_deref(), self.digest.as_ref());
        name
    }
}

fn push_tag_digest(s: &mut String, tag: Option<&str>, digest: Option<&Digest>) {
    if let Some(t) = tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = digest {
        s.push('@');
        s.push_str(&d.to_string());
    }
}

impl fmt::Display for ImageRef {
    /// The canonical form: `docker.io/library/redis:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        push_tag_digest(&mut s, self.tag.as_deref(), self.digest.as_ref());
        f.write_str(&s)
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageRef({self})")
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ImageRef {
    type Error = ReferenceError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ImageRef> for String {
    fn from(r: ImageRef) -> Self {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        ImageRef::parse(s).unwrap().to_string()
    }

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalises_like_docker() {
        assert_eq!(canon("redis"), "docker.io/library/redis:latest");
        assert_eq!(canon("user/app:1.0"), "docker.io/user/app:1.0");
        assert_eq!(canon("localhost/app"), "localhost/app:latest");
        assert_eq!(canon("localhost:5000"), "docker.io/library/localhost:5000");
        assert_eq!(canon("127.0.0.1:5000/a/b:v1"), "127.0.0.1:5000/a/b:v1");
        assert_eq!(canon("index.docker.io/redis"), "docker.io/library/redis:latest");
        assert_eq!(canon("Registry.Example.com/app"), "Registry.Example.com/app:latest");
        assert_eq!(canon(&format!("{HEX}:v1")), format!("docker.io/library/{HEX}:v1"));
        assert_eq!(ImageRef::parse("docker.io/library/redis:7").unwrap().familiar(), "redis:7");
        assert_eq!(ImageRef::parse("docker.io/library/a/b").unwrap().familiar(), "library/a/b:latest");
    }

    #[test]
    fn tag_and_digest() {
        let r = ImageRef::parse(&format!("app:v1@sha256:{HEX}")).unwrap();
        assert_eq!(r.tag(), Some("v1"));
        assert!(r.is_pinned());
        assert_eq!(r.manifest_reference(), format!("sha256:{HEX}"));
        assert_eq!(r.to_string(), format!("docker.io/library/app:v1@sha256:{HEX}"));
        let only = ImageRef::parse(&format!("app@sha256:{HEX}")).unwrap();
        assert_eq!(only.tag(), None);
        assert_eq!(only.familiar(), format!("app@sha256:{HEX}"));
    }

    #[test]
    fn rejects_invalid() {
        assert!(matches!(ImageRef::parse("Redis"), Err(ReferenceError::Uppercase(_))));
        assert!(matches!(ImageRef::parse("Foo/bar"), Err(ReferenceError::Uppercase(_))));
        assert!(matches!(ImageRef::parse("[::1]:5000/app"), Err(ReferenceError::Registry { .. })));
        assert!(matches!(ImageRef::parse("a_b.com/x"), Err(ReferenceError::Registry { .. })));
        assert!(matches!(ImageRef::parse(HEX), Err(ReferenceError::HexName(_))));
        assert!(matches!(ImageRef::parse(&"x".repeat(238)), Err(ReferenceError::NameTooLong(_))));
        assert!(ImageRef::parse(&"x".repeat(237)).is_ok());
        assert!(ImageRef::parse("a:b:c").is_err());
        assert!(matches!(ImageRef::parse("app:-bad"), Err(ReferenceError::Tag { .. })));
        assert!(matches!(ImageRef::parse("app@sha256:abc"), Err(ReferenceError::Digest { .. })));
        assert!(matches!(ImageRef::parse(&format!("app@md5:{}", &HEX[..32])), Err(ReferenceError::Digest { .. })));
        assert!(matches!(ImageRef::parse(""), Err(ReferenceError::Empty)));
    }

    #[test]
    fn builds_from_parts() {
        let r = ImageRef::from_parts("127.0.0.1:5000", "team/app", Some("v1"), None).unwrap();
        assert_eq!(r.to_string(), "127.0.0.1:5000/team/app:v1");
        assert!(ImageRef::from_parts("notahost", "app", None, None).is_err());
        assert_eq!(r.with_tag("v2").unwrap().tag(), Some("v2"));
        let d = Digest::sha256(b"x");
        assert_eq!(r.pinned(d.clone()).tag(), None);
        assert_eq!(r.with_digest(d).tag(), Some("v1"));
    }

    #[test]
    fn serde_round_trip() {
        let r = ImageRef::parse("redis:7").unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, "\"docker.io/library/redis:7\"");
        assert_eq!(serde_json::from_str::<ImageRef>(&json).unwrap(), r);
    }
}
