//! `RemoteHost`: a second Docker engine in its own network namespace, reachable from the tests
//! only over SSH (Debian's openssh-server in the same namespace, a fresh key and known_hosts).
//!
//! - The namespace `slw-hN` hangs on the bridge `slw-br14` (10.231.14.1/24) by a veth pair; the
//!   host is `10.231.14.N`. Its engine (`dockerd` with its own config, data and exec roots,
//!   fuse-overlayfs) listens only on a unix socket, which slipway never uses: tests reach it with
//!   `ssh://root@10.231.14.N` and [`RemoteHost::ssh_config`]. Its containers' addresses live
//!   (10.232.0.0/15) are blackholed on the test side: not routable from the test process, and
//!   never confused with the local engine's networks.
//! - The harness itself uses the socket to load images (`docker save | load`) and to look.
//! - One per test binary ([`RemoteHost::shared`]), torn down when the process exits; a slot left
//!   by a crashed run (its owner pid gone) is cleaned up at the next start.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::sync::OnceCell;

use crate::remote_tls::TlsFiles;

use slots::{claim_slot, ensure_bridge, reap_leftovers, run, slot_dir, BRIDGE, STATE};
pub use slots::{teardown, BRIDGE_ADDR, REMOTE_NETWORKS};

mod faults;
mod slots;

pub use faults::SshCut;

/// A running remote host.
#[derive(Debug)]
pub struct RemoteHost {
    slot: u8,
    dir: PathBuf,
    tls: Option<TlsFiles>,
}

static SHARED: OnceCell<RemoteHost> = OnceCell::const_new();
static SHARED_TLS: OnceCell<RemoteHost> = OnceCell::const_new();

extern "C" {
    fn atexit(cb: extern "C" fn()) -> i32;
}

extern "C" fn teardown_shared() {
    for h in [SHARED.get(), SHARED_TLS.get()].into_iter().flatten() {
        teardown(h.slot);
    }
}

impl RemoteHost {
    /// The host of this test binary, started at the first call.
    pub async fn shared() -> anyhow::Result<&'static RemoteHost> {
        Self::shared_in(&SHARED, false).await
    }

    /// A host of this test binary whose engine also listens on `tcp://ADDR:2376` with
    /// `--tlsverify` (certificates from [`crate::remote_tls`]).
    pub async fn shared_tls() -> anyhow::Result<&'static RemoteHost> {
        Self::shared_in(&SHARED_TLS, true).await
    }

    async fn shared_in(cell: &'static OnceCell<RemoteHost>, tls: bool) -> anyhow::Result<&'static RemoteHost> {
        cell.get_or_try_init(|| async {
            let host = tokio::task::spawn_blocking(move || RemoteHost::start(tls)).await??;
            // SAFETY: registering a plain extern "C" function with libc's atexit.
            unsafe { atexit(teardown_shared) };
            Ok(host)
        })
        .await
    }

    /// Start a host in a free slot (cleaning up slots whose owner is gone first), with a TLS
    /// listener when `tls`.
    pub fn start(tls: bool) -> anyhow::Result<RemoteHost> {
        std::fs::create_dir_all(STATE)?;
        reap_leftovers();
        let slot = claim_slot()?;
        let dir = slot_dir(slot);
        let tls = match tls {
            false => None,
            true => match std::fs::create_dir_all(dir.join("tls"))
                .map_err(anyhow::Error::from)
                .and_then(|()| crate::remote_tls::make(&dir.join("tls"), &format!("10.231.14.{slot}")))
            {
                Ok(files) => Some(files),
                Err(e) => {
                    teardown(slot);
                    return Err(e);
                }
            },
        };
        let host = RemoteHost { slot, dir, tls };
        if let Err(e) = host.boot() {
            teardown(slot);
            return Err(e);
        }
        Ok(host)
    }

    /// The slot number (`N` in `10.231.14.N`), for [`teardown`].
    pub fn slot(&self) -> u8 {
        self.slot
    }

    /// `10.231.14.N`.
    pub fn addr(&self) -> String {
        format!("10.231.14.{}", self.slot)
    }

    /// `tcp://10.231.14.N:2376` and the certificates, for a host started by [`RemoteHost::shared_tls`].
    pub fn tls(&self) -> Option<(String, &TlsFiles)> {
        self.tls.as_ref().map(|t| (format!("tcp://{}:2376", self.addr()), t))
    }

    /// `ssh://root@10.231.14.N`: what slipway is given.
    pub fn ssh_url(&self) -> String {
        format!("ssh://root@{}", self.addr())
    }

    /// `ssh://root@10.231.14.N/PATH/docker.sock`: the URL naming the engine's socket on the host,
    /// which slipway forwards through the master connection (no remote `docker` per connection).
    pub fn ssh_url_with_socket(&self) -> String {
        format!("ssh://root@{}{}", self.addr(), self.dir.join("docker.sock").display())
    }

    /// The ssh_config naming this host's key and known_hosts (`ssh -F`, `SLIPWAY_SSH_CONFIG`).
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    /// An ssh_config whose known_hosts holds a different key for this host.
    pub fn ssh_config_with_wrong_host_key(&self) -> anyhow::Result<PathBuf> {
        let other = self.dir.join("other_host_key");
        if !other.exists() {
            run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&other))?;
        }
        let public = std::fs::read_to_string(other.with_extension("pub"))?;
        let known = self.dir.join("wrong_known_hosts");
        std::fs::write(&known, format!("{} {}", self.addr(), public))?;
        let config = self.dir.join("ssh_config_wrong");
        std::fs::write(&config, self.client_config(&known))?;
        Ok(config)
    }

    /// `ssh://root@10.231.14.N:2222`: the same sshd, but sessions get `PATH=/nonexistent`, so
    /// the remote side has no `docker` command.
    pub fn ssh_url_without_docker(&self) -> String {
        format!("ssh://root@{}:2222", self.addr())
    }

    /// The number of SSH connections sshd has accepted so far.
    pub fn accepted_connections(&self) -> usize {
        std::fs::read_to_string(self.dir.join("sshd.log"))
            .map(|l| l.lines().filter(|l| l.contains("Accepted publickey")).count())
            .unwrap_or(0)
    }

    /// The number of SSH sessions (a `docker system dial-stdio` each, multiplexed or not) sshd has
    /// started so far.
    pub fn sessions_started(&self) -> usize {
        std::fs::read_to_string(self.dir.join("sshd.log"))
            .map(|l| l.lines().filter(|l| l.contains("Starting session:")).count())
            .unwrap_or(0)
    }

    /// The harness's own path to the engine (loading images, looking): never given to slipway.
    pub fn socket(&self) -> String {
        format!("unix://{}", self.dir.join("docker.sock").display())
    }

    /// `docker -H <socket> ARGS` (harness use only), its stdout.
    pub fn docker(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new("docker").arg("-H").arg(self.socket()).args(args).output()?;
        if !out.status.success() {
            bail!("docker {args:?} on the remote host: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Copy `image` from the local engine into the host (`docker save | docker load`).
    pub fn load_image(&self, image: &str) -> anyhow::Result<()> {
        if self.docker(&["image", "inspect", image]).is_ok() {
            return Ok(());
        }
        let script = format!("docker save {image} | docker -H {} load -q", self.socket());
        run(Command::new("sh").arg("-c").arg(script))
    }

    fn client_config(&self, known_hosts: &Path) -> String {
        format!(
            "Host {}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
             GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
            self.addr(),
            self.dir.join("id").display(),
            known_hosts.display()
        )
    }

    fn tls_args(&self) -> Vec<String> {
        let Some(t) = &self.tls else { return Vec::new() };
        let path = |p: &Path| p.display().to_string();
        vec![
            "-H".into(),
            format!("tcp://{}:2376", self.addr()),
            "--tlsverify".into(),
            format!("--tlscacert={}", path(&t.server_ca)),
            format!("--tlscert={}", path(&t.server_cert)),
            format!("--tlskey={}", path(&t.server_key)),
        ]
    }

    fn boot(&self) -> anyhow::Result<()> {
        let (d, n, addr) = (&self.dir, self.slot, self.addr());
        let ns = format!("slw-h{n}");
        ensure_bridge()?;
        run(Command::new("ip").args(["netns", "add", &ns]))?;
        let (outer, inner) = (format!("slw-v{n}"), format!("slw-p{n}"));
        run(Command::new("ip").args(["link", "add", &outer, "type", "veth", "peer", "name", &inner]))?;
        run(Command::new("ip").args(["link", "set", &outer, "master", BRIDGE, "up"]))?;
        run(Command::new("ip").args(["link", "set", &inner, "netns", &ns]))?;
        let in_ns = |args: &[&str]| run(Command::new("ip").args(["-n", &ns]).args(args));
        in_ns(&["addr", "add", &format!("{addr}/24"), "dev", &inner])?;
        in_ns(&["link", "set", &inner, "up"])?;
        in_ns(&["link", "set", "lo", "up"])?;
        // The engine: own config (fuse-overlayfs as the main engine, the bridge registry allowed).
        // Its container networks come from 10.232.0.0/15, which the test side blackholes: they can
        // neither collide with the local engine's networks nor be reached from here.
        let config = serde_json::json!({
            "storage-driver": "fuse-overlayfs",
            "insecure-registries": ["10.231.0.0/16"],
            "mtu": 1400,
            "bip": format!("10.233.{n}.1/24"),
            "default-address-pools": [{"base": "10.232.0.0/16", "size": 24}],
        });
        std::fs::write(d.join("daemon.json"), config.to_string())?;
        let exec_root = format!("/tmp/slw-e{n}");
        let log = std::fs::File::create(d.join("dockerd.log"))?;
        Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{ns}"))
            .arg("dockerd")
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .args(["--exec-root", &exec_root, "--pidfile"])
            .arg(d.join("docker.pid"))
            .arg("-H")
            .arg(self.socket())
            .args(["--containerd-namespace", &ns, "--containerd-plugins-namespace", &format!("{ns}p")])
            .args(self.tls_args())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting dockerd in the namespace")?;
        // sshd: fresh host key, client key, authorized_keys, known_hosts.
        run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(d.join("host_key")))?;
        run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(d.join("id")))?;
        std::fs::copy(d.join("id.pub"), d.join("authorized_keys"))?;
        let host_pub = std::fs::read_to_string(d.join("host_key.pub"))?;
        std::fs::write(d.join("known_hosts"), format!("{addr} {host_pub}[{addr}]:2222 {host_pub}"))?;
        std::fs::write(self.ssh_config(), self.client_config(&d.join("known_hosts")))?;
        let sshd_config = format!(
            "ListenAddress {addr}:22\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\nLogLevel VERBOSE\nMaxSessions 100\n\
             MaxStartups 100\nListenAddress {addr}:2222\nSetEnv DOCKER_HOST={}\n\
             Match LocalPort 2222\n  SetEnv PATH=/nonexistent\n",
            d.join("host_key").display(),
            d.join("authorized_keys").display(),
            d.join("sshd.pid").display(),
            self.socket()
        );
        std::fs::write(d.join("sshd_config"), sshd_config)?;
        std::fs::create_dir_all("/run/sshd")?;
        run(Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{ns}"))
            .arg("/usr/sbin/sshd")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log")))?;
        let deadline = Instant::now() + Duration::from_secs(90);
        while self.docker(&["version", "--format", "{{.Server.Version}}"]).is_err() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(d.join("dockerd.log")).unwrap_or_default();
                bail!("the remote engine did not come up within 90s: {}", tail(&log));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        Ok(())
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// Removes a project's containers, networks and volumes from a [`RemoteHost`] on drop.
#[derive(Debug)]
pub struct RemoteProjectGuard<'a> {
    host: &'a RemoteHost,
    project: String,
}

impl RemoteHost {
    /// A guard removing `project` from this host when dropped.
    pub fn project_guard(&self, project: &str) -> RemoteProjectGuard<'_> {
        RemoteProjectGuard { host: self, project: project.to_string() }
    }
}

impl Drop for RemoteProjectGuard<'_> {
    fn drop(&mut self) {
        let filter = format!("label=com.docker.compose.project={}", self.project);
        for (list, remove) in [
            (vec!["ps", "-aq", "--filter", &filter], vec!["rm", "-f", "-v"]),
            (vec!["network", "ls", "-q", "--filter", &filter], vec!["network", "rm"]),
            (vec!["volume", "ls", "-q", "--filter", &filter], vec!["volume", "rm", "-f"]),
        ] {
            let ids = self.host.docker(&list).unwrap_or_default();
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let _ = self.host.docker(&[remove, ids].concat());
            }
        }
    }
}
