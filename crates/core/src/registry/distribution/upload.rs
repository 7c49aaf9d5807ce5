//! Blob writes: monolithic upload (POST then PUT), chunked upload (PATCH with `Content-Range`,
//! recovering from the registry's reported offset after a failed chunk), and cross-repository
//! mount (201 mounted; 202 means "upload instead", not an error).

use crate::registry::Site;
use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::auth::repository_scope;
use super::transport::Op;
use super::{error_from, Distribution};
use crate::registry::{BlobSource, MountOutcome, RegistryError};
use crate::Digest;

const OCTET: &str = "application/octet-stream";

fn location(d: &Distribution, op: &Op, resp: &reqwest::Response) -> Result<String, RegistryError> {
    resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(|l| d.transport.resolve_location(l)).ok_or_else(
        || RegistryError::Http {
            at: Site::boxed(d.transport.host.clone(), op.repository.clone(), op.operation.to_string()),
            status: resp.status().as_u16(),
            message: "no Location header in the upload answer".into(),
        },
    )
}

fn with_digest(url: &str, digest: &Digest) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.query_pairs_mut().append_pair("digest", &digest.to_string());
            u.to_string()
        }
        Err(_) => format!("{url}{}digest={digest}", if url.contains('?') { '&' } else { '?' }),
    }
}

async fn start(d: &Distribution, op: &Op, repository: &str) -> Result<String, RegistryError> {
    let url = d.transport.url(&format!("/v2/{repository}/blobs/uploads/"));
    let resp = d.transport.send(op, |c| c.post(&url).header(CONTENT_LENGTH, 0)).await?;
    if resp.status().as_u16() != 202 {
        return Err(error_from(&d.transport, op, resp, "upload session").await);
    }
    location(d, op, &resp)
}

async fn read_range(source: &BlobSource, start: u64, end: u64) -> Result<Bytes, RegistryError> {
    match source {
        BlobSource::Bytes(b) => Ok(b.slice(start as usize..end as usize)),
        BlobSource::File { path, .. } => {
            let mut f = tokio::fs::File::open(path).await.map_err(|e| RegistryError::io(path.display(), "open", e))?;
            f.seek(std::io::SeekFrom::Start(start)).await.map_err(|e| RegistryError::io(path.display(), "seek", e))?;
            let mut buf = vec![0u8; (end - start) as usize];
            f.read_exact(&mut buf).await.map_err(|e| RegistryError::io(path.display(), "read", e))?;
            Ok(buf.into())
        }
    }
}

async fn finish(d: &Distribution, op: &Op, loc: &str, digest: &Digest, body: Bytes) -> Result<(), RegistryError> {
    let url = with_digest(loc, digest);
    let resp = d
        .transport
        .send(op, |c| c.put(&url).header(CONTENT_TYPE, OCTET).header(CONTENT_LENGTH, body.len()).body(body.clone()))
        .await?;
    if resp.status().as_u16() != 201 {
        let status = resp.status().as_u16();
        let err = error_from(&d.transport, op, resp, &digest.to_string()).await;
        // The registry checks the digest itself: DIGEST_INVALID means the bytes were wrong.
        if status == 400 {
            if let RegistryError::Http { message, .. } = &err {
                if message.starts_with("DIGEST_INVALID") {
                    return Err(RegistryError::mismatch(
                        d.transport.host.clone(),
                        &op.repository,
                        op.operation,
                        digest.clone(),
                        Digest::sha256(&body),
                    ));
                }
            }
        }
        return Err(err);
    }
    Ok(())
}

/// Upload a blob unless the repository already has it.
pub async fn put(d: &Distribution, repository: &str, digest: &Digest, source: BlobSource) -> Result<(), RegistryError> {
    if super::blobs::exists(d, repository, digest).await?.is_some() {
        return Ok(());
    }
    let op = d.op(repository, "upload blob", "pull,push");
    let size = source.size();
    if size <= d.options.chunk_size {
        let body = read_range(&source, 0, size).await?;
        if Digest::sha256(&body) != *digest {
            return Err(RegistryError::mismatch(
                d.transport.host.clone(),
                repository,
                op.operation,
                digest.clone(),
                Digest::sha256(&body),
            ));
        }
        let loc = start(d, &op, repository).await?;
        return finish(d, &op, &loc, digest, body).await;
    }
    chunked(d, &op, repository, digest, &source).await
}

/// The next byte the registry expects, from an upload's `Range: 0-N` header.
fn next_offset(resp: &reqwest::Response) -> Option<u64> {
    let range = resp.headers().get("range")?.to_str().ok()?;
    let end: u64 = range.trim_start_matches("bytes=").split_once('-')?.1.parse().ok()?;
    Some(if end == 0 { 0 } else { end + 1 })
}

async fn chunked(
    d: &Distribution,
    op: &Op,
    repository: &str,
    digest: &Digest,
    source: &BlobSource,
) -> Result<(), RegistryError> {
    let size = source.size();
    let chunk = d.options.chunk_size;
    let mut loc = start(d, op, repository).await?;
    let mut offset = 0u64;
    let mut recoveries = 0u32;
    while offset < size {
        let end = (offset + chunk).min(size);
        let body = read_range(source, offset, end).await?;
        let url = loc.clone();
        let range = format!("{offset}-{}", end - 1);
        let sent = d
            .transport
            .send_once(op, |c| {
                c.patch(&url)
                    .header(CONTENT_TYPE, OCTET)
                    .header("content-range", range.as_str())
                    .header(CONTENT_LENGTH, body.len())
                    .body(body.clone())
            })
            .await;
        match sent {
            Ok(resp) if resp.status().as_u16() == 202 => {
                offset = next_offset(&resp).unwrap_or(end);
                loc = location(d, op, &resp)?;
            }
            Ok(resp) => return Err(error_from(&d.transport, op, resp, &digest.to_string()).await),
            Err(e @ RegistryError::Unavailable { .. }) => {
                recoveries += 1;
                if recoveries >= d.options.retry.max_attempts {
                    return Err(e);
                }
                tokio::time::sleep(d.options.retry.delay(recoveries, None)).await;
                // Ask the registry how much it has; restart the session if it lost it.
                let status_url = loc.clone();
                let resp = d.transport.send(op, |c| c.get(&status_url)).await?;
                if resp.status().as_u16() == 204 {
                    offset = next_offset(&resp).unwrap_or(offset);
                    loc = location(d, op, &resp).unwrap_or(loc);
                    tracing::debug!(registry = %d.transport.host, offset, "chunked upload recovered");
                } else {
                    loc = start(d, op, repository).await?;
                    offset = 0;
                }
            }
            Err(e) => return Err(e),
        }
    }
    finish(d, op, &loc, digest, Bytes::new()).await
}

/// Mount `digest` from `from` into `repository`.
pub async fn mount(
    d: &Distribution,
    repository: &str,
    digest: &Digest,
    from: &str,
) -> Result<MountOutcome, RegistryError> {
    let mut op = d.op(repository, "mount blob", "pull,push");
    op.scopes.push(repository_scope(from, "pull"));
    let url = d.transport.url(&format!("/v2/{repository}/blobs/uploads/"));
    let query = [("mount", digest.to_string()), ("from", from.to_string())];
    let resp = d.transport.send(&op, |c| c.post(&url).query(&query).header(CONTENT_LENGTH, 0)).await?;
    match resp.status().as_u16() {
        201 => Ok(MountOutcome::Mounted),
        202 => {
            // An upload session was opened instead: close it, the caller uploads.
            if let Ok(loc) = location(d, &op, &resp) {
                let _ = d.transport.send_once(&op, |c| c.delete(&loc)).await;
            }
            Ok(MountOutcome::UploadInstead)
        }
        _ => Err(error_from(&d.transport, &op, resp, &digest.to_string()).await),
    }
}
