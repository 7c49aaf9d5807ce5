//! `copy`: copy an image or index from one store to another with the fewest bytes moved.
//!
//! - same registry and repository: one manifest PUT (no blob requests);
//! - same registry, other repository: mount every blob (upload only when the registry declines);
//! - other registry or a layout: upload only the blobs the destination lacks, `parallelism` at a
//!   time, each verified against its digest while it streams.
//!
//! Children of an index are copied first, and a manifest is PUT only once all of its blobs are
//! present, so a failure never leaves a tag pointing at an incomplete image. The destination digest
//! always equals the source digest (manifest bytes are never re-serialised).

use std::collections::BTreeSet;

use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;

use super::manifest::{self, Descriptor, ManifestContent};
use super::{BlobSource, MountOutcome, RawManifest, Registry, RegistryError, RegistryEvent};
use crate::digest::Digest;
use crate::events::{Event, Observer};
use crate::ImageRef;

/// Blobs up to this size are kept in memory while copied; larger ones are spooled to a temp file.
const IN_MEMORY_LIMIT: u64 = 4 * 1024 * 1024;

/// The media types of manifests slipway writes itself (pushes from the engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ManifestFormat {
    /// Docker v2 schema 2 (what `docker push` writes; the default for registries).
    #[default]
    Docker,
    /// OCI image manifest (the one OCI layouts readers such as skopeo accept).
    Oci,
}

/// Options of [`copy`] and of pushes from the engine.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CopyOptions {
    /// How many blobs move at the same time (default 4).
    pub parallelism: usize,
    /// Manifest format for images slipway assembles (pushes from the engine).
    pub format: ManifestFormat,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self { parallelism: 4, format: ManifestFormat::Docker }
    }
}

impl CopyOptions {
    /// Set the number of blobs moved at the same time (at least 1).
    pub fn parallelism(mut self, n: usize) -> Self {
        self.parallelism = n.max(1);
        self
    }
    /// Set the manifest format for images slipway assembles.
    pub fn format(mut self, format: ManifestFormat) -> Self {
        self.format = format;
        self
    }
}

struct Ctx<'a> {
    src: &'a dyn Registry,
    dst: &'a dyn Registry,
    src_ref: &'a ImageRef,
    dst_ref: &'a ImageRef,
    same_registry: bool,
    options: &'a CopyOptions,
    observer: &'a dyn Observer,
}

/// Copy `src_ref` from `src` to `dst_ref` in `dst`; returns the destination digest (equal to the
/// source digest). `src` and `dst` may be the same object.
pub async fn copy(
    src: &dyn Registry,
    src_ref: &ImageRef,
    dst: &dyn Registry,
    dst_ref: &ImageRef,
    options: &CopyOptions,
    observer: &dyn Observer,
) -> Result<Digest, RegistryError> {
    let top = src.get_manifest(src_ref).await?;
    let digest = top.digest();
    if let Some(expected) = src_ref.digest() {
        if expected != &digest {
            return Err(RegistryError::mismatch(
                src.name(),
                src_ref.repository(),
                "get manifest",
                expected.clone(),
                digest,
            ));
        }
    }
    let same_registry = src.name() == dst.name();
    let ctx = Ctx { src, dst, src_ref, dst_ref, same_registry, options, observer };
    if same_registry && src_ref.repository() == dst_ref.repository() {
        // Promotion inside one repository: everything is there already.
        return put(&ctx, dst_ref, &top).await;
    }
    copy_children_and_blobs(&ctx, &top).await?;
    put(&ctx, dst_ref, &top).await
}

async fn put(ctx: &Ctx<'_>, reference: &ImageRef, m: &RawManifest) -> Result<Digest, RegistryError> {
    let d = ctx.dst.put_manifest(reference, m).await?;
    if d != m.digest() {
        return Err(RegistryError::mismatch(ctx.dst.name(), reference.repository(), "put manifest", m.digest(), d));
    }
    ctx.observer
        .event(&Event::Registry(RegistryEvent::ManifestPut { reference: reference.to_string(), digest: d.clone() }));
    Ok(d)
}

/// Make every blob and child manifest of `m` present at the destination (not `m` itself).
async fn copy_children_and_blobs(ctx: &Ctx<'_>, m: &RawManifest) -> Result<(), RegistryError> {
    match manifest::parse(&ctx.src_ref.to_string(), m)? {
        ManifestContent::Index { manifests } => {
            for child in manifests {
                let child_src = ctx.src_ref.pinned(child.digest.clone());
                let raw = ctx.src.get_manifest(&child_src).await?;
                if raw.digest() != child.digest {
                    return Err(RegistryError::mismatch(
                        ctx.src.name(),
                        ctx.src_ref.repository(),
                        "get manifest",
                        child.digest.clone(),
                        raw.digest(),
                    ));
                }
                Box::pin(copy_children_and_blobs(ctx, &raw)).await?;
                put(ctx, &ctx.dst_ref.pinned(child.digest.clone()), &raw).await?;
            }
            Ok(())
        }
        content @ ManifestContent::Image { .. } => {
            let mut seen = BTreeSet::new();
            let blobs: Vec<Descriptor> =
                content.blobs().into_iter().filter(|b| seen.insert(b.digest.clone())).collect();
            futures::stream::iter(blobs.into_iter().map(|b| copy_blob(ctx, b)))
                .buffer_unordered(ctx.options.parallelism.max(1))
                .try_collect::<Vec<()>>()
                .await?;
            Ok(())
        }
    }
}

async fn copy_blob(ctx: &Ctx<'_>, blob: Descriptor) -> Result<(), RegistryError> {
    let dst_repo = ctx.dst_ref.repository();
    let src_repo = ctx.src_ref.repository();
    let event = |e| ctx.observer.event(&Event::Registry(e));
    if ctx.same_registry {
        if ctx.dst.mount_blob(dst_repo, &blob.digest, src_repo).await? == MountOutcome::Mounted {
            event(RegistryEvent::BlobMounted { digest: blob.digest.clone(), from: src_repo.to_string() });
            return Ok(());
        }
    } else if let Some(size) = ctx.dst.blob_exists(dst_repo, &blob.digest).await? {
        event(RegistryEvent::BlobExists { digest: blob.digest.clone(), size });
        return Ok(());
    }
    transfer_blob(ctx.src, src_repo, ctx.dst, dst_repo, &blob).await?;
    event(RegistryEvent::BlobCopied { digest: blob.digest.clone(), size: blob.size });
    Ok(())
}

/// Download a blob from `src` (verified as it streams) and upload it to `dst`.
pub async fn transfer_blob(
    src: &dyn Registry,
    src_repo: &str,
    dst: &dyn Registry,
    dst_repo: &str,
    blob: &Descriptor,
) -> Result<(), RegistryError> {
    let mut stream = src.get_blob(src_repo, &blob.digest).await?;
    if blob.size <= IN_MEMORY_LIMIT {
        let mut buf = Vec::with_capacity(blob.size as usize);
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk?);
        }
        return dst.put_blob(dst_repo, &blob.digest, BlobSource::Bytes(buf.into())).await;
    }
    let tmp = tempfile::NamedTempFile::new().map_err(|e| RegistryError::io("temp dir", "create spool file", e))?;
    let mut file =
        tokio::fs::File::create(tmp.path()).await.map_err(|e| RegistryError::io(tmp.path().display(), "create", e))?;
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(|e| RegistryError::io(tmp.path().display(), "write", e))?;
    }
    file.flush().await.map_err(|e| RegistryError::io(tmp.path().display(), "write", e))?;
    drop(file);
    dst.put_blob(dst_repo, &blob.digest, BlobSource::File { path: tmp.path().to_path_buf(), size }).await
}
