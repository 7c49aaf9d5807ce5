//! Manifest requests: resolve (HEAD with the Accept list, GET as fallback), get, put and delete,
//! always as raw bytes; digests are checked against what was asked for and what the registry says.

use crate::registry::Site;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};

use super::{error_from, Distribution};
use crate::registry::{
    manifest, ManifestDescriptor, RawManifest, RegistryError, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX,
    OCI_MANIFEST,
};
use crate::{Digest, ImageRef};

/// Every manifest media type slipway understands, for `Accept`.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

const DIGEST_HEADER: &str = "docker-content-digest";

fn known(media_type: &str) -> bool {
    [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].contains(&media_type)
}

fn content_type(resp: &reqwest::Response) -> Option<String> {
    let v = resp.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next().unwrap_or(v).trim().to_string())
}

fn header_digest(resp: &reqwest::Response) -> Option<Digest> {
    Digest::parse(resp.headers().get(DIGEST_HEADER)?.to_str().ok()?).ok()
}

fn path(reference: &ImageRef) -> String {
    format!("/v2/{}/manifests/{}", reference.repository(), reference.manifest_reference())
}

/// Resolve a reference to its descriptor.
pub async fn resolve(d: &Distribution, reference: &ImageRef) -> Result<ManifestDescriptor, RegistryError> {
    let op = d.op(reference.repository(), "resolve", "pull");
    let url = d.transport.url(&path(reference));
    let resp = d.transport.send(&op, |c| c.head(&url).header(ACCEPT, ACCEPT_MANIFESTS)).await?;
    if resp.status().as_u16() == 404 {
        return Err(error_from(&d.transport, &op, resp, &reference.manifest_reference()).await);
    }
    if resp.status().is_success() {
        let size = resp.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        if let (Some(digest), Some(media_type), Some(size)) = (header_digest(&resp), content_type(&resp), size) {
            if known(&media_type) && reference.digest().is_none_or(|want| want == &digest) {
                return Ok(ManifestDescriptor { digest, media_type, size });
            }
        }
    }
    // Registries that do not answer HEAD usefully: GET and hash.
    let raw = get(d, reference).await?;
    Ok(ManifestDescriptor { digest: raw.digest(), size: raw.bytes.len() as u64, media_type: raw.media_type })
}

/// Fetch a manifest's exact bytes.
pub async fn get(d: &Distribution, reference: &ImageRef) -> Result<RawManifest, RegistryError> {
    let op = d.op(reference.repository(), "get manifest", "pull");
    let url = d.transport.url(&path(reference));
    let resp = d.transport.send(&op, |c| c.get(&url).header(ACCEPT, ACCEPT_MANIFESTS)).await?;
    if !resp.status().is_success() {
        return Err(error_from(&d.transport, &op, resp, &reference.manifest_reference()).await);
    }
    let declared = header_digest(&resp);
    let ctype = content_type(&resp);
    let bytes = resp.bytes().await.map_err(|e| RegistryError::Unavailable {
        at: Site::boxed(d.transport.host.clone(), op.repository.clone(), op.operation.to_string()),
        attempts: 1,
        last_error: e.without_url().to_string(),
    })?;
    let actual = Digest::sha256(&bytes);
    let expected = reference.digest().cloned().or(declared.filter(|d| d.algorithm() == "sha256"));
    if let Some(expected) = expected {
        if expected != actual {
            return Err(RegistryError::mismatch(
                d.transport.host.clone(),
                &op.repository,
                op.operation,
                expected,
                actual,
            ));
        }
    }
    let media_type = match ctype {
        Some(t) if known(&t) => t,
        _ => manifest::detect_media_type(&bytes),
    };
    Ok(RawManifest { media_type, bytes })
}

/// Store a manifest under the reference's tag (or digest).
pub async fn put(d: &Distribution, reference: &ImageRef, m: &RawManifest) -> Result<Digest, RegistryError> {
    let op = d.op(reference.repository(), "put manifest", "pull,push");
    let digest = m.digest();
    if let Some(want) = reference.digest() {
        if want != &digest {
            return Err(RegistryError::mismatch(
                d.transport.host.clone(),
                &op.repository,
                op.operation,
                want.clone(),
                digest,
            ));
        }
    }
    let url = d.transport.url(&path(reference));
    let resp = d
        .transport
        .send(&op, |c| c.put(&url).header(CONTENT_TYPE, m.media_type.as_str()).body(m.bytes.clone()))
        .await?;
    if !resp.status().is_success() {
        return Err(error_from(&d.transport, &op, resp, &reference.manifest_reference()).await);
    }
    if let Some(declared) = header_digest(&resp) {
        if declared != digest {
            return Err(RegistryError::mismatch(
                d.transport.host.clone(),
                &op.repository,
                op.operation,
                digest,
                declared,
            ));
        }
    }
    Ok(digest)
}

/// Delete a manifest by digest (removes every tag pointing at it).
pub async fn delete(d: &Distribution, repository: &str, digest: &Digest) -> Result<(), RegistryError> {
    let op = d.op(repository, "delete manifest", "delete");
    let url = d.transport.url(&format!("/v2/{repository}/manifests/{digest}"));
    let resp = d.transport.send(&op, |c| c.delete(&url)).await?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(error_from(&d.transport, &op, resp, &digest.to_string()).await)
    }
}
