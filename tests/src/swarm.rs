//! `TestSwarm`: a real three-node Docker Swarm for the swarm tests, one per test binary. Three
//! [`RemoteHost`]s (each a dockerd + sshd in its own network namespace on the shared bridge)
//! joined as one manager and two workers; slipway reaches the manager over `ssh://`. Images come
//! from a Distribution registry listening on the bridge address (`10.231.14.1:PORT`, plain HTTP:
//! the engines allow 10.231.0.0/16 as insecure), pushed there with skopeo. The registry requires
//! htpasswd auth and no node is logged in to it, so services run only when slipway passes the
//! credentials (`with_registry_auth`, `--with-registry-auth`); the operator side's credentials are
//! a Docker config dir of the harness's own ([`TestSwarm::docker_config`], set as `DOCKER_CONFIG`
//! for the test process when the Swarm starts). Everything is torn
//! down when the process exits; a registry left by a crashed run is stopped at the next start
//! (the hosts' own slots are reaped by `RemoteHost`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use base64::Engine as _;
use tokio::sync::OnceCell;

use crate::registry::{TEST_PASSWORD, TEST_USER};
use crate::remote_host::{teardown, RemoteHost, BRIDGE_ADDR};

const STATE: &str = "/tmp/slipway-swarm";

/// A running three-node Swarm and its registry.
#[derive(Debug)]
pub struct TestSwarm {
    /// The manager (reached over ssh).
    pub manager: RemoteHost,
    /// The workers.
    pub workers: Vec<RemoteHost>,
    registry_pid: u32,
    registry_port: u16,
    dir: PathBuf,
}

static SHARED: OnceCell<TestSwarm> = OnceCell::const_new();

extern "C" {
    fn atexit(cb: extern "C" fn()) -> i32;
}

extern "C" fn teardown_shared() {
    if let Some(s) = SHARED.get() {
        s.stop();
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Stop registries whose owner process is gone.
fn reap_registries() {
    let Ok(entries) = std::fs::read_dir(STATE) else { return };
    for e in entries.flatten() {
        let read = |f: &str| std::fs::read_to_string(e.path().join(f)).ok().and_then(|p| p.trim().parse::<u32>().ok());
        if read("owner").is_some_and(alive) {
            continue;
        }
        if let Some(pid) = read("registry.pid") {
            let _ = Command::new("kill").arg(pid.to_string()).stderr(Stdio::null()).status();
        }
        let _ = std::fs::remove_dir_all(e.path());
    }
}

impl TestSwarm {
    /// The Swarm of this test binary, started at the first call.
    pub async fn shared() -> anyhow::Result<&'static TestSwarm> {
        SHARED
            .get_or_try_init(|| async {
                let s = tokio::task::spawn_blocking(TestSwarm::start).await??;
                // The operator side's registry credentials (the nodes have none of their own).
                std::env::set_var("DOCKER_CONFIG", s.docker_config());
                // SAFETY: registering a plain extern "C" function with libc's atexit.
                unsafe { atexit(teardown_shared) };
                Ok(s)
            })
            .await
    }

    fn start() -> anyhow::Result<TestSwarm> {
        std::fs::create_dir_all(STATE)?;
        reap_registries();
        let mut hosts = Vec::new();
        for _ in 0..3 {
            match RemoteHost::start(false) {
                Ok(h) => hosts.push(h),
                Err(e) => {
                    hosts.iter().for_each(|h: &RemoteHost| teardown(h.slot()));
                    return Err(e);
                }
            }
        }
        let manager = hosts.remove(0);
        let dir = Path::new(STATE).join(format!("run-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("owner"), std::process::id().to_string())?;
        let mut swarm = TestSwarm { manager, workers: hosts, registry_pid: 0, registry_port: 0, dir };
        if let Err(e) = swarm.boot() {
            swarm.stop();
            return Err(e);
        }
        Ok(swarm)
    }

    fn boot(&mut self) -> anyhow::Result<()> {
        let addr = self.manager.addr();
        self.manager.docker(&["swarm", "init", "--advertise-addr", &addr, "--listen-addr", &format!("{addr}:2377")])?;
        let token = self.manager.docker(&["swarm", "join-token", "-q", "worker"])?;
        for w in &self.workers {
            let a = w.addr();
            w.docker(&[
                "swarm",
                "join",
                "--advertise-addr",
                &a,
                "--listen-addr",
                &format!("{a}:2377"),
                "--token",
                token.trim(),
                &format!("{addr}:2377"),
            ])?;
        }
        // The registry on the bridge address.
        let port = crate::registry::free_port()?;
        let htpasswd = self.dir.join("htpasswd");
        std::fs::write(&htpasswd, format!("{}\n", crate::registry::bcrypt_line(TEST_USER, TEST_PASSWORD)?))?;
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {BRIDGE_ADDR}:{port}\nauth:\n  htpasswd:\n    realm: slipway-swarm\n    path: {}\n",
            self.dir.join("data").display(),
            htpasswd.display()
        );
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{TEST_USER}:{TEST_PASSWORD}"));
        let docker_config = serde_json::json!({ "auths": { format!("{BRIDGE_ADDR}:{port}"): { "auth": auth } } });
        std::fs::create_dir_all(self.docker_config())?;
        std::fs::write(self.docker_config().join("config.json"), docker_config.to_string())?;
        std::fs::write(self.dir.join("registry.yml"), config)?;
        let log = std::fs::File::create(self.dir.join("registry.log"))?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.join("registry.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.registry_pid = child.id();
        self.registry_port = port;
        std::fs::write(self.dir.join("registry.pid"), child.id().to_string())?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect((BRIDGE_ADDR, port)).is_err() {
            if std::time::Instant::now() > deadline {
                bail!("the bridge registry did not listen within 20 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(())
    }

    /// The Docker config dir holding the registry's credentials (`config.json` `auths`).
    pub fn docker_config(&self) -> PathBuf {
        self.dir.join("docker-config")
    }

    /// `10.231.14.1:PORT`.
    pub fn registry(&self) -> String {
        format!("{BRIDGE_ADDR}:{}", self.registry_port)
    }

    /// Copy a local image into the bridge registry as `REGISTRY/name` (skopeo, plain HTTP).
    pub fn push(&self, local: &str, name: &str) -> anyhow::Result<String> {
        let dest = format!("{}/{name}", self.registry());
        run(Command::new("skopeo").args([
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--dest-creds",
            &format!("{TEST_USER}:{TEST_PASSWORD}"),
            &format!("docker-daemon:{local}"),
            &format!("docker://{dest}"),
        ]))?;
        Ok(dest)
    }

    /// slipway's Swarm target on the manager, over `ssh://`, sending the registry credentials
    /// (the nodes have none), each service update bounded by `update_timeout`.
    pub async fn deployer(&self, update_timeout: std::time::Duration) -> anyhow::Result<slipway::swarm::SwarmDeployer> {
        let m = &self.manager;
        let options = slipway::engine::ConnectOptions::host(Some(&m.ssh_url())).ssh_config(Some(m.ssh_config()));
        Ok(slipway::swarm::SwarmDeployer::connect(&slipway::engine::Connection::resolve(&options)?)
            .await?
            .update_timeout(update_timeout)
            .with_registry_auth(true))
    }

    /// Node ids of the Swarm (`docker node ls` on the manager).
    pub fn node_ids(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.manager.docker(&["node", "ls", "-q"])?.split_whitespace().map(str::to_string).collect())
    }

    /// The host a node id belongs to.
    pub fn host_of(&self, node: &str) -> Option<&RemoteHost> {
        std::iter::once(&self.manager)
            .chain(&self.workers)
            .find(|h| h.docker(&["info", "--format", "{{.Swarm.NodeID}}"]).is_ok_and(|id| id.trim() == node))
    }

    /// Every host.
    pub fn hosts(&self) -> impl Iterator<Item = &RemoteHost> {
        std::iter::once(&self.manager).chain(&self.workers)
    }

    fn stop(&self) {
        if self.registry_pid != 0 {
            let _ = Command::new("kill").arg(self.registry_pid.to_string()).stderr(Stdio::null()).status();
        }
        for h in self.workers.iter().chain(std::iter::once(&self.manager)) {
            teardown(h.slot());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
