//! Progress events of the build room.

/// Something that happened in the build room.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BuildEvent {
    /// A free-form progress message.
    Message {
        /// The message.
        text: String,
    },
    /// The build context was assembled.
    ContextReady {
        /// Number of files and directories sent.
        entries: usize,
        /// Size of the context tar in bytes.
        bytes: u64,
    },
    /// A Dockerfile step started (`Step 2/5 : RUN make`).
    Step {
        /// The step line as the engine printed it.
        step: String,
    },
    /// One line of build output.
    Output {
        /// The line, without its newline.
        line: String,
    },
    /// A layer was assembled by `OciBuild`.
    LayerBuilt {
        /// Platform (`linux/amd64`).
        platform: String,
        /// Compressed digest.
        digest: String,
        /// Compressed size in bytes.
        size: u64,
    },
    /// A blob was uploaded (or found already present) while writing the result.
    BlobWritten {
        /// Its digest.
        digest: String,
        /// Whether the destination already had it.
        skipped: bool,
    },
    /// The image was tagged.
    Tagged {
        /// The tag.
        reference: String,
    },
    /// The image (or index) is complete.
    Finished {
        /// The resulting digest.
        digest: String,
    },
}
