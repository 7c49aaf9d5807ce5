//! Reading a base image from a `Registry`: resolve the platform's manifest (through an index
//! when there is one), read its config, keep its layer descriptors.

use bytes::BytesMut;
use futures::StreamExt;

use super::assemble::{LayerData, LayerRef};
use super::config::{ConfigDoc, Descriptor, IndexDoc, ManifestDoc, RootFs, OCI_LAYER_GZIP};
use super::Platform;
use crate::build::BuildError;
use crate::registry::{Registry, DOCKER_MANIFEST_LIST, OCI_INDEX};
use crate::{Digest, ImageRef};

/// Docker's gzip layer media type (normalised to the OCI one; the bytes are the same).
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// A base image: its config and layers.
#[derive(Debug, Clone)]
pub(crate) struct BaseImage {
    pub config: ConfigDoc,
    pub layers: Vec<LayerRef>,
}

impl BaseImage {
    /// The empty base.
    pub fn scratch() -> Self {
        Self {
            config: ConfigDoc { rootfs: RootFs { kind: "layers".into(), diff_ids: vec![] }, ..Default::default() },
            layers: vec![],
        }
    }
}

fn reg_err(action: String) -> impl FnOnce(crate::registry::RegistryError) -> BuildError {
    move |source| BuildError::registry(action, source)
}

/// Read the whole blob into memory (configs are small; layers are streamed elsewhere).
pub(crate) async fn read_blob(
    registry: &dyn Registry,
    repository: &str,
    digest: &Digest,
) -> Result<bytes::Bytes, BuildError> {
    let action = format!("reading blob {digest} of {repository} from {}", registry.name());
    let mut stream = registry.get_blob(repository, digest).await.map_err(reg_err(action.clone()))?;
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk.map_err(reg_err(action.clone()))?);
    }
    Ok(buf.freeze())
}

pub(crate) async fn read_base(
    registry: Option<&dyn Registry>,
    reference: &ImageRef,
    platform: &Platform,
) -> Result<BaseImage, BuildError> {
    let registry = registry.ok_or_else(|| {
        BuildError::Invalid(format!("base image {reference} needs a base registry (or layout) to read it from"))
    })?;
    let action = format!("reading base image {reference} from {}", registry.name());
    let mut raw = registry.get_manifest(reference).await.map_err(reg_err(action.clone()))?;
    if raw.media_type == OCI_INDEX || raw.media_type == DOCKER_MANIFEST_LIST {
        let index: IndexDoc = serde_json::from_slice(&raw.bytes)
            .map_err(|e| BuildError::Invalid(format!("base image {reference}: unreadable index: {e}")))?;
        let pick = index
            .manifests
            .iter()
            .find(|d| {
                d.platform.as_ref().is_some_and(|p| p.os == platform.os && p.architecture == platform.architecture)
            })
            .ok_or_else(|| BuildError::Invalid(format!("base image {reference} has no {platform} image")))?;
        raw = registry.get_manifest(&reference.pinned(pick.digest.clone())).await.map_err(reg_err(action.clone()))?;
    }
    let manifest: ManifestDoc = serde_json::from_slice(&raw.bytes)
        .map_err(|e| BuildError::Invalid(format!("base image {reference}: unreadable manifest: {e}")))?;
    let config_bytes = read_blob(registry, reference.repository(), &manifest.config.digest).await?;
    let config: ConfigDoc = serde_json::from_slice(&config_bytes)
        .map_err(|e| BuildError::Invalid(format!("base image {reference}: unreadable config: {e}")))?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(BuildError::Invalid(format!("base image {reference}: config and manifest disagree on layers")));
    }
    let layers = manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(d, diff)| LayerRef {
            descriptor: Descriptor {
                media_type: if d.media_type == DOCKER_LAYER_GZIP {
                    OCI_LAYER_GZIP.into()
                } else {
                    d.media_type.clone()
                },
                digest: d.digest.clone(),
                size: d.size,
                platform: None,
                annotations: None,
            },
            diff_id: diff.clone(),
            data: LayerData::Base { repository: reference.repository().to_string() },
        })
        .collect();
    Ok(BaseImage { config, layers })
}
