//! `inspect`: a summary of an image or index (media type, digest, platforms, layers and sizes,
//! config summary), as data for the CLI's text and `--json` output and for Python.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::Serialize;

use super::manifest::{self, Descriptor, ManifestContent, Platform};
use super::{Registry, RegistryError};
use crate::digest::Digest;
use crate::ImageRef;

/// What an image's config says, in short.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct ConfigSummary {
    /// `amd64`, ...
    pub architecture: String,
    /// `linux`, ...
    pub os: String,
    /// Creation time (RFC 3339), if recorded.
    pub created: Option<String>,
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Command.
    pub cmd: Vec<String>,
    /// Labels (sorted).
    pub labels: BTreeMap<String, String>,
}

/// One child of an index.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformManifest {
    /// The platform, `os/arch[/variant]`.
    pub platform: String,
    /// The child manifest's digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
}

/// One layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerSummary {
    /// Digest.
    pub digest: Digest,
    /// Compressed size in bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
}

/// The inspection result.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ImageInfo {
    /// The reference inspected.
    pub reference: String,
    /// Manifest digest.
    pub digest: Digest,
    /// Manifest media type.
    pub media_type: String,
    /// Manifest size.
    pub size: u64,
    /// For an index: its children.
    pub platforms: Vec<PlatformManifest>,
    /// For an image: its layers.
    pub layers: Vec<LayerSummary>,
    /// Sum of layer sizes.
    pub total_size: u64,
    /// For an image: its config summary.
    pub config: Option<ConfigSummary>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct RawConfig {
    architecture: String,
    os: String,
    created: Option<String>,
    config: Option<RawRuntime>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct RawRuntime {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
}

async fn config_summary(reg: &dyn Registry, repo: &str, config: &Descriptor) -> Result<ConfigSummary, RegistryError> {
    let mut s = reg.get_blob(repo, &config.digest).await?;
    let mut bytes = Vec::new();
    while let Some(c) = s.next().await {
        bytes.extend_from_slice(&c?);
    }
    let raw: RawConfig = serde_json::from_slice(&bytes).unwrap_or_default();
    let rt = raw.config.unwrap_or_default();
    Ok(ConfigSummary {
        architecture: raw.architecture,
        os: raw.os,
        created: raw.created,
        entrypoint: rt.entrypoint.unwrap_or_default(),
        cmd: rt.cmd.unwrap_or_default(),
        labels: rt.labels.unwrap_or_default(),
    })
}

fn platform_string(p: Option<&Platform>) -> String {
    p.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into())
}

/// Inspect `reference` in `reg`.
pub async fn inspect(reg: &dyn Registry, reference: &ImageRef, shown: &str) -> Result<ImageInfo, RegistryError> {
    let raw = reg.get_manifest(reference).await?;
    let mut info = ImageInfo {
        reference: shown.to_string(),
        digest: raw.digest(),
        media_type: raw.media_type.clone(),
        size: raw.bytes.len() as u64,
        platforms: Vec::new(),
        layers: Vec::new(),
        total_size: 0,
        config: None,
    };
    match manifest::parse(shown, &raw)? {
        ManifestContent::Index { manifests } => {
            info.platforms = manifests
                .iter()
                .map(|m| PlatformManifest {
                    platform: platform_string(m.platform.as_ref()),
                    digest: m.digest.clone(),
                    size: m.size,
                })
                .collect();
        }
        ManifestContent::Image { config, layers } => {
            info.layers = layers
                .iter()
                .map(|l| LayerSummary { digest: l.digest.clone(), size: l.size, media_type: l.media_type.clone() })
                .collect();
            info.total_size = layers.iter().map(|l| l.size).sum();
            info.config = Some(config_summary(reg, reference.repository(), &config).await?);
        }
    }
    Ok(info)
}
