//! Writing an assembled image: to a `Registry` (blobs the destination lacks, then manifests,
//! then the tag), or into the engine as a `docker load` archive.

use bollard::query_parameters::ImportImageOptions;
use bollard::Docker;
use bytes::Bytes;
use futures::StreamExt;

use super::assemble::{BuiltImage, BuiltManifest, LayerData};
use super::base::read_blob;
use crate::build::{emit, BuildError, BuildEvent};
use crate::events::Observer;
use crate::registry::{BlobSource, MountOutcome, Registry};
use crate::{Digest, ImageRef};

fn reg_err(action: String) -> impl FnOnce(crate::registry::RegistryError) -> BuildError {
    move |source| BuildError::registry(action, source)
}

/// Upload one blob unless the destination has it.
async fn ensure_blob(
    dest: &dyn Registry,
    repo: &str,
    digest: &Digest,
    data: BlobOrigin<'_>,
    observer: &dyn Observer,
) -> Result<(), BuildError> {
    let action = format!("uploading blob {digest} to {}/{repo}", dest.name());
    if dest.blob_exists(repo, digest).await.map_err(reg_err(action.clone()))?.is_some() {
        emit(observer, BuildEvent::BlobWritten { digest: digest.to_string(), skipped: true });
        return Ok(());
    }
    let bytes = match data {
        BlobOrigin::Bytes(b) => b.clone(),
        BlobOrigin::Base { registry, repository } => {
            if registry.name() == dest.name() && repository != repo {
                let outcome = dest.mount_blob(repo, digest, repository).await.map_err(reg_err(action.clone()))?;
                if outcome == MountOutcome::Mounted {
                    emit(observer, BuildEvent::BlobWritten { digest: digest.to_string(), skipped: true });
                    return Ok(());
                }
            }
            read_blob(registry, repository, digest).await?
        }
    };
    dest.put_blob(repo, digest, BlobSource::Bytes(bytes)).await.map_err(reg_err(action))?;
    emit(observer, BuildEvent::BlobWritten { digest: digest.to_string(), skipped: false });
    Ok(())
}

enum BlobOrigin<'a> {
    Bytes(&'a Bytes),
    Base { registry: &'a dyn Registry, repository: &'a str },
}

fn origin<'a>(data: &'a LayerData, base: Option<&'a dyn Registry>) -> Result<BlobOrigin<'a>, BuildError> {
    match data {
        LayerData::Built(b) => Ok(BlobOrigin::Bytes(b)),
        LayerData::Base { repository } => {
            let registry = base.ok_or_else(|| BuildError::Invalid("base layers need the base registry".into()))?;
            Ok(BlobOrigin::Base { registry, repository })
        }
    }
}

pub(crate) async fn to_registry(
    built: &BuiltImage,
    base: Option<&dyn Registry>,
    dest: &dyn Registry,
    reference: &ImageRef,
    observer: &dyn Observer,
) -> Result<(), BuildError> {
    let repo = reference.repository();
    for m in &built.manifests {
        for l in &m.layers {
            ensure_blob(dest, repo, &l.descriptor.digest, origin(&l.data, base)?, observer).await?;
        }
        ensure_blob(dest, repo, &m.config_digest, BlobOrigin::Bytes(&m.config), observer).await?;
        if built.index.is_some() {
            let pinned = reference.pinned(m.manifest.digest());
            dest.put_manifest(&pinned, &m.manifest).await.map_err(reg_err(format!(
                "storing manifest {} in {}",
                pinned,
                dest.name()
            )))?;
        }
    }
    dest.put_manifest(reference, built.top())
        .await
        .map_err(reg_err(format!("storing {reference} in {}", dest.name())))?;
    Ok(())
}

/// The platform to load: the one matching this machine, else the first.
fn pick_for_engine(built: &BuiltImage) -> &BuiltManifest {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    built.manifests.iter().find(|m| m.platform.architecture == arch).unwrap_or(&built.manifests[0])
}

/// A `docker save` style archive (`manifest.json`, config, gzip layers, which the engine
/// decompresses) for one platform.
pub(crate) async fn engine_archive(
    built: &BuiltImage,
    base: Option<&dyn Registry>,
    tag: &ImageRef,
) -> Result<Vec<u8>, BuildError> {
    let m = pick_for_engine(built);
    let mut tar = tar::Builder::new(Vec::new());
    let werr = |e| BuildError::io("writing engine archive", "<memory>", e);
    let add = |tar: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, data).map_err(werr)
    };
    let config_name = format!("{}.json", m.config_digest.hex());
    add(&mut tar, &config_name, &m.config)?;
    let mut layer_names = Vec::new();
    for l in &m.layers {
        let name = format!("{}/layer.tar", l.descriptor.digest.hex());
        let bytes = match origin(&l.data, base)? {
            BlobOrigin::Bytes(b) => b.clone(),
            BlobOrigin::Base { registry, repository } => read_blob(registry, repository, &l.descriptor.digest).await?,
        };
        add(&mut tar, &name, &bytes)?;
        layer_names.push(name);
    }
    let repo_tag = format!("{}:{}", tag.name(), tag.tag().unwrap_or("latest"));
    let manifest = serde_json::json!([{ "Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names }]);
    let manifest = serde_json::to_vec(&manifest).map_err(|e| BuildError::Invalid(e.to_string()))?;
    add(&mut tar, "manifest.json", &manifest)?;
    tar.into_inner().map_err(werr)
}

pub(crate) async fn to_engine(
    built: &BuiltImage,
    base: Option<&dyn Registry>,
    docker: &Docker,
    tag: &ImageRef,
    observer: &dyn Observer,
) -> Result<(), BuildError> {
    let archive = engine_archive(built, base, tag).await?;
    let mut stream = docker.import_image(
        ImportImageOptions { quiet: true, platform: None },
        bollard::body_full(archive.into()),
        None,
    );
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| BuildError::engine(format!("loading {tag} into the engine"), e))?;
        if let Some(msg) = info.error_detail.and_then(|d| d.message) {
            return Err(BuildError::Engine { action: format!("loading {tag} into the engine"), message: msg });
        }
        if let Some(s) = info.stream.filter(|s| !s.trim().is_empty()) {
            emit(observer, BuildEvent::Message { text: s.trim().to_string() });
        }
    }
    Ok(())
}
