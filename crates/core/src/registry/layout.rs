//! `Layout`: an OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/...`) behind
//! the [`Registry`] trait. Tags are `org.opencontainers.image.ref.name` annotations in `index.json`;
//! the repository part of references is ignored (a layout has one namespace of tags). Every write
//! goes to a temp file in the same directory and is renamed into place; blobs are verified against
//! their digest on write and on read.

use crate::registry::Site;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use super::verify::{verified, StreamOrigin};
use super::{manifest, BlobSource, BlobStream, ManifestDescriptor, MountOutcome, RawManifest, Registry, RegistryError};
use crate::digest::{Digest, Sha256Hasher};
use crate::ImageRef;

/// The annotation holding a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// An OCI image layout directory.
#[derive(Debug)]
pub struct Layout {
    dir: PathBuf,
    index_lock: tokio::sync::Mutex<()>,
}

impl Layout {
    /// Open a layout, creating the directory, `oci-layout` and an empty `index.json` if missing.
    pub async fn create(dir: impl AsRef<Path>) -> Result<Self, RegistryError> {
        let dir = dir.as_ref().to_path_buf();
        let blobs = dir.join("blobs").join("sha256");
        tokio::fs::create_dir_all(&blobs).await.map_err(|e| RegistryError::io(blobs.display(), "create", e))?;
        let layout = Self { dir, index_lock: tokio::sync::Mutex::new(()) };
        let marker = layout.dir.join("oci-layout");
        if !marker.exists() {
            layout.write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#).await?;
        }
        if !layout.index_path().exists() {
            layout.write_index(&json!({"schemaVersion": 2, "mediaType": super::OCI_INDEX, "manifests": []})).await?;
        }
        Ok(layout)
    }

    /// Open an existing layout (its `oci-layout` file must exist).
    pub async fn open(dir: impl AsRef<Path>) -> Result<Self, RegistryError> {
        let dir = dir.as_ref().to_path_buf();
        let marker = dir.join("oci-layout");
        if !marker.exists() {
            return Err(RegistryError::NotFound {
                at: Site::boxed(format!("oci:{}", dir.display()), String::new(), "open layout"),
                what: "oci-layout file (not an OCI image layout)".into(),
            });
        }
        Ok(Self { dir, index_lock: tokio::sync::Mutex::new(()) })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path where a blob is (or would be) stored.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join(digest.algorithm()).join(digest.hex())
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    fn not_found(&self, what: impl Into<String>, operation: &str) -> RegistryError {
        RegistryError::NotFound { at: Site::boxed(self.name(), String::new(), operation), what: what.into() }
    }

    async fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
        let parent = path.parent().unwrap_or(&self.dir);
        let tmp =
            tempfile::NamedTempFile::new_in(parent).map_err(|e| RegistryError::io(parent.display(), "create", e))?;
        tokio::fs::write(tmp.path(), bytes).await.map_err(|e| RegistryError::io(tmp.path().display(), "write", e))?;
        tmp.persist(path).map_err(|e| RegistryError::io(path.display(), "rename", e.error))?;
        Ok(())
    }

    async fn read_index(&self) -> Result<Value, RegistryError> {
        let path = self.index_path();
        let bytes = tokio::fs::read(&path).await.map_err(|e| RegistryError::io(path.display(), "read", e))?;
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::InvalidManifest {
            reference: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    async fn write_index(&self, index: &Value) -> Result<(), RegistryError> {
        let bytes = serde_json::to_vec_pretty(index)
            .map_err(|e| RegistryError::invalid(self.index_path().display().to_string(), e.to_string()))?;
        self.write_atomic(&self.index_path(), &bytes).await
    }

    /// The index entries (tagged or not), as written.
    async fn entries(&self) -> Result<Vec<Value>, RegistryError> {
        let index = self.read_index().await?;
        Ok(index.get("manifests").and_then(Value::as_array).cloned().unwrap_or_default())
    }

    /// Store a blob from a stream of chunks, verified against `digest` before it becomes visible.
    pub async fn write_blob_stream(&self, digest: &Digest, mut chunks: BlobStream) -> Result<u64, RegistryError> {
        let path = self.blob_path(digest);
        let parent = path.parent().unwrap_or(&self.dir).to_path_buf();
        tokio::fs::create_dir_all(&parent).await.map_err(|e| RegistryError::io(parent.display(), "create", e))?;
        let tmp =
            tempfile::NamedTempFile::new_in(&parent).map_err(|e| RegistryError::io(parent.display(), "create", e))?;
        let mut file = tokio::fs::File::create(tmp.path())
            .await
            .map_err(|e| RegistryError::io(tmp.path().display(), "create", e))?;
        let mut hasher = Sha256Hasher::new();
        let mut size = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(|e| RegistryError::io(tmp.path().display(), "write", e))?;
        }
        file.flush().await.map_err(|e| RegistryError::io(tmp.path().display(), "write", e))?;
        drop(file);
        let actual = hasher.finish();
        if &actual != digest {
            return Err(RegistryError::mismatch(self.name(), "", "put blob", digest.clone(), actual));
        }
        tmp.persist(&path).map_err(|e| RegistryError::io(path.display(), "rename", e.error))?;
        Ok(size)
    }

    async fn read_verified(&self, digest: &Digest, operation: &str) -> Result<Bytes, RegistryError> {
        let path = self.blob_path(digest);
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.not_found(digest.to_string(), operation))
            }
            Err(e) => return Err(RegistryError::io(path.display(), "read", e)),
        };
        let actual = Digest::sha256(&bytes);
        if &actual != digest {
            return Err(RegistryError::mismatch(self.name(), "", operation, digest.clone(), actual));
        }
        Ok(bytes.into())
    }

    fn descriptor_of(entry: &Value) -> Option<ManifestDescriptor> {
        Some(ManifestDescriptor {
            digest: Digest::parse(entry.get("digest")?.as_str()?).ok()?,
            media_type: entry.get("mediaType")?.as_str()?.to_string(),
            size: entry.get("size")?.as_u64()?,
        })
    }

    fn tag_of(entry: &Value) -> Option<&str> {
        entry.get("annotations")?.get(REF_NAME)?.as_str()
    }
}

#[async_trait]
impl Registry for Layout {
    fn name(&self) -> String {
        format!("oci:{}", self.dir.display())
    }

    async fn resolve(&self, reference: &ImageRef) -> Result<ManifestDescriptor, RegistryError> {
        if let Some(d) = reference.digest() {
            let bytes = self.read_verified(d, "resolve").await?;
            let media_type = manifest::detect_media_type(&bytes);
            return Ok(ManifestDescriptor { digest: d.clone(), media_type, size: bytes.len() as u64 });
        }
        let tag = reference.tag().unwrap_or(crate::reference::DEFAULT_TAG);
        self.entries()
            .await?
            .iter()
            .rev()
            .find(|e| Self::tag_of(e) == Some(tag))
            .and_then(Self::descriptor_of)
            .ok_or_else(|| self.not_found(format!("tag {tag}"), "resolve"))
    }

    async fn get_manifest(&self, reference: &ImageRef) -> Result<RawManifest, RegistryError> {
        let desc = self.resolve(reference).await?;
        let bytes = self.read_verified(&desc.digest, "get manifest").await?;
        Ok(RawManifest { media_type: desc.media_type, bytes })
    }

    async fn put_manifest(&self, reference: &ImageRef, manifest: &RawManifest) -> Result<Digest, RegistryError> {
        let digest = manifest.digest();
        if let Some(expected) = reference.digest() {
            if expected != &digest {
                return Err(RegistryError::mismatch(self.name(), "", "put manifest", expected.clone(), digest));
            }
        }
        let chunks = futures::stream::iter([Ok(manifest.bytes.clone())]).boxed();
        self.write_blob_stream(&digest, chunks).await?;
        if let Some(tag) = reference.tag() {
            let _guard = self.index_lock.lock().await;
            let mut index = self.read_index().await?;
            let mut entries: Vec<Value> = index.get("manifests").and_then(Value::as_array).cloned().unwrap_or_default();
            entries.retain(|e| Self::tag_of(e) != Some(tag));
            entries.push(json!({
                "mediaType": manifest.media_type,
                "digest": digest.to_string(),
                "size": manifest.bytes.len(),
                "annotations": {REF_NAME: tag},
            }));
            index["manifests"] = Value::Array(entries);
            self.write_index(&index).await?;
        }
        Ok(digest)
    }

    async fn blob_exists(&self, _repository: &str, digest: &Digest) -> Result<Option<u64>, RegistryError> {
        match tokio::fs::metadata(self.blob_path(digest)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RegistryError::io(self.blob_path(digest).display(), "stat", e)),
        }
    }

    async fn get_blob(&self, _repository: &str, digest: &Digest) -> Result<BlobStream, RegistryError> {
        let path = self.blob_path(digest);
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.not_found(digest.to_string(), "get blob"))
            }
            Err(e) => return Err(RegistryError::io(path.display(), "open", e)),
        };
        let shown = path.display().to_string();
        let inner =
            tokio_util::io::ReaderStream::new(file).map_err(move |e| RegistryError::io(&shown, "read", e)).boxed();
        Ok(verified(inner, digest.clone(), StreamOrigin { registry: self.name(), repository: String::new() }))
    }

    async fn put_blob(&self, _repository: &str, digest: &Digest, source: BlobSource) -> Result<(), RegistryError> {
        if self.blob_exists("", digest).await?.is_some() {
            return Ok(());
        }
        let chunks: BlobStream = match source {
            BlobSource::Bytes(b) => futures::stream::iter([Ok(b)]).boxed(),
            BlobSource::File { path, .. } => {
                let file =
                    tokio::fs::File::open(&path).await.map_err(|e| RegistryError::io(path.display(), "open", e))?;
                let shown = path.display().to_string();
                tokio_util::io::ReaderStream::new(file).map_err(move |e| RegistryError::io(&shown, "read", e)).boxed()
            }
        };
        self.write_blob_stream(digest, chunks).await.map(|_| ())
    }

    async fn mount_blob(&self, _repository: &str, digest: &Digest, _from: &str) -> Result<MountOutcome, RegistryError> {
        // One blob store for the whole layout: present means mounted.
        Ok(if self.blob_exists("", digest).await?.is_some() {
            MountOutcome::Mounted
        } else {
            MountOutcome::UploadInstead
        })
    }

    async fn list_tags(&self, _repository: &str) -> Result<Vec<String>, RegistryError> {
        let mut tags: Vec<String> =
            self.entries().await?.iter().filter_map(|e| Self::tag_of(e).map(str::to_string)).collect();
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    async fn delete_manifest(&self, _repository: &str, digest: &Digest) -> Result<(), RegistryError> {
        let _guard = self.index_lock.lock().await;
        let mut index = self.read_index().await?;
        let mut entries: Vec<Value> = index.get("manifests").and_then(Value::as_array).cloned().unwrap_or_default();
        let before = entries.len();
        let d = digest.to_string();
        entries.retain(|e| e.get("digest").and_then(Value::as_str) != Some(d.as_str()));
        if entries.len() == before {
            return Err(self.not_found(d, "delete manifest"));
        }
        index["manifests"] = Value::Array(entries);
        self.write_index(&index).await
    }
}
