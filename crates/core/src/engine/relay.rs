//! The relay (engine room): probes of container addresses from the target's side when the engine
//! is reached over `tcp://` or TLS, where there is no ssh to tunnel through. Through the engine
//! API only: one small helper container per [`Connection`] (created at the first tunnel, from the
//! imported `slipway-relay` image: `relay_image.rs`), joined to the networks of the probed
//! container, and one `exec` of `slipway-relay HOST PORT` (stdin/stdout attached) per tunneled
//! connection. The helper is removed when the last clone of the connection is dropped, ends by
//! itself after 10 minutes without an exec, and is removed by `slipway prune` if left over
//! (`relay_prune.rs`).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, NetworkConnectRequest};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use bollard::Docker;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWrite;

use super::connection::{Connection, Endpoint};
use super::relay_image::{self, PROGRAM};
use super::ssh_control::SshSettings;
use super::EngineError;

/// Label on every helper container (value `1`).
pub const RELAY_LABEL: &str = "dev.slipway.relay";
/// The helper's main process ends after this long without an exec in the container.
pub(crate) const IDLE_SECS: u64 = 600;
/// One tunneled connection lasts at most this long (the program's own bound).
pub(crate) const CONNECTION_MAX_SECS: u64 = 120;
/// Each engine request of the setup (image, container, networks, exec) is bounded by this.
const STEP_BOUND: Duration = Duration::from_secs(20);
/// Removing the helper when the connection drops waits at most this long.
const CLEANUP_BOUND: Duration = Duration::from_secs(10);
/// What the program writes on stderr once its connection is open.
const CONNECTED: &[u8] = b"slipway-relay: connected";
/// The helper's memory limit.
const MEMORY_BYTES: i64 = 32 * 1024 * 1024;

/// The output of one relay exec (stdout and stderr frames, demultiplexed by bollard).
pub(crate) type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;
/// The stdin of one relay exec.
pub(crate) type Input = Pin<Box<dyn AsyncWrite + Send>>;

/// A connection's relay: shared by its clones, the helper removed when the last one drops.
pub(crate) struct RelaySlot {
    host: String,
    endpoint: Endpoint,
    ssh: SshSettings,
    docker: tokio::sync::OnceCell<Docker>,
    helper: tokio::sync::Mutex<Option<Helper>>,
    made: std::sync::Mutex<Vec<String>>,
}

impl std::fmt::Debug for RelaySlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelaySlot").field("host", &self.host).finish()
    }
}

/// The running helper container and what it has joined.
struct Helper {
    id: String,
    joined: HashSet<String>,
    seen: HashSet<String>,
}

/// Bound one engine request of the relay.
pub(crate) async fn step<T>(
    host: &str,
    what: &'static str,
    f: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, EngineError> {
    match tokio::time::timeout(STEP_BOUND, f).await {
        Ok(r) => r.map_err(|source| EngineError::Relay { host: host.to_string(), step: what, source }),
        Err(_) => Err(EngineError::RelayTimeout { host: host.to_string(), step: what, secs: STEP_BOUND.as_secs() }),
    }
}

pub(crate) fn status_of(e: &EngineError) -> Option<u16> {
    match e {
        EngineError::Relay {
            source: bollard::errors::Error::DockerResponseServerError { status_code, .. }, ..
        } => Some(*status_code),
        _ => None,
    }
}

impl RelaySlot {
    pub(crate) fn new(host: String, endpoint: Endpoint, ssh: SshSettings) -> Self {
        RelaySlot {
            host,
            endpoint,
            ssh,
            docker: tokio::sync::OnceCell::new(),
            helper: tokio::sync::Mutex::new(None),
            made: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The engine address, as shown.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// True when this connection probes through the relay: a remote engine without ssh, and a
    /// build with the helper.
    pub(crate) fn applies(&self) -> bool {
        matches!(self.endpoint, Endpoint::Http(_) | Endpoint::Tls { .. })
    }

    fn bare(&self) -> Connection {
        Connection::new(self.host.clone(), self.endpoint.clone(), self.ssh.clone())
    }

    async fn client(&self) -> Result<Docker, EngineError> {
        self.docker.get_or_try_init(|| async { super::connect(&self.bare()).await }).await.cloned()
    }

    /// The helper's container id, started if needed and joined to the networks through which
    /// `target` is reached: those of the container `near` (the probed one), else those whose
    /// subnet holds `target`'s address.
    pub(crate) async fn ready(&self, near: Option<&str>, target: &str) -> Result<String, EngineError> {
        if !relay_image::available() {
            return Err(EngineError::NoRelayHelper { host: self.host.clone() });
        }
        let docker = self.client().await?;
        let mut slot = self.helper.lock().await;
        let helper = match slot.as_mut() {
            Some(h) => h,
            None => slot.insert(self.start(&docker).await?),
        };
        let key = format!("{near:?} {target}");
        if helper.seen.contains(&key) {
            return Ok(helper.id.clone());
        }
        let networks = self.networks_for(&docker, near, target).await?;
        match self.join(&docker, helper, networks).await {
            Ok(()) => {
                helper.seen.insert(key);
                Ok(helper.id.clone())
            }
            Err(e) => {
                // The helper itself is gone (removed by hand, by a prune, or idle): start
                // another at the next attempt.
                if status_of(&e) == Some(404) {
                    *slot = None;
                }
                Err(e)
            }
        }
    }

    /// Join `helper` to `networks` (those it is not on yet).
    async fn join(&self, docker: &Docker, helper: &mut Helper, networks: Vec<String>) -> Result<(), EngineError> {
        for network in networks {
            if helper.joined.contains(&network) {
                continue;
            }
            let request = NetworkConnectRequest { container: helper.id.clone(), ..Default::default() };
            if let Err(e) = step(&self.host, "join a network", docker.connect_network(&network, request)).await {
                let inspect =
                    step(&self.host, "inspect the helper", docker.inspect_container(&helper.id, None)).await?;
                let on = inspect.network_settings.and_then(|n| n.networks).is_some_and(|n| n.contains_key(&network));
                if !on {
                    return Err(e);
                }
            }
            helper.joined.insert(network);
        }
        Ok(())
    }

    /// Create and start the helper container.
    async fn start(&self, docker: &Docker) -> Result<Helper, EngineError> {
        let image = relay_image::ensure(docker, &self.host).await?;
        let name = format!("slipway-relay-{:016x}", rand::random::<u64>());
        let body = ContainerCreateBody {
            image: Some(image),
            entrypoint: Some(vec![PROGRAM.to_string()]),
            cmd: Some(vec!["idle".to_string(), IDLE_SECS.to_string()]),
            user: Some("65534:65534".into()),
            labels: Some(HashMap::from([(RELAY_LABEL.to_string(), "1".to_string())])),
            host_config: Some(HostConfig {
                auto_remove: Some(true),
                readonly_rootfs: Some(true),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                memory: Some(MEMORY_BYTES),
                pids_limit: Some(64),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptions { name: Some(name), ..Default::default() };
        let created =
            step(&self.host, "create the helper container", docker.create_container(Some(opts), body)).await?;
        if let Ok(mut made) = self.made.lock() {
            made.push(created.id.clone());
        }
        step(&self.host, "start the helper container", docker.start_container(&created.id, None)).await?;
        let inspect = step(&self.host, "inspect the helper", docker.inspect_container(&created.id, None)).await?;
        let joined = inspect.network_settings.and_then(|n| n.networks).map(|n| n.into_keys().collect());
        Ok(Helper { id: created.id, joined: joined.unwrap_or_default(), seen: HashSet::new() })
    }

    async fn networks_for(
        &self,
        docker: &Docker,
        near: Option<&str>,
        target: &str,
    ) -> Result<Vec<String>, EngineError> {
        let usable = |n: &String| !matches!(n.as_str(), "host" | "none");
        if let Some(near) = near {
            let inspect =
                step(&self.host, "inspect the probed container", docker.inspect_container(near, None)).await?;
            let networks = inspect.network_settings.and_then(|n| n.networks).unwrap_or_default();
            return Ok(networks.into_keys().filter(usable).collect());
        }
        let Ok(ip) = target.parse::<IpAddr>() else { return Ok(Vec::new()) };
        let networks = step(&self.host, "list networks", docker.list_networks(None)).await?;
        let holds = |n: &bollard::models::Network| {
            let configs = n.ipam.as_ref().and_then(|i| i.config.as_ref());
            configs.is_some_and(|c| c.iter().filter_map(|c| c.subnet.as_deref()).any(|s| subnet_holds(s, ip)))
        };
        Ok(networks.into_iter().filter(|n| holds(n)).filter_map(|n| n.name).filter(usable).collect())
    }

    /// Forget the helper `id` (it ended: idle, removed by hand or by prune) so the next
    /// [`RelaySlot::ready`] starts another.
    async fn forget(&self, id: &str) {
        let mut slot = self.helper.lock().await;
        if slot.as_ref().is_some_and(|h| h.id == id) {
            *slot = None;
        }
    }

    /// One exec of `slipway-relay HOST PORT` with stdin and stdout attached; a helper that has
    /// gone is started again once.
    pub(crate) async fn open(&self, near: Option<&str>, host: &str, port: u16) -> Result<(Output, Input), EngineError> {
        let mut again = true;
        loop {
            let id = self.ready(near, host).await?;
            match self.exec(&id, host, port, true).await {
                Err(e) if again && matches!(status_of(&e), Some(404 | 409)) => {
                    self.forget(&id).await;
                    again = false;
                }
                other => return other,
            }
        }
    }

    async fn exec(&self, id: &str, host: &str, port: u16, stdin: bool) -> Result<(Output, Input), EngineError> {
        let docker = self.client().await?;
        let max = if stdin { CONNECTION_MAX_SECS } else { 10 };
        let opts = CreateExecOptions {
            cmd: Some(vec![PROGRAM.to_string(), host.to_string(), port.to_string(), max.to_string()]),
            attach_stdin: Some(stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            ..Default::default()
        };
        let created = step(&self.host, "create an exec in the helper", docker.create_exec(id, opts)).await?;
        let start = StartExecOptions { detach: false, tty: false, output_capacity: None };
        match step(&self.host, "start an exec in the helper", docker.start_exec(&created.id, Some(start))).await? {
            StartExecResults::Attached { output, input } => Ok((output, input)),
            StartExecResults::Detached => Err(EngineError::RelayFailed {
                host: self.host.clone(),
                reason: "the engine started the exec detached, without its streams".into(),
            }),
        }
    }

    /// Whether `host:port` accepts a TCP connection from the helper: `Ok` once the program says
    /// it connected, `Err(reason)` with its own words (refused, no route) otherwise.
    pub(crate) async fn connects(
        &self,
        near: Option<&str>,
        host: &str,
        port: u16,
    ) -> Result<Result<(), String>, EngineError> {
        let mut again = true;
        let (mut output, _input) = loop {
            let id = self.ready(near, host).await?;
            match self.exec(&id, host, port, false).await {
                Err(e) if again && matches!(status_of(&e), Some(404 | 409)) => {
                    self.forget(&id).await;
                    again = false;
                }
                other => break other?,
            }
        };
        let mut said = Vec::new();
        while let Some(frame) = output.next().await {
            match frame {
                Ok(LogOutput::StdErr { message }) => {
                    said.extend_from_slice(&message);
                    if said.windows(CONNECTED.len()).any(|w| w == CONNECTED) {
                        return Ok(Ok(()));
                    }
                }
                Ok(_) => return Ok(Ok(())),
                Err(e) => return Ok(Err(format!("the relay's exec failed: {e}"))),
            }
        }
        let words = String::from_utf8_lossy(&said);
        let words = words.trim().trim_start_matches("slipway-relay: ");
        Ok(Err(if words.is_empty() { "the relay closed without connecting".to_string() } else { words.to_string() }))
    }
}

impl Drop for RelaySlot {
    fn drop(&mut self) {
        let made = self.made.get_mut().map(std::mem::take).unwrap_or_default();
        if made.is_empty() {
            return;
        }
        let bare = self.bare();
        let (done, wait) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("slipway-relay-cleanup".into()).spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(async {
                    let _ = tokio::time::timeout(CLEANUP_BOUND, async {
                        let Ok(docker) = super::connect(&bare).await else { return };
                        for id in &made {
                            let opts = RemoveContainerOptions { force: true, ..Default::default() };
                            let _ = docker.remove_container(id, Some(opts)).await;
                        }
                    })
                    .await;
                });
            }
            let _ = done.send(());
        });
        if spawned.is_ok() {
            let _ = wait.recv_timeout(CLEANUP_BOUND + Duration::from_secs(1));
        }
    }
}

/// True when the CIDR `subnet` holds `ip`.
fn subnet_holds(subnet: &str, ip: IpAddr) -> bool {
    let Some((base, bits)) = subnet.split_once('/') else { return false };
    let (Ok(base), Ok(bits)) = (base.parse::<IpAddr>(), bits.parse::<u32>()) else { return false };
    let (a, b, width) = match (base, ip) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if bits > width {
        return false;
    }
    let shift = width - bits;
    bits == 0 || (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_hold_their_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(subnet_holds("10.232.1.0/24", ip("10.232.1.7")));
        assert!(!subnet_holds("10.232.1.0/24", ip("10.232.2.7")));
        assert!(subnet_holds("172.16.0.0/12", ip("172.31.255.1")));
        assert!(subnet_holds("0.0.0.0/0", ip("8.8.8.8")));
        assert!(subnet_holds("fd00::/64", ip("fd00::5")));
        assert!(!subnet_holds("fd00::/64", ip("10.0.0.1")));
        assert!(!subnet_holds("garbage", ip("10.0.0.1")));
        assert!(!subnet_holds("10.0.0.0/40", ip("10.0.0.1")));
    }
}
