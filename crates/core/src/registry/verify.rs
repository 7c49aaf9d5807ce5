//! Digest verification of blob streams, shared by every implementation.

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};

use super::{BlobStream, RegistryError};
use crate::digest::{Digest, Sha256Hasher};

/// Where a stream comes from, for the error if it does not match.
#[derive(Debug, Clone)]
pub struct StreamOrigin {
    /// Registry host or layout path.
    pub registry: String,
    /// Repository.
    pub repository: String,
}

/// Wrap `inner` so that it hashes what passes and ends with a [`RegistryError::DigestMismatch`]
/// (after the last chunk) when the bytes do not hash to `expected`. Consumers must treat any `Err`
/// item as failure of the whole blob.
pub fn verified(
    inner: BoxStream<'static, Result<Bytes, RegistryError>>,
    expected: Digest,
    origin: StreamOrigin,
) -> BlobStream {
    stream::unfold((inner, Some(Sha256Hasher::new())), move |(mut inner, hasher)| {
        let expected = expected.clone();
        let origin = origin.clone();
        async move {
            let mut hasher = hasher?;
            match inner.next().await {
                Some(Ok(b)) => {
                    hasher.update(&b);
                    Some((Ok(b), (inner, Some(hasher))))
                }
                Some(Err(e)) => Some((Err(e), (inner, None))),
                None => {
                    let actual = hasher.finish();
                    if actual == expected {
                        None
                    } else {
                        let e =
                            RegistryError::mismatch(origin.registry, &origin.repository, "get blob", expected, actual);
                        Some((Err(e), (inner, None)))
                    }
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_good_and_fails_bad_streams() {
        let origin = StreamOrigin { registry: "r".into(), repository: "p".into() };
        let chunks = || stream::iter(vec![Ok(Bytes::from_static(b"hel")), Ok(Bytes::from_static(b"lo"))]).boxed();
        let ok: Vec<_> = verified(chunks(), Digest::sha256(b"hello"), origin.clone()).collect().await;
        assert!(ok.iter().all(|r| r.is_ok()));
        let bad: Vec<_> = verified(chunks(), Digest::sha256(b"hellO"), origin).collect().await;
        assert!(matches!(bad.last(), Some(Err(RegistryError::DigestMismatch { .. }))));
    }
}
