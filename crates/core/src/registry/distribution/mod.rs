//! `Distribution`: the OCI Distribution HTTP API (Docker Registry v2, GHCR and the like) behind
//! the [`Registry`] trait, on reqwest with rustls. Manifests travel as raw bytes.
//!
//! Files: `transport` (scheme, auth, retries: the one layer), `auth` (challenges, tokens),
//! `credentials` (explicit, config.json, helpers), `secret`, `manifests`, `blobs`, `upload`, `tags`.

mod auth;
mod blobs;
pub mod credentials;
mod manifests;
mod tags;
mod transport;
mod upload;

use crate::registry::Site;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use crate::secret::Secret;
pub use credentials::{store_login, Credentials};
pub use transport::{is_loopback, RetryPolicy};

use super::{BlobSource, BlobStream, ManifestDescriptor, MountOutcome, RawManifest, Registry, RegistryError};
use crate::{Digest, ImageRef};
use transport::{Op, Transport};

/// Options of a [`Distribution`] client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DistributionOptions {
    /// Explicit credentials (else Docker's config.json is consulted).
    pub credentials: Option<Credentials>,
    /// Credentials for writes (push, delete), when different from the read ones.
    pub write_credentials: Option<Credentials>,
    /// Hosts to speak plain HTTP to although they are not loopback.
    pub insecure: Vec<String>,
    /// A PEM file of extra CA certificates.
    pub ca_file: Option<PathBuf>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Blobs larger than this are uploaded in chunks of this size (default 16 MiB).
    pub chunk_size: u64,
    /// How long a read may stall before the connection counts as dropped (default 60 s).
    pub read_timeout: Duration,
    /// How many times a blob download resumes with `Range` after a dropped connection (default 3).
    pub max_resumes: u32,
}

impl Default for DistributionOptions {
    fn default() -> Self {
        Self {
            credentials: None,
            write_credentials: None,
            insecure: Vec::new(),
            ca_file: None,
            retry: RetryPolicy::default(),
            chunk_size: 16 * 1024 * 1024,
            read_timeout: Duration::from_secs(60),
            max_resumes: 3,
        }
    }
}

impl DistributionOptions {
    /// Use these credentials instead of config.json.
    pub fn credentials(mut self, c: Credentials) -> Self {
        self.credentials = Some(c);
        self
    }
    /// Use these credentials for writes.
    pub fn write_credentials(mut self, c: Credentials) -> Self {
        self.write_credentials = Some(c);
        self
    }
    /// Speak plain HTTP to `host`.
    pub fn insecure(mut self, host: &str) -> Self {
        self.insecure.push(host.to_string());
        self
    }
    /// Trust the CA certificates in this PEM file.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }
    /// Set the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
    /// Set the chunk size for chunked uploads.
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }
    /// Set the read timeout.
    pub fn read_timeout(mut self, t: Duration) -> Self {
        self.read_timeout = t;
        self
    }
}

/// A client for one registry host.
#[derive(Debug, Clone)]
pub struct Distribution {
    transport: Arc<Transport>,
    options: DistributionOptions,
}

impl Distribution {
    /// A client for `host` (`127.0.0.1:5000`, `ghcr.io`); credentials from the options, else from
    /// Docker's config.json, else anonymous.
    pub async fn connect(host: &str, options: DistributionOptions) -> Result<Self, RegistryError> {
        let read = match &options.credentials {
            Some(c) => c.clone(),
            None => credentials::from_docker_config(host).await?,
        };
        let write = options.write_credentials.clone().unwrap_or_else(|| read.clone());
        let transport = Arc::new(Transport::new(host, &options, read, write)?);
        Ok(Self { transport, options })
    }

    /// The host.
    pub fn host(&self) -> &str {
        &self.transport.host
    }

    /// Check that the registry answers and accepts the credentials (`GET /v2/`).
    pub async fn ping(&self) -> Result<(), RegistryError> {
        let op = Op { repository: String::new(), operation: "ping", scopes: vec![], write: false };
        let url = self.transport.url("/v2/");
        let resp = self.transport.send(&op, |c| c.get(&url)).await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(error_from(&self.transport, &op, resp, "/v2/").await)
        }
    }

    fn op(&self, repository: &str, operation: &'static str, actions: &str) -> Op {
        Op {
            repository: repository.to_string(),
            operation,
            scopes: vec![auth::repository_scope(repository, actions)],
            write: actions.contains("push") || actions.contains("delete"),
        }
    }
}

/// Turn an unexpected response into a typed error (404 -> `NotFound`).
async fn error_from(t: &Transport, op: &Op, resp: reqwest::Response, what: &str) -> RegistryError {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let errs = v.get("errors")?.as_array()?.iter().map(|e| {
                format!(
                    "{}: {}",
                    e.get("code").and_then(|c| c.as_str()).unwrap_or("?"),
                    e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                )
            });
            Some(errs.collect::<Vec<_>>().join("; "))
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    if status == 404 {
        return RegistryError::NotFound {
            at: Site::boxed(t.host.clone(), op.repository.clone(), op.operation.to_string()),
            what: what.to_string(),
        };
    }
    RegistryError::Http {
        at: Site::boxed(t.host.clone(), op.repository.clone(), op.operation.to_string()),
        status,
        message,
    }
}

#[async_trait]
impl Registry for Distribution {
    fn name(&self) -> String {
        self.transport.host.clone()
    }

    async fn resolve(&self, reference: &ImageRef) -> Result<ManifestDescriptor, RegistryError> {
        manifests::resolve(self, reference).await
    }

    async fn get_manifest(&self, reference: &ImageRef) -> Result<RawManifest, RegistryError> {
        manifests::get(self, reference).await
    }

    async fn put_manifest(&self, reference: &ImageRef, manifest: &RawManifest) -> Result<Digest, RegistryError> {
        manifests::put(self, reference, manifest).await
    }

    async fn blob_exists(&self, repository: &str, digest: &Digest) -> Result<Option<u64>, RegistryError> {
        blobs::exists(self, repository, digest).await
    }

    async fn get_blob(&self, repository: &str, digest: &Digest) -> Result<BlobStream, RegistryError> {
        blobs::get(self, repository, digest).await
    }

    async fn put_blob(&self, repository: &str, digest: &Digest, source: BlobSource) -> Result<(), RegistryError> {
        upload::put(self, repository, digest, source).await
    }

    async fn mount_blob(&self, repository: &str, digest: &Digest, from: &str) -> Result<MountOutcome, RegistryError> {
        upload::mount(self, repository, digest, from).await
    }

    async fn list_tags(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        tags::list(self, repository).await
    }

    async fn delete_manifest(&self, repository: &str, digest: &Digest) -> Result<(), RegistryError> {
        manifests::delete(self, repository, digest).await
    }
}
