//! slipway: ship container releases. Build an image once, push it to a registry, and deploy it to
//! Docker hosts by pull + up, behind health checks, with zero downtime and a rollback that works.
//!
//! Rooms (see `docs/architecture.md`): [`reference`] and [`digest`] (domain types), [`policy`]
//! (tag and environment policies), [`registry`], [`build`], [`health`], [`compose`], [`deploy`],
//! [`route`], [`backup`]; [`events`] carries progress to the caller, [`error`] the failures.

pub mod backup;
pub mod build;
pub mod compose;
pub mod deploy;
pub mod digest;
pub mod duration;
pub mod engine;
pub mod error;
pub mod events;
pub mod health;
pub mod kubernetes;
pub mod policy;
pub mod proxy;
pub mod reference;
pub mod registry;
pub mod route;
pub mod secret;
pub mod stack;
pub mod swarm;
pub mod wait;

pub use digest::Digest;
pub use error::{Error, ErrorKind, Result};
pub use events::{Event, NoopObserver, Observer, RecordingObserver};
pub use reference::ImageRef;
