//! How a [`super::TraefikRouter`] reaches its Traefik: the [`ProxyAccess`] trait (write a
//! dynamic-configuration file atomically, read it back, read the API, probe a backend from the
//! proxy's side) and [`LocalAccess`], the way a user-run Traefik is reached (`x-slipway.traefik`):
//! files in a directory on this machine, the API over HTTP, backends probed from here. The
//! managed proxy's implementation (everything through the engine, so `ssh://` works the same)
//! is `proxy::ProxyContainer`.

use std::fmt::Debug;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use super::api::TraefikApi;
use crate::events::Observer;
use crate::route::{ApiFailure, Backend, ProbeFailure, RouteError};

/// The few things the router needs from where its Traefik runs. File names are bare names in
/// the watched dynamic-configuration directory (`slipway-<stack>-<service>.yml`).
#[async_trait]
pub trait ProxyAccess: Send + Sync + Debug {
    /// Where `file` lives, for people and errors (a path on this machine or in the proxy).
    fn path_of(&self, file: &str) -> PathBuf;

    /// Where the API is, for people and errors (`http://127.0.0.1:8080`, or the container).
    fn api_name(&self) -> String;

    /// The file's text, `None` when it does not exist.
    async fn read(&self, file: &str) -> std::io::Result<Option<String>>;

    /// Replace `file` atomically (Traefik never reads half a file): write a temporary name the
    /// file provider ignores, then rename.
    async fn write(&self, file: &str, text: &str) -> std::io::Result<()>;

    /// Remove `file` (a missing file is fine).
    async fn remove(&self, file: &str) -> std::io::Result<()>;

    /// `GET` of an API path (`/api/http/services/x@file`): the body, `None` on 404.
    async fn api_get(&self, path: &str) -> Result<Option<String>, RouteError>;

    /// One probe of `url` from where the proxy runs: `Ok` on 2xx/3xx, else why not.
    async fn probe(&self, url: &str, timeout: Duration) -> Result<(), ProbeFailure>;

    /// Make `backend` reachable from the proxy before it is probed or written (the managed proxy
    /// joins the backend's network); nothing to do for a proxy the user runs.
    async fn reach(&self, backend: &Backend, observer: &dyn Observer) -> Result<(), RouteError> {
        let _ = (backend, observer);
        Ok(())
    }

    /// `gone` was just taken out of a route: the managed proxy leaves the networks no configured
    /// backend uses any more (best effort: the route's change stands whatever happens here);
    /// nothing to do for a proxy the user runs.
    async fn release(&self, gone: &[Backend], observer: &dyn Observer) {
        let _ = (gone, observer);
    }
}

/// A Traefik reached from this machine: its watched directory on the local disk, its API over
/// HTTP, backends probed directly from here (what `x-slipway.traefik` describes).
#[derive(Debug)]
pub struct LocalAccess {
    dir: PathBuf,
    api: TraefikApi,
    probe: reqwest::Client,
}

impl LocalAccess {
    /// Files in `dynamic_dir`, the API at `api_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(dynamic_dir: impl Into<PathBuf>, api_url: &str) -> Result<Self, RouteError> {
        let probe = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| RouteError::Api { url: api_url.to_string(), source: Box::new(ApiFailure::Client(e)) })?;
        Ok(LocalAccess { dir: dynamic_dir.into(), api: TraefikApi::new(api_url)?, probe })
    }

    /// The watched directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

#[async_trait]
impl ProxyAccess for LocalAccess {
    fn path_of(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn api_name(&self) -> String {
        self.api.base().to_string()
    }

    async fn read(&self, file: &str) -> std::io::Result<Option<String>> {
        match tokio::fs::read_to_string(self.path_of(file)).await {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn write(&self, file: &str, text: &str) -> std::io::Result<()> {
        let (dir, target, text) = (self.dir.clone(), self.path_of(file), text.to_string());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            let mut tmp = tempfile::Builder::new().prefix(".slipway-").suffix(".tmp").tempfile_in(&dir)?;
            tmp.write_all(text.as_bytes())?;
            tmp.as_file().sync_all()?;
            tmp.persist(&target).map_err(|e| e.error)?;
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)?
    }

    async fn remove(&self, file: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path_of(file)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn api_get(&self, path: &str) -> Result<Option<String>, RouteError> {
        self.api.get(path).await
    }

    async fn probe(&self, url: &str, timeout: Duration) -> Result<(), ProbeFailure> {
        match self.probe.get(url).timeout(timeout).send().await {
            Ok(r) if r.status().is_success() || r.status().is_redirection() => Ok(()),
            Ok(r) => Err(ProbeFailure::Status { status: r.status().as_u16(), from: None }),
            Err(e) => Err(ProbeFailure::Request(e)),
        }
    }
}
