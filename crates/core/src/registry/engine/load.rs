//! Load an image from any [`Registry`] (typically a [`crate::registry::Layout`]) into the Docker
//! Engine: pick the engine's platform from an index, write a `docker load` archive (manifest.json,
//! config, layer blobs as stored: the engine decompresses them), and load it under a tag.

use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::engine_error;
use crate::digest::Digest;
use crate::registry::manifest::{self, ManifestContent};
use crate::registry::{RawManifest, Registry, RegistryError};
use crate::ImageRef;

fn engine_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

async fn pick_platform(
    docker: &bollard::Docker,
    src: &dyn Registry,
    src_ref: &ImageRef,
    raw: RawManifest,
) -> Result<RawManifest, RegistryError> {
    let ManifestContent::Index { manifests } = manifest::parse(&src_ref.to_string(), &raw)? else {
        return Ok(raw);
    };
    let arch = docker
        .version()
        .await
        .ok()
        .and_then(|v| v.arch)
        .map(|a| engine_arch(&a).to_string())
        .unwrap_or_else(|| "amd64".to_string());
    let child = manifests
        .iter()
        .find(|m| m.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == arch))
        .or_else(|| manifests.first())
        .ok_or_else(|| RegistryError::InvalidManifest {
            reference: src_ref.to_string(),
            reason: "empty index".into(),
        })?;
    src.get_manifest(&src_ref.pinned(child.digest.clone())).await
}

async fn append_blob(
    tar: &mut tokio_tar_writer::Writer,
    src: &dyn Registry,
    repo: &str,
    digest: &Digest,
    name: &str,
) -> Result<(), RegistryError> {
    let mut stream = src.get_blob(repo, digest).await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk?);
    }
    tar.append(name, &bytes).await
}

/// A minimal async tar writer over a file (ustar headers via the `tar` crate).
mod tokio_tar_writer {
    use super::*;

    pub struct Writer {
        pub file: tokio::fs::File,
        pub path: String,
    }

    impl Writer {
        pub async fn append(&mut self, name: &str, bytes: &[u8]) -> Result<(), RegistryError> {
            let mut header = tar::Header::new_ustar();
            header.set_path(name).map_err(|e| RegistryError::io(&self.path, "tar header", e))?;
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            let pad = (512 - bytes.len() % 512) % 512;
            let w = |e| RegistryError::io(&self.path, "write", e);
            self.file.write_all(header.as_bytes()).await.map_err(w)?;
            self.file.write_all(bytes).await.map_err(w)?;
            self.file.write_all(&vec![0u8; pad]).await.map_err(w)?;
            Ok(())
        }

        pub async fn finish(mut self) -> Result<(), RegistryError> {
            let w = |e| RegistryError::io(&self.path, "write", e);
            self.file.write_all(&[0u8; 1024]).await.map_err(w)?;
            self.file.flush().await.map_err(w)
        }
    }
}

/// Load `src_ref` from `src` into the engine as `tag` (`app:v1`); returns the manifest digest.
pub async fn load_into_engine(
    docker: &bollard::Docker,
    src: &dyn Registry,
    src_ref: &ImageRef,
    tag: &str,
) -> Result<Digest, RegistryError> {
    let raw = src.get_manifest(src_ref).await?;
    let raw = pick_platform(docker, src, src_ref, raw).await?;
    let digest = raw.digest();
    let ManifestContent::Image { config, layers } = manifest::parse(&src_ref.to_string(), &raw)? else {
        return Err(RegistryError::InvalidManifest { reference: src_ref.to_string(), reason: "nested index".into() });
    };
    let tmp = tempfile::NamedTempFile::new().map_err(|e| RegistryError::io("temp dir", "create", e))?;
    let path = tmp.path().display().to_string();
    let file = tokio::fs::File::create(tmp.path()).await.map_err(|e| RegistryError::io(&path, "create", e))?;
    let mut tar = tokio_tar_writer::Writer { file, path: path.clone() };
    let repo = src_ref.repository();
    let config_name = format!("{}.json", config.digest.hex());
    append_blob(&mut tar, src, repo, &config.digest, &config_name).await?;
    let mut layer_names = Vec::new();
    for l in &layers {
        let name = format!("{}/layer.tar", l.digest.hex());
        append_blob(&mut tar, src, repo, &l.digest, &name).await?;
        layer_names.push(name);
    }
    let manifest = serde_json::json!([{ "Config": config_name, "RepoTags": [tag], "Layers": layer_names }]);
    tar.append("manifest.json", manifest.to_string().as_bytes()).await?;
    tar.finish().await?;
    let file = tokio::fs::File::open(tmp.path()).await.map_err(|e| RegistryError::io(&path, "open", e))?;
    let body = tokio_util::io::ReaderStream::new(file);
    let options = bollard::query_parameters::ImportImageOptionsBuilder::new().quiet(true).build();
    let mut progress = docker.import_image_stream(options, body, None);
    while let Some(item) = progress.next().await {
        let info = item.map_err(|e| engine_error(tag, "load", e))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(engine_error(tag, "load", err));
        }
    }
    Ok(digest)
}
