//! The reference grammar of Docker Engine 20.10 (`github.com/docker/distribution/reference` v2.8,
//! `ParseNormalizedNamed`), written as small validators: registry host, path component, tag, digest,
//! and the split between registry and repository.
//!
//! Newer Docker clients (distribution/reference >= 0.5) also accept IPv6 literals (`[::1]:5000`)
//! and a first component with uppercase letters as a registry; the engine these references are
//! deployed to refuses both, so slipway follows the engine (see `docs/rooms/foundation.md`).

use crate::digest::Digest;

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";
/// The legacy Hub name Docker rewrites to [`DOCKER_HUB`].
pub const LEGACY_DOCKER_HUB: &str = "index.docker.io";
/// The namespace of Hub's official images (`redis` -> `library/redis`).
pub const OFFICIAL_NAMESPACE: &str = "library";
/// Longest `registry/repository` Docker accepts, counted on the normalised name.
pub const NAME_TOTAL_MAX: usize = 255;
/// Longest tag Docker accepts.
pub const TAG_MAX: usize = 128;

/// Docker's `splitDockerDomain`: the first component is a registry when it contains `.` or `:` or
/// is `localhost`; `index.docker.io` becomes `docker.io`; Hub names without a namespace get `library/`.
pub(crate) fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut remote) = match name.split_once('/') {
        Some((first, rest)) if looks_like_registry(first) => (first.to_string(), rest.to_string()),
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    if domain == LEGACY_DOCKER_HUB {
        domain = DOCKER_HUB.to_string();
    }
    if domain == DOCKER_HUB && !remote.contains('/') {
        remote = format!("{OFFICIAL_NAMESPACE}/{remote}");
    }
    (domain, remote)
}

/// Whether Docker reads `first` (the text before the first `/`) as a registry host.
pub(crate) fn looks_like_registry(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost"
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// One repository path component: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
pub(crate) fn is_valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

/// Why a registry host is not valid, or `None` when it is.
/// Grammar: `label(.label)*(:port)?`, labels `[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?`.
pub(crate) fn registry_problem(d: &str) -> Option<&'static str> {
    if d.starts_with('[') {
        return Some("IPv6 address literals are not accepted as registry hosts by Docker Engine 20.10; use a host name such as localhost");
    }
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Some("the registry port must be digits");
        }
    }
    let labels_ok = !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        });
    (!labels_ok).then_some("the registry host must be DNS labels (letters, digits, inner '-') separated by '.'")
}

/// Whether `t` is a valid tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= TAG_MAX
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'_' || *x == b'.' || *x == b'-')
}

/// A 64-character lowercase hex string: Docker refuses it as a whole reference (it looks like an image ID).
pub(crate) fn is_64_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A digest inside a reference: only the algorithms the engine knows (sha256, sha384, sha512),
/// with their exact lowercase hex length.
pub(crate) fn parse_ref_digest(d: &str) -> Option<Digest> {
    let digest = Digest::parse(d).ok()?;
    matches!(digest.algorithm(), "sha256" | "sha384" | "sha512").then_some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components() {
        for ok in ["a", "a0", "a.b", "a_b", "a__b", "a-b", "a---b", "0"] {
            assert!(is_valid_path_component(ok), "{ok}");
        }
        for bad in ["", "A", "a_", "-a", "a-", "a.", "a___b", "a_.b", "a..b", "a-_b", "é"] {
            assert!(!is_valid_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn registries() {
        for ok in ["localhost", "localhost:5000", "127.0.0.1:5000", "Registry.Example.com", "a-b.c:0"] {
            assert_eq!(registry_problem(ok), None, "{ok}");
        }
        for bad in ["[::1]:5000", "a_b.com", "-a.com", "a.com:", "a.com:x", ".a", "a..b"] {
            assert!(registry_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn split() {
        assert_eq!(split_domain("redis"), ("docker.io".into(), "library/redis".into()));
        assert_eq!(split_domain("Foo/bar"), ("docker.io".into(), "Foo/bar".into()));
        assert_eq!(split_domain("index.docker.io/x"), ("docker.io".into(), "library/x".into()));
        assert_eq!(split_domain("localhost/x"), ("localhost".into(), "x".into()));
    }

    #[test]
    fn tags() {
        assert!(is_valid_tag("_a"));
        assert!(is_valid_tag(&"t".repeat(128)));
        assert!(!is_valid_tag(&"t".repeat(129)));
        assert!(!is_valid_tag(".a"));
        assert!(!is_valid_tag("-a"));
        assert!(!is_valid_tag("a+b"));
    }
}
