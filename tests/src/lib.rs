//! The shared end-to-end test harness: real services on loopback, unique names, cleanup.
//!
//! - [`docker::connect`]: the local Docker Engine through bollard, API version negotiated.
//! - [`names::unique`]: `slipway-t-<room>-<8 hex>` names for everything a test creates.
//! - [`cleanup::Cleanup`]: a guard removing registered containers, networks, images and volumes on
//!   drop, also when the test panics.
//! - [`images`]: fixture images built without pulling: the busybox base and the demo app.
//! - [`containers`]: run a container from a fixture and read its output or its published port.
//! - [`project`], [`stacks`]: deploy tests' project cleanup guard and `StackSpec` fixtures.
//! - [`registry`]: a real Distribution registry (htpasswd, token or no auth), a token server, a fault proxy.
//! - [`remote_host`]: a second Docker engine in a network namespace, reachable only over SSH.
//! - [`services`]: real PostgreSQL and Redis servers (also held in their "still starting" states).

pub mod cleanup;
pub mod cli;
pub mod containers;
pub mod docker;
mod fixture_lock;
pub mod images;
pub mod names;
pub mod postgres_image;
pub mod project;
pub mod registry;
// remote room: a second engine in its own network namespace, reached over SSH.
pub mod remote_host;
pub mod remote_tls;
pub mod services;
pub mod stacks;
pub mod swarm;

// route room: Traefik, in-test version backends, bounded load generator.
pub mod load;
pub mod traefik;
// proxy room: a Traefik image packed from this machine's binary, for `slipway proxy up --image`.
pub mod traefik_image;
// proxy room: Debian's Pebble as the ACME server.
pub mod pebble;
pub mod routed;
pub mod version_server;
