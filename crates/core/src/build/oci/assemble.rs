//! Assembling an `OciBuild` in memory: layers, config, manifest per platform, and the index
//! when there are several platforms.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::base::{read_base, BaseImage};
use super::config::{ConfigDoc, Descriptor, History, IndexDoc, ManifestDoc, RootFs, OCI_CONFIG, OCI_LAYER_GZIP};
use super::layer::build_layer;
use super::{Base, OciBuild, Platform};
use crate::build::metadata::{epoch_to_time, rfc3339};
use crate::build::{emit, BuildError, BuildEvent};
use crate::events::Observer;
use crate::registry::{RawManifest, OCI_INDEX, OCI_MANIFEST};
use crate::Digest;

/// Where a layer's bytes are.
#[derive(Debug, Clone)]
pub(crate) enum LayerData {
    /// Built here.
    Built(Bytes),
    /// In the base registry, in this repository.
    Base { repository: String },
}

/// One layer of a built manifest.
#[derive(Debug, Clone)]
pub(crate) struct LayerRef {
    pub descriptor: Descriptor,
    pub diff_id: Digest,
    pub data: LayerData,
}

/// The image of one platform, assembled.
#[derive(Debug, Clone)]
pub struct BuiltManifest {
    /// Its platform.
    pub platform: Platform,
    /// The manifest bytes.
    pub manifest: RawManifest,
    /// The config digest (the engine's image ID).
    pub config_digest: Digest,
    pub(crate) config: Bytes,
    pub(crate) layers: Vec<LayerRef>,
}

/// A whole build, assembled in memory.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// One manifest per platform, in the order given.
    pub manifests: Vec<BuiltManifest>,
    /// The index, when there is more than one platform.
    pub index: Option<RawManifest>,
}

impl BuiltImage {
    /// The document a tag points at: the index, or the single manifest.
    pub fn top(&self) -> &RawManifest {
        match &self.index {
            Some(i) => i,
            None => &self.manifests[0].manifest,
        }
    }
    /// The digest of [`top`](Self::top).
    pub fn digest(&self) -> Digest {
        self.top().digest()
    }
}

/// Canonical JSON bytes of a document (struct field order; maps are `BTreeMap`s).
pub(crate) fn to_json<T: serde::Serialize>(doc: &T) -> Result<Bytes, BuildError> {
    serde_json::to_vec(doc).map(Bytes::from).map_err(|e| BuildError::Invalid(format!("serialising a document: {e}")))
}

pub(crate) async fn assemble(build: &OciBuild, observer: &dyn Observer) -> Result<super::BuiltImage, BuildError> {
    if build.images.is_empty() {
        return Err(BuildError::Invalid("an OCI build needs at least one platform image".into()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for img in &build.images {
        if !seen.insert(img.platform.to_string()) {
            return Err(BuildError::Invalid(format!("platform {} is given twice", img.platform)));
        }
    }
    let epoch = build.epoch();
    let created = rfc3339(epoch_to_time(epoch));
    let annotations = (!build.annotations.is_empty()).then(|| build.annotations.clone());
    let mut manifests = Vec::new();
    for img in &build.images {
        let base = match &img.base {
            Base::Scratch => BaseImage::scratch(),
            Base::Image(r) => read_base(build.base_registry.as_deref(), r, &img.platform).await?,
        };
        let mut layers = base.layers.clone();
        let mut history = base.config.history.clone();
        for spec in &img.layers {
            let files = spec.files.clone();
            let layer = tokio::task::spawn_blocking(move || build_layer(&files, epoch as u64))
                .await
                .map_err(|e| BuildError::Invalid(format!("layer task failed: {e}")))??;
            emit(
                observer,
                BuildEvent::LayerBuilt {
                    platform: img.platform.to_string(),
                    digest: layer.digest.to_string(),
                    size: layer.blob.len() as u64,
                },
            );
            layers.push(LayerRef {
                descriptor: Descriptor {
                    media_type: OCI_LAYER_GZIP.into(),
                    digest: layer.digest.clone(),
                    size: layer.blob.len() as u64,
                    platform: None,
                    annotations: None,
                },
                diff_id: layer.diff_id.clone(),
                data: LayerData::Built(layer.blob.clone()),
            });
            history.push(History {
                created: Some(created.clone()),
                created_by: Some(format!("slipway oci-build: {} files", layer.entries)),
                comment: spec.comment.clone(),
                empty_layer: None,
            });
        }
        let config = ConfigDoc {
            created: Some(created.clone()),
            architecture: img.platform.architecture.clone(),
            os: img.platform.os.clone(),
            variant: img.platform.variant.clone(),
            config: img.config.apply(&base.config.config),
            rootfs: RootFs { kind: "layers".into(), diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect() },
            history,
        };
        let config_bytes = to_json(&config)?;
        let config_digest = Digest::sha256(&config_bytes);
        let manifest = ManifestDoc {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.into()),
            config: Descriptor {
                media_type: OCI_CONFIG.into(),
                digest: config_digest.clone(),
                size: config_bytes.len() as u64,
                platform: None,
                annotations: None,
            },
            layers: layers.iter().map(|l| l.descriptor.clone()).collect(),
            annotations: annotations.clone(),
        };
        manifests.push(BuiltManifest {
            platform: img.platform.clone(),
            manifest: RawManifest { media_type: OCI_MANIFEST.into(), bytes: to_json(&manifest)? },
            config_digest,
            config: config_bytes,
            layers,
        });
    }
    let index = if manifests.len() > 1 {
        let doc = IndexDoc {
            schema_version: 2,
            media_type: Some(OCI_INDEX.into()),
            manifests: manifests
                .iter()
                .map(|m| Descriptor {
                    media_type: OCI_MANIFEST.into(),
                    digest: m.manifest.digest(),
                    size: m.manifest.bytes.len() as u64,
                    platform: Some(m.platform.clone()),
                    annotations: None,
                })
                .collect(),
            annotations: annotations.clone().map(|a: BTreeMap<String, String>| a),
        };
        Some(RawManifest { media_type: OCI_INDEX.into(), bytes: to_json(&doc)? })
    } else {
        None
    };
    Ok(super::BuiltImage { manifests, index })
}
