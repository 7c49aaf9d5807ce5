//! Builder: turn a build description into an image. `DockerBuild` goes through the engine
//! (Dockerfile, multi-stage target, build args, labels); `OciBuild` assembles layers directly,
//! byte-for-byte reproducible, and writes them to any [`Registry`](crate::registry::Registry) or
//! loads them into the engine. `pack` turns programs of this machine into layers.

pub mod compose;
pub mod context;
pub mod docker;
mod error;
mod event;
pub mod ignore;
pub mod metadata;
pub mod oci;
pub mod pack;
mod push;
pub mod request;
pub mod tags;

use async_trait::async_trait;

pub use compose::{compose_build, ComposeBuildRequest, ComposeImage};
pub use docker::{DockerBuild, EngineBuildOptions};
pub use error::BuildError;
pub use event::BuildEvent;
pub use metadata::BuildMetadata;
pub use oci::{OciBuild, OciOutput};
pub use request::{docker_build, oci_build, DockerBuildRequest, OciBuildRequest};
pub use tags::{parse_key_value, resolve_tags, EventRequest};

use crate::events::{Event, Observer};
use crate::Digest;

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct BuildOutput {
    /// The image ID (the config digest); for a multi-platform `OciBuild`, that of the first platform.
    pub image_id: Option<Digest>,
    /// The manifest (or index) digest: always for `OciBuild`, for `DockerBuild` once pushed.
    pub manifest_digest: Option<Digest>,
    /// The references the image was tagged or stored as.
    pub tags: Vec<String>,
}

impl BuildOutput {
    /// The digest to print: the manifest digest when there is one, else the image ID.
    pub fn digest(&self) -> Option<&Digest> {
        self.manifest_digest.as_ref().or(self.image_id.as_ref())
    }
}

/// Turns a build description into an image with a known digest.
#[async_trait]
pub trait Builder: Send + Sync {
    /// Run the build, sending progress to `observer`.
    async fn build(&self, observer: &dyn Observer) -> Result<BuildOutput, BuildError>;
}

/// Send one build event.
pub(crate) fn emit(observer: &dyn Observer, event: BuildEvent) {
    observer.event(&Event::Build(event));
}
