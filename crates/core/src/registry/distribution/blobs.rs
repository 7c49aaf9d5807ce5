//! Blob reads: existence (HEAD) and download, streamed, verified against the digest, and resumed
//! with `Range` from the byte reached when the connection drops mid-body.

use crate::registry::Site;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use reqwest::header::RANGE;

use super::transport::{Op, Transport};
use super::{error_from, Distribution};
use crate::registry::verify::{verified, StreamOrigin};
use crate::registry::{BlobStream, RegistryError};
use crate::Digest;

/// The blob's size when the repository has it.
pub async fn exists(d: &Distribution, repository: &str, digest: &Digest) -> Result<Option<u64>, RegistryError> {
    let op = d.op(repository, "check blob", "pull");
    let url = d.transport.url(&format!("/v2/{repository}/blobs/{digest}"));
    let resp = d.transport.send(&op, |c| c.head(&url)).await?;
    match resp.status().as_u16() {
        200 => Ok(Some(
            resp.headers()
                .get(reqwest::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        )),
        404 => Ok(None),
        _ => Err(error_from(&d.transport, &op, resp, &digest.to_string()).await),
    }
}

struct Download {
    transport: Arc<Transport>,
    op: Op,
    url: String,
    received: u64,
    inner: BoxStream<'static, reqwest::Result<Bytes>>,
    resumes_left: u32,
    done: bool,
}

impl Download {
    fn failed(&self, last_error: String) -> RegistryError {
        RegistryError::Unavailable {
            at: Site::boxed(self.transport.host.clone(), self.op.repository.clone(), self.op.operation.to_string()),
            attempts: 1,
            last_error,
        }
    }

    /// Ask for the rest of the blob after a dropped connection.
    async fn resume(&mut self) -> Result<(), RegistryError> {
        let range = format!("bytes={}-", self.received);
        let url = self.url.clone();
        let resp = self.transport.send(&self.op, |c| c.get(&url).header(RANGE, range.as_str())).await?;
        if resp.status().as_u16() != 206 {
            return Err(self.failed(format!("resume at byte {} answered HTTP {}", self.received, resp.status())));
        }
        tracing::debug!(registry = %self.transport.host, at = self.received, "resumed blob download");
        self.inner = resp.bytes_stream().boxed();
        Ok(())
    }
}

/// Download a blob as a verified stream.
pub async fn get(d: &Distribution, repository: &str, digest: &Digest) -> Result<BlobStream, RegistryError> {
    let op = d.op(repository, "get blob", "pull");
    let url = d.transport.url(&format!("/v2/{repository}/blobs/{digest}"));
    let resp = d.transport.send(&op, |c| c.get(&url)).await?;
    if !resp.status().is_success() {
        return Err(error_from(&d.transport, &op, resp, &digest.to_string()).await);
    }
    let state = Download {
        transport: d.transport.clone(),
        op,
        url,
        received: 0,
        inner: resp.bytes_stream().boxed(),
        resumes_left: d.options.max_resumes,
        done: false,
    };
    let raw = stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            match st.inner.next().await {
                None => return None,
                Some(Ok(b)) => {
                    st.received += b.len() as u64;
                    return Some((Ok(b), st));
                }
                Some(Err(e)) => {
                    if st.resumes_left == 0 {
                        st.done = true;
                        let err = st.failed(format!("connection dropped: {}", e.without_url()));
                        return Some((Err(err), st));
                    }
                    st.resumes_left -= 1;
                    if let Err(err) = st.resume().await {
                        st.done = true;
                        return Some((Err(err), st));
                    }
                }
            }
        }
    })
    .boxed();
    Ok(verified(
        raw,
        digest.clone(),
        StreamOrigin { registry: d.transport.host.clone(), repository: repository.into() },
    ))
}
