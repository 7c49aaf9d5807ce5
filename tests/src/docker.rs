//! Connection to the local Docker Engine for tests.

use anyhow::Context;
use bollard::Docker;

/// Connects to the local Docker Engine (`DOCKER_HOST` or the default unix socket) and negotiates the
/// API version, so that bollard speaks the engine's version (1.41 for Debian's Docker 20.10).
pub async fn connect() -> anyhow::Result<Docker> {
    // The library's own connection (DOCKER_HOST or the local socket, API version negotiated).
    slipway::engine::connect_host(None)
        .await
        .context("the Docker Engine does not answer: run scripts/setup (it starts dockerd)")
}
