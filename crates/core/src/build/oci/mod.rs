//! `OciBuild`: a daemonless, byte-for-byte reproducible image build. Per platform: a base
//! (`scratch` or an image read from a [`Registry`]), layers from file mappings
//! ([`layer::build_layer`]), and an image config; several platforms become an OCI index. The
//! result goes to any `Registry` (a layout or a registry server, uploading only missing blobs)
//! or is loaded into the engine.

mod assemble;
mod base;
pub mod config;
pub mod file;
pub mod layer;
mod target;
mod write;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use bollard::Docker;

pub use assemble::{BuiltImage, BuiltManifest};
pub use config::{Healthcheck, ImageConfig, Platform};
pub use layer::{FileMapping, Layer, Source};
pub use target::{open_location, open_location_with};

use super::{emit, BuildError, BuildEvent, BuildOutput, Builder};
use crate::events::Observer;
use crate::registry::Registry;
use crate::ImageRef;

/// Where an image's filesystem starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Base {
    /// An empty filesystem.
    Scratch,
    /// An image read from the build's base registry (see [`OciBuild::base_registry`]).
    Image(ImageRef),
}

/// One layer: its mappings and the comment for its history entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerSpec {
    /// The files of the layer.
    pub files: Vec<FileMapping>,
    /// History comment (`app binary`).
    pub comment: Option<String>,
}

impl LayerSpec {
    /// A layer of `files`.
    pub fn new(files: Vec<FileMapping>) -> Self {
        Self { files, comment: None }
    }
    /// With a history comment.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }
}

/// The image for one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformImage {
    /// Its platform.
    pub platform: Platform,
    /// Its base.
    pub base: Base,
    /// Layers added on top of the base, in order.
    pub layers: Vec<LayerSpec>,
    /// Its run config.
    pub config: ImageConfig,
}

impl PlatformImage {
    /// An image for `platform` starting from `base`.
    pub fn new(platform: Platform, base: Base) -> Self {
        Self { platform, base, layers: Vec::new(), config: ImageConfig::default() }
    }
    /// Add a layer.
    pub fn layer(mut self, layer: LayerSpec) -> Self {
        self.layers.push(layer);
        self
    }
    /// Set the run config.
    pub fn config(mut self, config: ImageConfig) -> Self {
        self.config = config;
        self
    }
}

/// Where an `OciBuild` puts its result.
#[derive(Clone)]
#[non_exhaustive]
pub enum OciOutput {
    /// Nowhere: only compute the digest.
    None,
    /// A registry or a layout, under `reference`'s tag; only missing blobs are uploaded.
    Registry {
        /// The destination.
        registry: Arc<dyn Registry>,
        /// The repository and tag to store as.
        reference: ImageRef,
    },
    /// Loaded into the engine (the platform matching this machine, else the first), tagged.
    Engine {
        /// The engine.
        docker: Docker,
        /// The tag to give the image.
        tag: ImageRef,
    },
}

impl std::fmt::Debug for OciOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OciOutput::None => write!(f, "None"),
            OciOutput::Registry { registry, reference } => write!(f, "Registry({}, {reference})", registry.name()),
            OciOutput::Engine { tag, .. } => write!(f, "Engine({tag})"),
        }
    }
}

/// A daemonless, reproducible build. See the module documentation.
#[derive(Clone)]
pub struct OciBuild {
    images: Vec<PlatformImage>,
    annotations: BTreeMap<String, String>,
    base_registry: Option<Arc<dyn Registry>>,
    source_date_epoch: Option<i64>,
    outputs: Vec<OciOutput>,
}

impl std::fmt::Debug for OciBuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciBuild")
            .field("images", &self.images)
            .field("annotations", &self.annotations)
            .field("outputs", &self.outputs)
            .finish()
    }
}

impl Default for OciBuild {
    fn default() -> Self {
        Self::new()
    }
}

impl OciBuild {
    /// An empty build; add at least one platform image.
    pub fn new() -> Self {
        Self {
            images: Vec::new(),
            annotations: BTreeMap::new(),
            base_registry: None,
            source_date_epoch: None,
            outputs: Vec::new(),
        }
    }
    /// Add the image of one platform (two or more make an index).
    pub fn image(mut self, image: PlatformImage) -> Self {
        self.images.push(image);
        self
    }
    /// A manifest (and index) annotation.
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }
    /// Where `Base::Image` bases are read from.
    pub fn base_registry(mut self, registry: Arc<dyn Registry>) -> Self {
        self.base_registry = Some(registry);
        self
    }
    /// The timestamp for every file and for `created` (default: `SOURCE_DATE_EPOCH`, else 0).
    pub fn source_date_epoch(mut self, secs: i64) -> Self {
        self.source_date_epoch = Some(secs);
        self
    }
    /// Add an output (several are allowed; none only computes the digest).
    pub fn output(mut self, output: OciOutput) -> Self {
        self.outputs.push(output);
        self
    }
    /// The platform images.
    pub fn images(&self) -> &[PlatformImage] {
        &self.images
    }

    fn epoch(&self) -> i64 {
        self.source_date_epoch.unwrap_or_else(super::metadata::source_date).max(0)
    }

    /// Build every layer and document in memory, without writing anything.
    pub async fn assemble(&self, observer: &dyn Observer) -> Result<BuiltImage, BuildError> {
        assemble::assemble(self, observer).await
    }

    /// Write an assembled image to one output; returns the tag it was stored as.
    pub async fn write(
        &self,
        built: &BuiltImage,
        output: &OciOutput,
        observer: &dyn Observer,
    ) -> Result<Option<String>, BuildError> {
        match output {
            OciOutput::None => Ok(None),
            OciOutput::Registry { registry, reference } => {
                write::to_registry(built, self.base_registry.as_deref(), registry.as_ref(), reference, observer)
                    .await?;
                Ok(Some(reference.to_string()))
            }
            OciOutput::Engine { docker, tag } => {
                write::to_engine(built, self.base_registry.as_deref(), docker, tag, observer).await?;
                Ok(Some(tag.to_string()))
            }
        }
    }
}

#[async_trait]
impl Builder for OciBuild {
    async fn build(&self, observer: &dyn Observer) -> Result<BuildOutput, BuildError> {
        let built = self.assemble(observer).await?;
        let mut tags = Vec::new();
        for output in &self.outputs {
            if let Some(t) = self.write(&built, output, observer).await? {
                emit(observer, BuildEvent::Tagged { reference: t.clone() });
                tags.push(t);
            }
        }
        let digest = built.digest();
        emit(observer, BuildEvent::Finished { digest: digest.to_string() });
        Ok(BuildOutput {
            image_id: built.manifests.first().map(|m| m.config_digest.clone()),
            manifest_digest: Some(digest),
            tags,
        })
    }
}
