//! `Location`: where an image lives, either a registry reference (`127.0.0.1:5000/app:v1`) or an
//! OCI layout on disk (`oci:DIR`, `oci:DIR:TAG`, `oci:DIR@sha256:...`). Every face parses image
//! arguments through here, so `oci:` means a [`super::Layout`] everywhere.

use std::path::PathBuf;

use super::RegistryError;
use crate::reference::{ImageRef, DEFAULT_TAG};
use crate::Digest;

/// The registry host used in the [`ImageRef`] that stands for a layout reference.
pub const LAYOUT_REGISTRY: &str = "localhost";
/// The repository used in the [`ImageRef`] that stands for a layout reference (layouts have one
/// namespace of tags; the repository part is ignored by [`super::Layout`]).
pub const LAYOUT_REPOSITORY: &str = "oci-layout";

/// A tag or digest inside an OCI layout directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutRef {
    /// The layout directory.
    pub dir: PathBuf,
    /// The tag (`org.opencontainers.image.ref.name`), if any.
    pub tag: Option<String>,
    /// The digest, if any.
    pub digest: Option<Digest>,
}

impl LayoutRef {
    /// The reference to pass to the [`super::Registry`] methods of a layout.
    pub fn image_ref(&self) -> Result<ImageRef, RegistryError> {
        ImageRef::from_parts(LAYOUT_REGISTRY, LAYOUT_REPOSITORY, self.tag.as_deref(), self.digest.clone())
            .map_err(|e| RegistryError::invalid(self.to_string(), e.to_string()))
    }
}

impl std::fmt::Display for LayoutRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oci:{}", self.dir.display())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Where an image lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// In a registry.
    Remote(ImageRef),
    /// In an OCI layout directory.
    Layout(LayoutRef),
}

impl Location {
    /// Parse an image argument; a missing tag becomes `latest` (as `docker pull` does).
    pub fn parse(s: &str) -> Result<Self, RegistryError> {
        Self::parse_inner(s, true)
    }

    /// Parse a repository argument (`ls`, `prune`): no default tag.
    pub fn parse_repository(s: &str) -> Result<Self, RegistryError> {
        Self::parse_inner(s, false)
    }

    fn parse_inner(s: &str, default_tag: bool) -> Result<Self, RegistryError> {
        let Some(rest) = s.strip_prefix("oci:") else {
            let r = if default_tag { ImageRef::parse(s) } else { ImageRef::parse_repository_or_ref(s) };
            return r.map(Location::Remote).map_err(|e| RegistryError::invalid(s, e.to_string()));
        };
        let (path_tag, digest) = match rest.split_once('@') {
            Some((p, d)) => (p, Some(Digest::parse(d).map_err(|e| RegistryError::invalid(s, e.to_string()))?)),
            None => (rest, None),
        };
        let last_slash = path_tag.rfind('/').map_or(0, |i| i + 1);
        let (dir, tag) = match path_tag[last_slash..].rfind(':') {
            Some(i) => (&path_tag[..last_slash + i], Some(path_tag[last_slash + i + 1..].to_string())),
            None => (path_tag, None),
        };
        if dir.is_empty() {
            return Err(RegistryError::invalid(s, "expected oci:DIR[:TAG] or oci:DIR@DIGEST"));
        }
        let tag = match tag {
            Some(t) if t.is_empty() => return Err(RegistryError::invalid(s, "empty tag")),
            Some(t) => Some(t),
            None if digest.is_none() && default_tag => Some(DEFAULT_TAG.to_string()),
            None => None,
        };
        let lr = LayoutRef { dir: PathBuf::from(dir), tag, digest };
        lr.image_ref()?;
        Ok(Location::Layout(lr))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Remote(r) => write!(f, "{r}"),
            Location::Layout(l) => write!(f, "{l}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_layouts_and_remotes() {
        let Location::Layout(l) = Location::parse("oci:/tmp/x:v1").unwrap() else { panic!() };
        assert_eq!((l.dir.to_str().unwrap(), l.tag.as_deref()), ("/tmp/x", Some("v1")));
        let Location::Layout(l) = Location::parse("oci:./out").unwrap() else { panic!() };
        assert_eq!((l.dir.to_str().unwrap(), l.tag.as_deref()), ("./out", Some("latest")));
        let d = Digest::sha256(b"a");
        let Location::Layout(l) = Location::parse(&format!("oci:/a:b/c@{d}")).unwrap() else { panic!() };
        assert_eq!((l.dir.to_str().unwrap(), l.tag, l.digest), ("/a:b/c", None, Some(d)));
        let Location::Layout(l) = Location::parse_repository("oci:/srv/img").unwrap() else { panic!() };
        assert_eq!(l.tag, None);
        assert!(matches!(Location::parse("127.0.0.1:5000/app:v1").unwrap(), Location::Remote(_)));
        assert!(Location::parse("oci:").is_err());
        assert!(Location::parse("oci:/x:bad tag").is_err());
        assert!(Location::parse("Bad/Upper").is_err());
    }
}
