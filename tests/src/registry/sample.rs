//! Sample images made in memory for registry tests: real gzip'd tar layers with random content,
//! a config whose `diff_ids` match, and a manifest in OCI or Docker media types; plus two-platform
//! indexes. What they describe can be pulled by `docker pull` and inspected by `skopeo`.

use std::io::Write;

use bytes::Bytes;
use rand::RngCore;
use slipway::registry::{
    BlobSource, RawManifest, Registry, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST,
};
use slipway::{Digest, ImageRef};

/// Which media types a sample uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// OCI image manifest and layers.
    Oci,
    /// Docker v2 schema 2.
    Docker,
}

/// An image held in memory.
#[derive(Debug, Clone)]
pub struct SampleImage {
    /// Config blob.
    pub config: Bytes,
    /// Compressed layer blobs.
    pub layers: Vec<Bytes>,
    /// The manifest.
    pub manifest: RawManifest,
}

impl SampleImage {
    /// Every blob (config first) with its digest.
    pub fn blobs(&self) -> Vec<(Digest, Bytes)> {
        std::iter::once(&self.config).chain(self.layers.iter()).map(|b| (Digest::sha256(b), b.clone())).collect()
    }
    /// Total blob bytes.
    pub fn blob_bytes(&self) -> u64 {
        self.blobs().iter().map(|(_, b)| b.len() as u64).sum()
    }
    /// The manifest digest.
    pub fn digest(&self) -> Digest {
        self.manifest.digest()
    }
    /// Upload every blob, then the manifest under `reference`.
    pub async fn push(&self, reg: &dyn Registry, reference: &ImageRef) -> anyhow::Result<Digest> {
        for (d, b) in self.blobs() {
            reg.put_blob(reference.repository(), &d, BlobSource::Bytes(b)).await?;
        }
        Ok(reg.put_manifest(reference, &self.manifest).await?)
    }
}

fn tar_gz_with_file(name: &str, content: &[u8]) -> anyhow::Result<(Bytes, Digest)> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, name, content)?;
    let tar = tar.into_inner()?;
    let diff_id = Digest::sha256(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar)?;
    Ok((gz.finish()?.into(), diff_id))
}

/// An image with one layer per entry of `layer_sizes` (random, incompressible content), for
/// `architecture` (`amd64`, `arm64`).
pub fn sample_image(flavor: Flavor, layer_sizes: &[usize], architecture: &str) -> anyhow::Result<SampleImage> {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    let mut rng = rand::rng();
    for (i, size) in layer_sizes.iter().enumerate() {
        let mut content = vec![0u8; *size];
        rng.fill_bytes(&mut content);
        let (blob, diff) = tar_gz_with_file(&format!("layer{i}.bin"), &content)?;
        layers.push(blob);
        diff_ids.push(diff.to_string());
    }
    let config = serde_json::json!({
        "architecture": architecture,
        "os": "linux",
        "created": chrono::Utc::now().to_rfc3339(),
        "config": {"Cmd": ["/layer0.bin"], "Labels": {"org.slipway.test": "sample"}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = Bytes::from(serde_json::to_vec(&config)?);
    let (mt, cfg_mt, layer_mt) = match flavor {
        Flavor::Oci => {
            (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip")
        }
        Flavor::Docker => (
            DOCKER_MANIFEST,
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        ),
    };
    let layer_descs: Vec<_> = layers
        .iter()
        .map(|l| serde_json::json!({"mediaType": layer_mt, "digest": Digest::sha256(l).to_string(), "size": l.len()}))
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": mt,
        "config": {"mediaType": cfg_mt, "digest": Digest::sha256(&config).to_string(), "size": config.len()},
        "layers": layer_descs,
    });
    let manifest = RawManifest { media_type: mt.to_string(), bytes: serde_json::to_vec(&manifest)?.into() };
    Ok(SampleImage { config, layers, manifest })
}

/// An index over `images` (each paired with its architecture).
pub fn sample_index(flavor: Flavor, images: &[(&SampleImage, &str)]) -> anyhow::Result<RawManifest> {
    let mt = match flavor {
        Flavor::Oci => OCI_INDEX,
        Flavor::Docker => DOCKER_MANIFEST_LIST,
    };
    let entries: Vec<_> = images
        .iter()
        .map(|(img, arch)| {
            serde_json::json!({
                "mediaType": img.manifest.media_type,
                "digest": img.digest().to_string(),
                "size": img.manifest.bytes.len(),
                "platform": {"architecture": arch, "os": "linux"},
            })
        })
        .collect();
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": mt, "manifests": entries});
    Ok(RawManifest { media_type: mt.to_string(), bytes: serde_json::to_vec(&index)?.into() })
}
