//! One module per subcommand (or group of subcommands); each exposes `Args` and `run`.

pub mod backup;
pub mod build;
pub mod config;
pub mod deploy;
pub mod kubernetes;
pub mod policy;
pub mod probe;
pub mod proxy;
pub mod prune;
pub mod reference;
pub mod registry;
pub mod releases;
pub mod render;
pub mod restore;
pub mod swarm;
pub mod tags;
