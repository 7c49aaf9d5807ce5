//! Operations on [`Location`]s, for the faces (CLI, Python): open the right [`Registry`] for a
//! reference (a [`Distribution`] client or a [`Layout`]), then resolve, list, inspect, copy, push,
//! load, delete or prune. One client is shared when source and destination are the same registry,
//! so promotions mount and tokens are reused.

use super::distribution::{Distribution, DistributionOptions};
use super::engine::{load_into_engine, push_from_engine};
use super::inspect::{inspect, ImageInfo};
use super::{
    copy, prune, CopyOptions, Layout, Location, ManifestFormat, PruneOutcome, PruneRules, Registry, RegistryError,
};
use crate::digest::Digest;
use crate::events::Observer;
use crate::ImageRef;

/// An opened store and the reference to use with it.
pub struct Opened {
    /// The store.
    pub registry: Box<dyn Registry>,
    /// The reference in the store's terms.
    pub reference: ImageRef,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").field("registry", &self.registry.name()).field("reference", &self.reference).finish()
    }
}

/// Open the store of `location`; a layout is created when `create` is set (destinations).
pub async fn open(location: &Location, options: &DistributionOptions, create: bool) -> Result<Opened, RegistryError> {
    match location {
        Location::Remote(r) => Ok(Opened {
            registry: Box::new(Distribution::connect(r.registry(), options.clone()).await?),
            reference: r.clone(),
        }),
        Location::Layout(l) => {
            let layout = if create { Layout::create(&l.dir).await? } else { Layout::open(&l.dir).await? };
            Ok(Opened { registry: Box::new(layout), reference: l.image_ref()? })
        }
    }
}

/// The digest `location` points at.
pub async fn digest(location: &Location, options: &DistributionOptions) -> Result<Digest, RegistryError> {
    let o = open(location, options, false).await?;
    Ok(o.registry.resolve(&o.reference).await?.digest)
}

/// The tags of the repository (or layout) of `location`, sorted.
pub async fn list_tags(location: &Location, options: &DistributionOptions) -> Result<Vec<String>, RegistryError> {
    let o = open(location, options, false).await?;
    o.registry.list_tags(o.reference.repository()).await
}

/// Inspect `location`.
pub async fn inspect_location(location: &Location, options: &DistributionOptions) -> Result<ImageInfo, RegistryError> {
    let o = open(location, options, false).await?;
    inspect(o.registry.as_ref(), &o.reference, &location.to_string()).await
}

/// Copy `src` to `dst`; returns the destination digest.
pub async fn copy_location(
    src: &Location,
    dst: &Location,
    options: &DistributionOptions,
    copy_options: &CopyOptions,
    observer: &dyn Observer,
) -> Result<Digest, RegistryError> {
    let s = open(src, options, false).await?;
    if let (Location::Remote(a), Location::Remote(b)) = (src, dst) {
        if a.registry() == b.registry() {
            return copy(s.registry.as_ref(), &s.reference, s.registry.as_ref(), b, copy_options, observer).await;
        }
    }
    if let (Location::Layout(a), Location::Layout(b)) = (src, dst) {
        if a.dir == b.dir {
            return copy(
                s.registry.as_ref(),
                &s.reference,
                s.registry.as_ref(),
                &b.image_ref()?,
                copy_options,
                observer,
            )
            .await;
        }
    }
    let d = open(dst, options, true).await?;
    copy(s.registry.as_ref(), &s.reference, d.registry.as_ref(), &d.reference, copy_options, observer).await
}

/// Push `image`: from the Docker Engine, or from a layout when it is an `oci:` location.
/// Images assembled from the engine get OCI media types in a layout, Docker v2 in a registry.
pub async fn push(
    docker: Option<&bollard::Docker>,
    image: &str,
    dst: &Location,
    options: &DistributionOptions,
    copy_options: &CopyOptions,
    observer: &dyn Observer,
) -> Result<Digest, RegistryError> {
    if image.starts_with("oci:") {
        let src = Location::parse(image)?;
        return copy_location(&src, dst, options, copy_options, observer).await;
    }
    let docker = docker.ok_or_else(|| RegistryError::Engine {
        image: image.to_string(),
        operation: "export".into(),
        reason: "no Docker engine connection".into(),
    })?;
    let d = open(dst, options, true).await?;
    let mut opts = copy_options.clone();
    if matches!(dst, Location::Layout(_)) {
        opts = opts.format(ManifestFormat::Oci);
    }
    push_from_engine(docker, image, d.registry.as_ref(), &d.reference, &opts, observer).await
}

/// Load `src` into the engine as `tag`.
pub async fn load(
    docker: &bollard::Docker,
    src: &Location,
    tag: &str,
    options: &DistributionOptions,
) -> Result<Digest, RegistryError> {
    let s = open(src, options, false).await?;
    load_into_engine(docker, s.registry.as_ref(), &s.reference, tag).await
}

/// Delete what `location` points at (by digest: every tag on that digest goes).
pub async fn remove(location: &Location, options: &DistributionOptions) -> Result<Digest, RegistryError> {
    let o = open(location, options, false).await?;
    let d = o.registry.resolve(&o.reference).await?.digest;
    o.registry.delete_manifest(o.reference.repository(), &d).await?;
    Ok(d)
}

/// Prune the repository of `location` by `rules` (dry run unless `apply`).
pub async fn prune_location(
    location: &Location,
    rules: &PruneRules,
    apply: bool,
    options: &DistributionOptions,
    observer: &dyn Observer,
) -> Result<PruneOutcome, RegistryError> {
    let o = open(location, options, false).await?;
    prune(o.registry.as_ref(), &o.reference, rules, apply, observer).await
}
