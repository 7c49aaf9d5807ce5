//! Compose files as the stack description: parsing, interpolation, validation, merging into a
//! `StackSpec`, and rendering in the shape of `docker compose config`.
//!
//! Flow: [`load`] reads the files ([`yaml`]: value + line index), interpolates them
//! ([`interpolate`]), merges them (`merge`), checks every key (`schema`), reads the typed model
//! (`model`), resolves services, networks and volumes (`resolve`, `service`) and validates across
//! services (`validate`). [`render`] turns a `StackSpec` back into compose's JSON/YAML shape.

mod build_section;
mod device_requests;
pub mod diff;
mod error;
mod event;
mod extends;
mod host;
pub mod interpolate;
mod keys;
mod load;
mod merge;
mod model;
mod objects;
mod render;
mod render_host;
mod resolve;
mod schema;
mod service;
mod service_deploy;
mod settings;
mod syntax;
mod validate;
pub mod yaml;

pub use error::{ComposeError, Location};
pub use event::{ComposeEvent, ComposeWarning};
pub use load::{default_file, load, parse_only, parse_only_files, LoadOptions, LoadedStack, DEFAULT_FILES};
pub use render::{render, render_json, render_yaml};
pub use resolve::normalise_name as normalise_project_name;
pub use settings::{DeployTarget, ServiceSettings, StackSettings};
#[cfg(test)]
mod tests;
