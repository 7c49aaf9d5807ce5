//! Real PostgreSQL and Redis servers (Debian's binaries) for tests: each on a free 127.0.0.1 port,
//! in its own temporary directory, stopped and removed on drop.
//!
//! "Still starting" states, reproducibly:
//! - PostgreSQL: [`TestPostgres::start_in_recovery`] starts a server as a standby with
//!   `hot_standby=off` and no primary: it stays in recovery and answers every connection with
//!   SQLSTATE 57P03 ("the database system is not accepting connections"), the state `pg_isready`
//!   reports as "rejecting connections" and a server in startup recovery is in.
//! - Redis: [`TestRedis::start_loading`] writes a dataset (`DEBUG POPULATE` + `SAVE`), then starts
//!   a fresh server on it with `key-load-delay` (a Redis debug setting, microseconds per key) and
//!   `loading-process-events-interval-bytes 1024`, so it accepts connections and answers
//!   `-LOADING` for `keys * delay` before it serves.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use slipway::health::postgres::PostgresProbe;
use slipway::health::redis::{RedisProbe, Secret};
use slipway::health::HealthProbe;
use tempfile::TempDir;

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Debian's PostgreSQL binary directory (`/usr/lib/postgresql/<highest>/bin`).
pub fn postgres_bin_dir() -> anyhow::Result<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (apt-get install postgresql)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((v, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, d)| d).context("no /usr/lib/postgresql/<version>/bin/postgres")
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// A command run as the `postgres` user when we are root (PostgreSQL refuses to run as root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).stderr(Stdio::null()).status();
}

/// Stop `child` with `sig`, then SIGKILL if it has not exited within 5 s.
fn stop(child: &mut Child, sig: &str) {
    signal(child.id(), sig);
    for _ in 0..100 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A PostgreSQL server (trust auth on loopback for user `postgres`, database `postgres`).
pub struct TestPostgres {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl TestPostgres {
    /// initdb + start on a free port; returns once it accepts connections.
    pub async fn start() -> anyhow::Result<Self> {
        let pg = Self::launch(false).await?;
        pg.wait_until(|r| r.outcome.is_healthy(), "accept connections").await?;
        Ok(pg)
    }

    /// Start it held in recovery (standby without a primary, `hot_standby=off`): it answers every
    /// connection with SQLSTATE 57P03 until [`TestPostgres::promote`]. Returns once it answers.
    pub async fn start_in_recovery() -> anyhow::Result<Self> {
        let pg = Self::launch(true).await?;
        pg.wait_until(|r| r.starting, "answer 57P03 (in recovery)").await?;
        Ok(pg)
    }

    /// Like [`TestPostgres::start`] with extra `-c NAME=VALUE` settings (e.g. `max_connections`).
    pub async fn start_with_settings(settings: &[(&str, &str)]) -> anyhow::Result<Self> {
        let pg = Self::launch_with(false, settings).await?;
        pg.wait_until(|r| r.outcome.is_healthy(), "accept connections").await?;
        Ok(pg)
    }

    /// Start the server process and return at once, without waiting for it (to observe startup).
    pub async fn launch(in_recovery: bool) -> anyhow::Result<Self> {
        Self::launch_with(in_recovery, &[]).await
    }

    async fn launch_with(in_recovery: bool, settings: &[(&str, &str)]) -> anyhow::Result<Self> {
        let bin = postgres_bin_dir()?;
        let dir = tempfile::Builder::new().prefix("slipway-t-health-pg-").tempdir()?;
        if is_root() {
            let ok = Command::new("chown").arg("postgres:postgres").arg(dir.path()).status()?.success();
            if !ok {
                bail!("cannot chown {} to postgres", dir.path().display());
            }
        }
        let data = dir.path().join("data");
        let out = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-N", "-E", "UTF8", "--locale=C"])
            .current_dir(dir.path())
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        if in_recovery {
            let out = as_postgres(Path::new("touch")).arg(data.join("standby.signal")).output()?;
            if !out.status.success() {
                bail!("cannot create standby.signal: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        let port = free_port()?;
        let log = std::fs::File::create(dir.path().join("postgres.log"))?;
        let child = as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=20"])
            .args(["-c", &format!("hot_standby={}", if in_recovery { "off" } else { "on" })])
            .args(settings.iter().flat_map(|(k, v)| ["-c".to_string(), format!("{k}={v}")]))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting postgres")?;
        Ok(TestPostgres { child, port, dir })
    }

    /// Leave recovery (`pg_ctl promote`): the server then accepts connections.
    pub async fn promote(&self) -> anyhow::Result<()> {
        let out = as_postgres(&postgres_bin_dir()?.join("pg_ctl"))
            .arg("promote")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-W")
            .current_dir(self.dir.path())
            .output()?;
        if !out.status.success() {
            bail!("pg_ctl promote failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    async fn wait_until(&self, ok: impl Fn(&slipway::health::ProbeResult) -> bool, what: &str) -> anyhow::Result<()> {
        let probe = PostgresProbe::new("127.0.0.1", self.port, None, None);
        slipway::wait::wait_until(what, Duration::from_secs(30), Duration::from_millis(50), || {
            let probe = probe.clone();
            let ok = &ok;
            async move {
                let r = probe.probe(Duration::from_secs(2)).await;
                ok(&r).then_some(())
            }
        })
        .await
        .with_context(|| format!("postgres on port {} did not {what}; log:\n{}", self.port, self.log()))
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown (children exit with the postmaster).
        stop(&mut self.child, "QUIT");
    }
}

/// A Redis server, optionally with a password.
pub struct TestRedis {
    child: Child,
    port: u16,
    password: Option<String>,
    dir: TempDir,
}

impl TestRedis {
    /// Start without a password; returns once it answers PING.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(None).await
    }

    /// Start with `requirepass`; returns once it answers PING.
    pub async fn start_with_password(password: &str) -> anyhow::Result<Self> {
        Self::start_with(Some(password.to_string())).await
    }

    async fn start_with(password: Option<String>) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("slipway-t-health-redis-").tempdir()?;
        let (child, port) = spawn_redis(dir.path(), password.as_deref(), &[])?;
        let r = TestRedis { child, port, password, dir };
        r.wait_until(|res| res.outcome.is_healthy(), "answer PING").await?;
        Ok(r)
    }

    /// Start a server that stays in `LOADING` for about `keys * key_delay` (see the module doc).
    /// Returns once it accepts connections (and answers `-LOADING`, or PONG if loading is over).
    pub async fn start_loading(keys: u32, key_delay: Duration) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("slipway-t-health-redis-").tempdir()?;
        // A first server writes the dataset, then stops.
        let (child, port) = spawn_redis(dir.path(), None, &["--enable-debug-command", "yes"])?;
        let seed = TestRedis { child, port, password: None, dir };
        seed.wait_until(|res| res.outcome.is_healthy(), "answer PING").await?;
        let cli = |args: &[&str]| -> anyhow::Result<String> {
            let out =
                Command::new("redis-cli").args(["-h", "127.0.0.1", "-p", &port.to_string()]).args(args).output()?;
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let populated = cli(&["DEBUG", "POPULATE", &keys.to_string()])?;
        let saved = cli(&["SAVE"])?;
        if populated != "OK" || saved != "OK" {
            bail!("cannot write the dataset: DEBUG POPULATE {populated:?}, SAVE {saved:?}");
        }
        let mut seed = seed;
        stop(&mut seed.child, "TERM");
        // The second server loads it slowly.
        let delay = key_delay.as_micros().max(1).to_string();
        let extra = ["--key-load-delay", delay.as_str(), "--loading-process-events-interval-bytes", "1024"];
        let (child, port) = spawn_redis(seed.dir.path(), None, &extra)?;
        let old = std::mem::replace(&mut seed.child, child);
        drop(old);
        seed.port = port;
        seed.wait_until(|res| res.starting || res.outcome.is_healthy(), "accept connections").await?;
        Ok(seed)
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The password, if any.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// `redis://[:PASSWORD@]127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    async fn wait_until(&self, ok: impl Fn(&slipway::health::ProbeResult) -> bool, what: &str) -> anyhow::Result<()> {
        let probe = Arc::new(RedisProbe::new("127.0.0.1", self.port, None, self.password.as_deref().map(Secret::new)));
        slipway::wait::wait_until(what, Duration::from_secs(30), Duration::from_millis(20), || {
            let probe = probe.clone();
            let ok = &ok;
            async move {
                let r = probe.probe(Duration::from_secs(2)).await;
                ok(&r).then_some(())
            }
        })
        .await
        .with_context(|| format!("redis on port {} did not {what}; log:\n{}", self.port, self.log()))
    }
}

/// Start `redis-server` in `dir` on a free port (log in `dir/redis.log`).
fn spawn_redis(dir: &Path, password: Option<&str>, extra: &[&str]) -> anyhow::Result<(Child, u16)> {
    let port = free_port()?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("redis.log"))?;
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(["--daemonize", "no"]);
    if let Some(pw) = password {
        cmd.args(["--requirepass", pw]);
    }
    let child = cmd
        .args(extra)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting redis-server (apt-get install redis-server)")?;
    Ok((child, port))
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        stop(&mut self.child, "TERM");
    }
}
