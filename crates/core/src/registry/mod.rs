//! Registry: the `Registry` trait and its implementations (`Distribution` over the OCI
//! Distribution HTTP API, `Layout` for an OCI image layout directory on disk).
//!
//! Manifests travel as raw bytes with their media type, so digests never change in transit.

pub mod copy;
pub mod distribution;
pub mod engine;
mod error;
mod event;
pub mod inspect;
mod layout;
#[cfg(test)]
mod layout_tests;
mod location;
pub mod manifest;
pub mod ops;
pub mod prune;
pub mod verify;

use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

pub use copy::{copy, CopyOptions, ManifestFormat};
pub use distribution::{Credentials, Distribution, DistributionOptions, RetryPolicy, Secret};
pub use error::{RegistryError, Site};
pub use event::RegistryEvent;
pub use inspect::ImageInfo;
pub use layout::{Layout, REF_NAME};
pub use location::{LayoutRef, Location, LAYOUT_REGISTRY, LAYOUT_REPOSITORY};
pub use prune::{prune, PruneOutcome, PruneRules};

use crate::{Digest, ImageRef};

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker v2 schema 2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker v2 manifest list media type.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// What a reference points at: digest, media type and size of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManifestDescriptor {
    /// The manifest's digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A manifest or index exactly as stored: the bytes are never re-serialised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    /// The media type (from the registry's `Content-Type`, or the manifest's `mediaType`).
    pub media_type: String,
    /// The exact bytes.
    pub bytes: Bytes,
}

impl RawManifest {
    /// The digest of the bytes.
    pub fn digest(&self) -> Digest {
        Digest::sha256(&self.bytes)
    }
}

/// Where the bytes of a blob to upload come from.
#[derive(Debug, Clone)]
pub enum BlobSource {
    /// Bytes in memory.
    Bytes(Bytes),
    /// A file on disk, streamed.
    File {
        /// Its path.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
}

impl BlobSource {
    /// The size of the blob in bytes.
    pub fn size(&self) -> u64 {
        match self {
            BlobSource::Bytes(b) => b.len() as u64,
            BlobSource::File { size, .. } => *size,
        }
    }
}

/// A stream of blob bytes; the implementation verifies the digest as it streams and yields an
/// error (after the last chunk) when it does not match: consumers must treat any `Err` as failure.
pub type BlobStream = BoxStream<'static, Result<Bytes, RegistryError>>;

/// Result of a cross-repository mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountOutcome {
    /// The blob is now in the destination repository.
    Mounted,
    /// The registry declined (202): upload the blob instead.
    UploadInstead,
}

/// A store of images: a registry server or a layout on disk. One instance speaks to one registry;
/// repositories are paths inside it (`library/redis`).
#[async_trait]
pub trait Registry: Send + Sync {
    /// A short name for messages (`127.0.0.1:5000`, `oci:/path`).
    fn name(&self) -> String;
    /// Resolve a tag or digest reference to the manifest's descriptor.
    async fn resolve(&self, reference: &ImageRef) -> Result<ManifestDescriptor, RegistryError>;
    /// Fetch a manifest or index as raw bytes.
    async fn get_manifest(&self, reference: &ImageRef) -> Result<RawManifest, RegistryError>;
    /// Store a manifest under the reference's tag (or digest); returns its digest.
    async fn put_manifest(&self, reference: &ImageRef, manifest: &RawManifest) -> Result<Digest, RegistryError>;
    /// The blob's size when the repository has it.
    async fn blob_exists(&self, repository: &str, digest: &Digest) -> Result<Option<u64>, RegistryError>;
    /// Download a blob, verified against its digest as it streams.
    async fn get_blob(&self, repository: &str, digest: &Digest) -> Result<BlobStream, RegistryError>;
    /// Upload a blob; the digest is verified by the receiving side.
    async fn put_blob(&self, repository: &str, digest: &Digest, source: BlobSource) -> Result<(), RegistryError>;
    /// Mount a blob from another repository of the same registry.
    async fn mount_blob(&self, repository: &str, digest: &Digest, from: &str) -> Result<MountOutcome, RegistryError>;
    /// All tags of a repository, sorted.
    async fn list_tags(&self, repository: &str) -> Result<Vec<String>, RegistryError>;
    /// Delete a manifest by digest.
    async fn delete_manifest(&self, repository: &str, digest: &Digest) -> Result<(), RegistryError>;
}
