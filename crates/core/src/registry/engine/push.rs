//! Push an image from the Docker Engine: export it (`docker save` archive), gzip each layer
//! (deterministically: no timestamp in the gzip header, so the same image gives the same digest),
//! upload the missing blobs in parallel, then PUT a Docker v2 schema 2 manifest.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;

use super::engine_error;
use crate::digest::{Digest, Sha256Hasher};
use crate::events::{Event, Observer};
use crate::registry::{
    BlobSource, CopyOptions, ManifestFormat, RawManifest, Registry, RegistryError, RegistryEvent, DOCKER_MANIFEST,
    OCI_MANIFEST,
};
use crate::ImageRef;

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveEntry {
    config: String,
    layers: Vec<String>,
}

#[derive(Clone)]
struct Blob {
    digest: Digest,
    size: u64,
    path: PathBuf,
}

/// Export `image` from the engine to `dir/archive` and unpack it into `dir/x`.
async fn export(docker: &bollard::Docker, image: &str, dir: &Path) -> Result<PathBuf, RegistryError> {
    let archive = dir.join("archive.tar");
    let mut file =
        tokio::fs::File::create(&archive).await.map_err(|e| RegistryError::io(archive.display(), "create", e))?;
    let mut stream = docker.export_image(image);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| engine_error(image, "export", e))?;
        file.write_all(&chunk).await.map_err(|e| RegistryError::io(archive.display(), "write", e))?;
    }
    file.flush().await.map_err(|e| RegistryError::io(archive.display(), "write", e))?;
    let out = dir.join("x");
    let (a, o) = (archive.clone(), out.clone());
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        tar::Archive::new(std::fs::File::open(&a)?).unpack(&o)?;
        std::fs::remove_file(&a)
    })
    .await
    .map_err(|e| engine_error(image, "export", e))?
    .map_err(|e| RegistryError::io(archive.display(), "unpack", e))?;
    Ok(out)
}

/// Gzip `src` into `dst` (no timestamp, fast level), returning the compressed digest and size.
fn gzip_file(src: &Path, dst: &Path) -> std::io::Result<(Digest, u64)> {
    struct HashingWriter<W: Write> {
        inner: W,
        hasher: Sha256Hasher,
        size: u64,
    }
    impl<W: Write> Write for HashingWriter<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = self.inner.write(buf)?;
            self.hasher.update(&buf[..n]);
            self.size += n as u64;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    let out = HashingWriter {
        inner: std::io::BufWriter::new(std::fs::File::create(dst)?),
        hasher: Sha256Hasher::new(),
        size: 0,
    };
    let mut gz = flate2::GzBuilder::new().mtime(0).write(out, flate2::Compression::fast());
    let mut input = std::fs::File::open(src)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        gz.write_all(&buf[..n])?;
    }
    let mut out = gz.finish()?;
    out.flush()?;
    Ok((out.hasher.finish(), out.size))
}

async fn compress(image: String, src: PathBuf, dst_path: PathBuf) -> Result<Blob, RegistryError> {
    let out = dst_path.clone();
    let (digest, size) = tokio::task::spawn_blocking(move || gzip_file(&src, &out))
        .await
        .map_err(|e| engine_error(&image, "compress", e))?
        .map_err(|e| RegistryError::io(dst_path.display(), "compress layer", e))?;
    Ok(Blob { digest, size, path: dst_path })
}

async fn upload(dst: &dyn Registry, repo: &str, b: Blob, observer: &dyn Observer) -> Result<(), RegistryError> {
    if let Some(size) = dst.blob_exists(repo, &b.digest).await? {
        observer.event(&Event::Registry(RegistryEvent::BlobExists { digest: b.digest.clone(), size }));
        return Ok(());
    }
    dst.put_blob(repo, &b.digest, BlobSource::File { path: b.path.clone(), size: b.size }).await?;
    observer.event(&Event::Registry(RegistryEvent::BlobCopied { digest: b.digest.clone(), size: b.size }));
    Ok(())
}

/// Push `image` (a name or id known to the engine) to `dst_ref` in `dst`; returns the digest.
pub async fn push_from_engine(
    docker: &bollard::Docker,
    image: &str,
    dst: &dyn Registry,
    dst_ref: &ImageRef,
    options: &CopyOptions,
    observer: &dyn Observer,
) -> Result<Digest, RegistryError> {
    let tmp = tempfile::tempdir().map_err(|e| RegistryError::io("temp dir", "create", e))?;
    let root = export(docker, image, tmp.path()).await?;
    let manifest_path = root.join("manifest.json");
    let bytes =
        tokio::fs::read(&manifest_path).await.map_err(|e| RegistryError::io(manifest_path.display(), "read", e))?;
    let entries: Vec<ArchiveEntry> =
        serde_json::from_slice(&bytes).map_err(|e| engine_error(image, "export", format!("bad manifest.json: {e}")))?;
    let entry = entries.into_iter().next().ok_or_else(|| engine_error(image, "export", "empty archive"))?;
    let config_path = root.join(&entry.config);
    let config =
        tokio::fs::read(&config_path).await.map_err(|e| RegistryError::io(config_path.display(), "read", e))?;
    let config_digest = Digest::sha256(&config);
    // Compress layers in parallel on blocking threads (owned items: the futures must be Send).
    let jobs: Vec<(PathBuf, PathBuf)> = entry
        .layers
        .iter()
        .enumerate()
        .map(|(i, rel)| (root.join(rel), tmp.path().join(format!("layer{i}.tar.gz"))))
        .collect();
    let layers: Vec<Blob> = futures::stream::iter(jobs)
        .map(|(src, dst_path): (PathBuf, PathBuf)| compress(image.to_string(), src, dst_path))
        .buffered(options.parallelism.max(1))
        .try_collect()
        .await?;
    let repo = dst_ref.repository();
    futures::stream::iter(layers.clone())
        .map(|b: Blob| upload(dst, repo, b, observer))
        .buffer_unordered(options.parallelism.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    dst.put_blob(repo, &config_digest, BlobSource::Bytes(config.clone().into())).await?;
    let (media_type, config_type, layer_type) = match options.format {
        ManifestFormat::Oci => {
            (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip")
        }
        _ => (
            DOCKER_MANIFEST,
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        ),
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": config_type,
            "size": config.len(),
            "digest": config_digest.to_string(),
        },
        "layers": layers.iter().map(|b| serde_json::json!({
            "mediaType": layer_type,
            "size": b.size,
            "digest": b.digest.to_string(),
        })).collect::<Vec<_>>(),
    });
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| engine_error(image, "push", e))?;
    let raw = RawManifest { media_type: media_type.to_string(), bytes: bytes.into() };
    let digest = dst.put_manifest(dst_ref, &raw).await?;
    observer
        .event(&Event::Registry(RegistryEvent::ManifestPut { reference: dst_ref.to_string(), digest: digest.clone() }));
    Ok(digest)
}
