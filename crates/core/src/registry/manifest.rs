//! Reading manifests and indexes without re-serialising them: which blobs and child manifests a
//! manifest names, and its media type when the transport did not say.

use serde::{Deserialize, Serialize};

use super::{RawManifest, RegistryError, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
use crate::digest::Digest;

/// The platform of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `amd64`, `arm64`, ...
    pub architecture: String,
    /// `linux`, ...
    pub os: String,
    /// `v8`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A content descriptor (config, layer or child manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type.
    pub media_type: String,
    /// Digest.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// The platform (index entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyManifest {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// What a manifest or index refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestContent {
    /// An image manifest: its config and layers.
    Image {
        /// The config blob.
        config: Descriptor,
        /// The layers, bottom first.
        layers: Vec<Descriptor>,
    },
    /// An index (manifest list): its child manifests.
    Index {
        /// The children.
        manifests: Vec<Descriptor>,
    },
}

impl ManifestContent {
    /// Every blob an image manifest needs (config first), or none for an index.
    pub fn blobs(&self) -> Vec<Descriptor> {
        match self {
            ManifestContent::Image { config, layers } => {
                std::iter::once(config.clone()).chain(layers.iter().cloned()).collect()
            }
            ManifestContent::Index { .. } => Vec::new(),
        }
    }
}

/// Whether `media_type` is an index or manifest list.
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

/// Parse the parts of a manifest that copy and inspect need.
pub fn parse(reference: &str, manifest: &RawManifest) -> Result<ManifestContent, RegistryError> {
    let any: AnyManifest = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| RegistryError::InvalidManifest { reference: reference.to_string(), reason: e.to_string() })?;
    if let Some(manifests) = any.manifests {
        return Ok(ManifestContent::Index { manifests });
    }
    match (any.config, any.layers) {
        (Some(config), Some(layers)) => Ok(ManifestContent::Image { config, layers }),
        _ => Err(RegistryError::InvalidManifest {
            reference: reference.to_string(),
            reason: format!(
                "neither an image manifest nor an index (media type {})",
                any.media_type.as_deref().unwrap_or(&manifest.media_type)
            ),
        }),
    }
}

/// The media type a manifest declares, or a guess from its shape (OCI when undeclared).
pub fn detect_media_type(bytes: &[u8]) -> String {
    let Ok(any) = serde_json::from_slice::<AnyManifest>(bytes) else {
        return OCI_MANIFEST.to_string();
    };
    match any.media_type {
        Some(m) if !m.is_empty() => m,
        _ if any.manifests.is_some() => OCI_INDEX.to_string(),
        _ => {
            let docker = any.config.as_ref().is_some_and(|c| c.media_type.starts_with("application/vnd.docker"));
            if docker { DOCKER_MANIFEST } else { OCI_MANIFEST }.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_image_and_index() {
        let d = Digest::sha256(b"x");
        let img = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"c","digest":"{d}","size":1}},"layers":[{{"mediaType":"l","digest":"{d}","size":1}}]}}"#
        );
        let raw = RawManifest { media_type: OCI_MANIFEST.into(), bytes: img.clone().into() };
        let c = parse("r", &raw).unwrap();
        assert_eq!(c.blobs().len(), 2);
        assert_eq!(detect_media_type(img.as_bytes()), OCI_MANIFEST);
        let idx = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":1,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}]}}"#
        );
        let raw = RawManifest { media_type: OCI_INDEX.into(), bytes: idx.clone().into() };
        match parse("r", &raw).unwrap() {
            ManifestContent::Index { manifests } => {
                assert_eq!(manifests[0].platform.as_ref().unwrap().to_string(), "linux/arm64/v8")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(detect_media_type(idx.as_bytes()), OCI_INDEX);
        assert!(parse("r", &RawManifest { media_type: OCI_INDEX.into(), bytes: "{}".into() }).is_err());
    }
}
