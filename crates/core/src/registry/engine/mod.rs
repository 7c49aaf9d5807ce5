//! The local Docker Engine as a source and a sink of images: `push_from_engine` exports an image
//! (`docker save` format), gzips its layers and pushes blobs + a Docker v2 manifest to any
//! [`super::Registry`]; `load_into_engine` builds a `docker load` archive from any registry or
//! layout and loads it, so a host can deploy without a registry.

mod load;
mod push;

pub use load::load_into_engine;
pub use push::push_from_engine;

use super::RegistryError;

fn engine_error(image: &str, operation: &str, reason: impl std::fmt::Display) -> RegistryError {
    RegistryError::Engine { image: image.to_string(), operation: operation.to_string(), reason: reason.to_string() }
}
