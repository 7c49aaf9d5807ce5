//! `ProxyContainer`: the [`ProxyAccess`] of the managed proxy (`slipway proxy up`), everything
//! through the engine so a remote host over `ssh://` works the same as the local socket:
//!
//! - files: uploaded as `.<name>.tmp` (the file provider only reads `.yml`/`.yaml`/`.toml`) into
//!   the dynamic-configuration volume through the archive endpoint, then renamed inside the
//!   container (`mv -f`, one `rename(2)` in the same directory: atomic); read back through the
//!   archive endpoint;
//! - the API (bound to 127.0.0.1 inside the container, never published): `wget -S` by exec
//!   (bounded by busybox `timeout`, not `wget -T`, which crashes in Debian's static busybox 1.35);
//! - backend probes: `wget` by exec, so they run where Traefik runs (container IPs the operator
//!   cannot reach are fine);
//! - networks: before a backend is probed, the proxy joins the network whose subnet holds the
//!   backend's address (the project's network, or an external one such as `traefik-public`).
//!
//! The layout inside the container ([`MANAGED_DYNAMIC_DIR`], [`MANAGED_API`]) is the contract
//! with the proxy room, which creates the container.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::NetworkConnectRequest;
use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use bollard::Docker;
use futures::StreamExt;
use tokio::sync::Mutex;

use super::access::ProxyAccess;
use super::exec::{exec, exec_ok, http_status, tail};
use crate::events::Observer;
use crate::route::{ApiFailure, Backend, NetworkFailure, ProbeFailure, RouteError, RouteEvent};

/// Where the managed proxy watches its dynamic configuration (a named volume).
pub const MANAGED_DYNAMIC_DIR: &str = "/slipway/dynamic";
/// Where the managed proxy's API listens, inside its container only.
pub const MANAGED_API: &str = "127.0.0.1:8080";
/// The label on the managed proxy's container (its value: the proxy's name).
pub const MANAGED_LABEL: &str = "dev.slipway.proxy";
/// The managed proxy's default container name.
pub const MANAGED_DEFAULT_NAME: &str = "slipway-proxy";
/// Bound of one engine request made here.
const REQUEST_BOUND: Duration = Duration::from_secs(20);
/// The largest configuration file read back.
const MAX_FILE: usize = 1024 * 1024;

/// The managed proxy's container, reached through the engine.
#[derive(Debug)]
pub struct ProxyContainer {
    docker: Docker,
    name: String,
    /// Networks the proxy is known to be on (saves a lookup per backend).
    joined: Mutex<BTreeSet<String>>,
}

impl ProxyContainer {
    /// The proxy container `name` on `docker`'s engine.
    pub fn new(docker: Docker, name: impl Into<String>) -> Self {
        ProxyContainer { docker, name: name.into(), joined: Mutex::new(BTreeSet::new()) }
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the container exists, carries [`MANAGED_LABEL`] and runs.
    pub async fn is_running(&self) -> bool {
        let bound = tokio::time::timeout(REQUEST_BOUND, self.docker.inspect_container(&self.name, None));
        match bound.await {
            Ok(Ok(c)) => {
                let labelled =
                    c.config.as_ref().and_then(|c| c.labels.as_ref()).is_some_and(|l| l.contains_key(MANAGED_LABEL));
                labelled && c.state.and_then(|s| s.running).unwrap_or(false)
            }
            _ => false,
        }
    }

    fn path(file: &str) -> String {
        format!("{MANAGED_DYNAMIC_DIR}/{file}")
    }

    /// Connect the proxy to the network holding `ip`, unless it is on it already. `Ok(None)`
    /// when no network of the engine holds the address (it is then reached as it is); else the
    /// network and whether the proxy joined it now.
    async fn join_network_of(&self, ip: Ipv4Addr) -> Result<Option<(String, bool)>, NetworkFailure> {
        let engine = |action: String| move |source: bollard::errors::Error| NetworkFailure::Engine { action, source };
        let networks = self.docker.list_networks(None).await.map_err(engine("list networks".into()))?;
        let holder = networks.into_iter().find(|n| {
            n.ipam.as_ref().and_then(|i| i.config.as_ref()).is_some_and(|configs| {
                configs.iter().filter_map(|c| c.subnet.as_deref()).any(|subnet| subnet_holds(subnet, ip))
            })
        });
        let Some(network) = holder.and_then(|n| n.name) else { return Ok(None) };
        let inspect =
            self.docker.inspect_container(&self.name, None).await.map_err(engine(format!("inspect {}", self.name)))?;
        let on = inspect.network_settings.and_then(|s| s.networks).is_some_and(|n| n.contains_key(&network));
        if !on {
            let request = NetworkConnectRequest { container: self.name.clone(), ..Default::default() };
            self.docker
                .connect_network(&network, request)
                .await
                .map_err(engine(format!("connect {} to network {network}", self.name)))?;
            tracing::info!(proxy = %self.name, %network, "the proxy joined a network");
        }
        Ok(Some((network, !on)))
    }
}

/// Whether IPv4 `subnet` (`a.b.c.d/n`) holds `ip`.
pub(super) fn subnet_holds(subnet: &str, ip: Ipv4Addr) -> bool {
    let Some((base, bits)) = subnet.split_once('/') else { return false };
    let (Ok(base), Ok(bits)) = (base.parse::<Ipv4Addr>(), bits.parse::<u32>()) else { return false };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    u32::from(base) & mask == u32::from(ip) & mask
}

fn io_err(e: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::other(e)
}

#[async_trait]
impl ProxyAccess for ProxyContainer {
    fn path_of(&self, file: &str) -> PathBuf {
        PathBuf::from(format!("{}:{}", self.name, Self::path(file)))
    }

    fn api_name(&self) -> String {
        format!("http://{MANAGED_API} in {}", self.name)
    }

    async fn read(&self, file: &str) -> std::io::Result<Option<String>> {
        let opts = DownloadFromContainerOptions { path: Self::path(file) };
        let read = async {
            let mut stream = self.docker.download_from_container(&self.name, Some(opts));
            let mut archive = Vec::new();
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(bytes) if archive.len() + bytes.len() <= MAX_FILE + 64 * 1024 => {
                        archive.extend_from_slice(&bytes)
                    }
                    Ok(_) => return Err(std::io::Error::other(format!("{} is larger than {MAX_FILE} bytes", file))),
                    Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => return Ok(None),
                    Err(e) => return Err(io_err(e)),
                }
            }
            let mut entries = tar::Archive::new(archive.as_slice());
            for entry in entries.entries()? {
                let mut entry = entry?;
                if entry.header().entry_type().is_file() {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut entry, &mut text)?;
                    return Ok(Some(text));
                }
            }
            Ok(None)
        };
        tokio::time::timeout(REQUEST_BOUND, read)
            .await
            .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer from the engine")))
    }

    async fn write(&self, file: &str, text: &str) -> std::io::Result<()> {
        let tmp = format!(".{file}.tmp");
        let mut archive = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        archive.append_data(&mut header, &tmp, text.as_bytes())?;
        let archive = archive.into_inner()?;
        let opts = UploadToContainerOptions { path: MANAGED_DYNAMIC_DIR.to_string(), ..Default::default() };
        let upload = self.docker.upload_to_container(&self.name, Some(opts), bollard::body_full(archive.into()));
        tokio::time::timeout(REQUEST_BOUND, upload)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer from the engine"))?
            .map_err(io_err)?;
        let (from, to) = (Self::path(&tmp), Self::path(file));
        exec_ok(&self.docker, &self.name, &["mv", "-f", &from, &to], REQUEST_BOUND).await.map_err(io_err)?;
        Ok(())
    }

    async fn remove(&self, file: &str) -> std::io::Result<()> {
        let path = Self::path(file);
        exec_ok(&self.docker, &self.name, &["rm", "-f", &path], REQUEST_BOUND).await.map_err(io_err)?;
        Ok(())
    }

    async fn api_get(&self, path: &str) -> Result<Option<String>, RouteError> {
        let url = format!("http://{MANAGED_API}{path}");
        let err =
            |source: ApiFailure| RouteError::Api { url: format!("{url} in {}", self.name), source: Box::new(source) };
        let out = exec(&self.docker, &self.name, &["timeout", "5", "wget", "-q", "-S", "-O", "-", &url], REQUEST_BOUND)
            .await
            .map_err(|e| err(ApiFailure::Exec(e)))?;
        match (out.code, http_status(&out.stderr)) {
            (0, _) => Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned())),
            (_, Some(404)) => Ok(None),
            (_, Some(status)) => Err(err(ApiFailure::Status { status })),
            (code, None) => Err(err(ApiFailure::Wget { code, stderr: tail(&out.stderr) })),
        }
    }

    async fn probe(&self, url: &str, timeout: Duration) -> Result<(), ProbeFailure> {
        let secs = timeout.as_secs().max(1).to_string();
        let argv = ["timeout", secs.as_str(), "wget", "-q", "-S", "-O", "/dev/null", url];
        let out = exec(&self.docker, &self.name, &argv, timeout + REQUEST_BOUND).await.map_err(ProbeFailure::Exec)?;
        match (out.code, http_status(&out.stderr)) {
            (0, _) => Ok(()),
            (_, Some(status)) => Err(ProbeFailure::Status { status, from: Some(self.name.clone()) }),
            (code, None) => Err(ProbeFailure::Wget { proxy: self.name.clone(), code, stderr: tail(&out.stderr) }),
        }
    }

    async fn reach(&self, backend: &Backend, observer: &dyn Observer) -> Result<(), RouteError> {
        let err = |source: NetworkFailure| RouteError::Unreachable {
            backend: backend.to_string(),
            proxy: self.name.clone(),
            source: Box::new(source),
        };
        let parsed = url::Url::parse(backend.url())
            .map_err(|e| RouteError::InvalidBackend { backend: backend.to_string(), source: Some(e) })?;
        let Some(url::Host::Ipv4(ip)) = parsed.host() else { return Ok(()) };
        if ip.is_loopback() {
            return Err(err(NetworkFailure::Loopback));
        }
        let key = ip.to_string();
        let mut joined = self.joined.lock().await;
        if joined.contains(&key) {
            return Ok(());
        }
        match self.join_network_of(ip).await.map_err(err)? {
            Some((network, newly)) => {
                if newly {
                    let event = RouteEvent::ProxyJoinedNetwork { proxy: self.name.clone(), network };
                    observer.event(&crate::events::Event::Route(event));
                }
                joined.insert(key);
            }
            None => tracing::debug!(%ip, "no engine network holds the backend's address"),
        }
        Ok(())
    }

    async fn release(&self, gone: &[Backend], observer: &dyn Observer) {
        let ips: Vec<Ipv4Addr> = gone
            .iter()
            .filter_map(|b| url::Url::parse(b.url()).ok())
            .filter_map(|u| match u.host() {
                Some(url::Host::Ipv4(ip)) => Some(ip),
                _ => None,
            })
            .collect();
        match super::networks::leave_unused(&self.docker, &self.name, &ips).await {
            Ok(left) => {
                if !left.is_empty() {
                    // Addresses on the networks left must be joined again when they come back.
                    self.joined.lock().await.clear();
                }
                for network in left {
                    let event = RouteEvent::ProxyLeftNetwork { proxy: self.name.clone(), network };
                    observer.event(&crate::events::Event::Route(event));
                }
            }
            Err(error) => tracing::warn!(proxy = %self.name, %error, "the proxy could not leave unused networks"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_hold_their_addresses() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(subnet_holds("172.18.0.0/16", ip("172.18.3.4")));
        assert!(!subnet_holds("172.18.0.0/16", ip("172.19.0.1")));
        assert!(subnet_holds("10.0.0.0/8", ip("10.255.0.1")));
        assert!(subnet_holds("0.0.0.0/0", ip("1.2.3.4")));
        assert!(!subnet_holds("fd00::/64", ip("1.2.3.4")));
        assert!(!subnet_holds("172.18.0.0/40", ip("172.18.0.1")));
    }
}
