//! Pushing an engine image after a build, through the registry room's `push_from_engine`
//! (export, gzip, upload only missing blobs, put the manifest) to a `Distribution` client. Further
//! tags of the same repository get the same manifest bytes put under their tag (no re-export).

use std::collections::BTreeMap;

use bollard::Docker;

use super::{emit, BuildError, BuildEvent};
use crate::events::Observer;
use crate::registry::engine::push_from_engine;
use crate::registry::{CopyOptions, Distribution, DistributionOptions, Registry};
use crate::{Digest, ImageRef};

/// Push `image` (an ID or name known to the engine) under every reference in `tags`; returns the
/// manifest digest of the first.
pub(crate) async fn push_tags(
    docker: &Docker,
    image: &str,
    tags: &[ImageRef],
    options: &DistributionOptions,
    observer: &dyn Observer,
) -> Result<Option<Digest>, BuildError> {
    let mut clients: BTreeMap<String, Distribution> = BTreeMap::new();
    // repository name -> the reference already pushed there
    let mut pushed: BTreeMap<String, ImageRef> = BTreeMap::new();
    let mut first = None;
    for r in tags {
        let action = format!("pushing {r}");
        if !clients.contains_key(r.registry()) {
            let client = Distribution::connect(r.registry(), options.clone())
                .await
                .map_err(|e| BuildError::registry(action.clone(), e))?;
            clients.insert(r.registry().to_string(), client);
        }
        let Some(client) = clients.get(r.registry()) else { continue };
        let digest = match pushed.get(&r.name()) {
            Some(done) => {
                let manifest = client.get_manifest(done).await.map_err(|e| BuildError::registry(action.clone(), e))?;
                client.put_manifest(r, &manifest).await.map_err(|e| BuildError::registry(action.clone(), e))?
            }
            None => push_from_engine(docker, image, client, r, &CopyOptions::default(), observer)
                .await
                .map_err(|e| BuildError::registry(action.clone(), e))?,
        };
        pushed.entry(r.name()).or_insert_with(|| r.pinned(digest.clone()));
        emit(observer, BuildEvent::Message { text: format!("pushed {r} {digest}") });
        first.get_or_insert(digest);
    }
    Ok(first)
}
