//! Progress events of the registry room.

use crate::digest::Digest;

/// Something that happened in the registry room.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RegistryEvent {
    /// A free-form progress message.
    Message {
        /// The message.
        text: String,
    },
    /// A blob was already present at the destination.
    BlobExists {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// A blob was mounted from another repository (no bytes moved).
    BlobMounted {
        /// The blob.
        digest: Digest,
        /// The source repository.
        from: String,
    },
    /// A blob was transferred.
    BlobCopied {
        /// The blob.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// A manifest or index was stored.
    ManifestPut {
        /// Where (`registry/repository:tag` or `@digest`).
        reference: String,
        /// Its digest.
        digest: Digest,
    },
    /// A request is retried after a failure.
    Retry {
        /// The operation.
        operation: String,
        /// Attempt number that failed (1-based).
        attempt: u32,
        /// Why.
        reason: String,
    },
    /// A tag was (or, in a dry run, would be) deleted by prune.
    Pruned {
        /// The tag.
        tag: String,
        /// The digest it pointed at.
        digest: Digest,
        /// Whether it was actually deleted.
        applied: bool,
    },
}
