//! `ssh://[user@]host[:port][/path/to/docker.sock]` through the system `ssh`, as the docker CLI
//! does it: each HTTP connection is one `ssh ... -- docker system dial-stdio` child whose
//! stdin/stdout carry the bytes, so ssh_config, the agent, jump hosts and known_hosts all apply.
//! One master connection (ControlMaster, in a private directory) serves the whole command and is
//! closed (`ssh -O exit`) when the last client goes. BatchMode is on, host keys are checked
//! strictly, and connecting is bounded (ConnectTimeout, keep-alives).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;

use super::error::classify_ssh;
use super::ssh_control::{ControlDir, SshSettings};
use super::transport::{BoxedIo, Dial};
use super::{EngineError, TransportError};

/// Seconds ssh may take to connect (`ConnectTimeout`).
pub(crate) const CONNECT_TIMEOUT_SECS: u64 = 10;
/// The most stderr kept per ssh child.
const MAX_STDERR: usize = 8192;

/// Where an `ssh://` URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SshTarget {
    /// `user@`, when given.
    pub user: Option<String>,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// `:port`, when given.
    pub port: Option<u16>,
    /// The remote engine's socket, when the URL has a path.
    pub socket: Option<String>,
}

impl SshTarget {
    /// Parse `ssh://[user@]host[:port][/path]`.
    pub fn parse(url: &str) -> Result<Self, EngineError> {
        let invalid = |reason: String| EngineError::InvalidHost { host: url.to_string(), reason };
        let u = url::Url::parse(url).map_err(|e| invalid(format!("not a URL: {e}")))?;
        if u.password().is_some() {
            return Err(invalid("ssh:// URLs take no password; use a key (ssh-agent or IdentityFile)".into()));
        }
        let host = u.host_str().filter(|h| !h.is_empty()).ok_or_else(|| invalid("missing host".into()))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        if host.starts_with('-') {
            return Err(invalid("a host cannot start with '-'".into()));
        }
        let user = Some(u.username().to_string()).filter(|s| !s.is_empty());
        let socket = Some(u.path().to_string()).filter(|p| !p.is_empty() && p != "/");
        if u.query().is_some() || u.fragment().is_some() {
            return Err(invalid("ssh:// URLs take no query or fragment".into()));
        }
        Ok(SshTarget { user, host, port: u.port(), socket })
    }

    /// `user@host:port` for messages.
    pub fn shown(&self) -> String {
        let user = self.user.as_deref().map(|u| format!("{u}@")).unwrap_or_default();
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{user}{}{port}", self.host)
    }
}

/// The master connection of one command.
pub(crate) struct SshMaster {
    target: SshTarget,
    config: Option<PathBuf>,
    control: PathBuf,
    persist: Option<Duration>,
    /// The engine's socket forwarded through the master (a local unix socket), when the URL names
    /// the remote socket: connections then start no process on either side.
    forwarded: Option<PathBuf>,
    dir: ControlDir,
}

impl std::fmt::Debug for SshMaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshMaster").field("host", &self.target.shown()).finish()
    }
}

impl SshMaster {
    /// Authenticate once (`ssh -M -N -f`): the failure modes of the host are told here, before
    /// anything is asked of the engine.
    pub async fn start(target: &SshTarget, settings: &SshSettings) -> Result<Self, EngineError> {
        let (dir, control) = ControlDir::for_target(target, settings)
            .map_err(|source| EngineError::Spawn { host: target.shown(), source })?;
        let mut master = SshMaster {
            target: target.clone(),
            config: settings.config.clone(),
            control,
            persist: settings.persist,
            forwarded: None,
            dir,
        };
        // A persistent master of an earlier command: no handshake.
        if master.dir.persistent() && master.check().await {
            if let Some(remote) = target.socket.clone() {
                master.forwarded = master.forward_socket(&remote, true).await;
            }
            return Ok(master);
        }
        let log = master.control.with_extension("log");
        let stderr =
            std::fs::File::create(&log).map_err(|source| EngineError::Spawn { host: target.shown(), source })?;
        let persist = match master.persist {
            Some(d) => format!("ControlPersist={}s", d.as_secs().max(1)),
            None => "ControlPersist=yes".to_string(),
        };
        let mut cmd = master.command();
        cmd.args(["-M", "-N", "-f", "-o", "ControlMaster=yes", "-o", &persist])
            .arg("--")
            .arg(&target.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child = cmd.spawn().map_err(|source| EngineError::Spawn { host: target.shown(), source })?;
        let bound = Duration::from_secs(CONNECT_TIMEOUT_SECS + 5);
        let status = match tokio::time::timeout(bound, child.wait()).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => return Err(EngineError::Spawn { host: target.shown(), source }),
            Err(_) => {
                let _ = child.start_kill();
                return Err(TransportError::Timeout { host: target.shown(), secs: bound.as_secs() }.into());
            }
        };
        if !status.success() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(classify_ssh(&target.shown(), status.code(), &text).into());
        }
        if let Some(remote) = target.socket.clone() {
            master.forwarded = master.forward_socket(&remote, false).await;
        }
        Ok(master)
    }

    /// `ssh -O check`: a master answers on the control socket.
    async fn check(&self) -> bool {
        let mut cmd = self.command();
        cmd.args(["-O", "check", "--"])
            .arg(&self.target.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        matches!(tokio::time::timeout(Duration::from_secs(5), cmd.status()).await, Ok(Ok(s)) if s.success())
    }

    /// Ask the master to forward the remote engine socket `remote` to a local socket
    /// (`ssh -O forward -L LOCAL:REMOTE`, OpenSSH's streamlocal forwarding); `None` when the
    /// server refuses (then every connection is a `docker system dial-stdio`, as before).
    async fn forward_socket(&self, remote: &str, reused: bool) -> Option<PathBuf> {
        let local = self.control.with_extension("sock");
        if !reused {
            // A socket file left by a master that is gone would make the forwarding fail.
            let _ = std::fs::remove_file(&local);
        }
        let mut cmd = self.command();
        cmd.args(["-O", "forward", "-L"])
            .arg(format!("{}:{remote}", local.display()))
            .arg("--")
            .arg(&self.target.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let status = tokio::time::timeout(Duration::from_secs(CONNECT_TIMEOUT_SECS), cmd.status()).await;
        // A reused master already forwards it (the forwarding fails as the address is taken).
        (matches!(status, Ok(Ok(s)) if s.success()) || reused && local.exists()).then_some(local)
    }

    /// `ssh` with the options every call shares (control path, batch mode, strict host keys,
    /// bounded connect, keep-alives, user, port).
    fn command(&self) -> Command {
        let mut cmd = Command::new("ssh");
        if let Some(c) = &self.config {
            cmd.arg("-F").arg(c);
        }
        cmd.arg("-o").arg(format!("ControlPath={}", self.control.display()));
        for o in [
            "BatchMode=yes".to_string(),
            "StrictHostKeyChecking=yes".to_string(),
            format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}"),
            "ServerAliveInterval=5".to_string(),
            "ServerAliveCountMax=3".to_string(),
        ] {
            cmd.arg("-o").arg(o);
        }
        cmd.arg("-T");
        if let Some(u) = &self.target.user {
            cmd.arg("-l").arg(u);
        }
        if let Some(p) = self.target.port {
            cmd.arg("-p").arg(p.to_string());
        }
        cmd.kill_on_drop(true);
        cmd
    }

    /// One `docker system dial-stdio` through the master.
    fn dial_stdio(&self) -> std::io::Result<SshStream> {
        let mut cmd = self.command();
        cmd.args(["-o", "ControlMaster=no", "--"]).arg(&self.target.host).arg("docker");
        if let Some(sock) = &self.target.socket {
            cmd.arg(format!("--host=unix://{sock}"));
        }
        cmd.args(["system", "dial-stdio"]);
        self.spawn_stream(cmd)
    }

    /// A TCP connection to `host:port` opened from the remote side (`ssh -W`, through the master).
    pub fn forward(&self, host: &str, port: u16) -> std::io::Result<SshStream> {
        let mut cmd = self.command();
        cmd.args(["-o", "ControlMaster=no", "-W"]).arg(format!("{host}:{port}")).arg("--").arg(&self.target.host);
        self.spawn_stream(cmd)
    }

    fn spawn_stream(&self, mut cmd: Command) -> std::io::Result<SshStream> {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let (stdin, stdout, mut stderr) = match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
            (Some(i), Some(o), Some(e)) => (i, o, e),
            _ => return Err(std::io::Error::other("ssh child without pipes")),
        };
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = sink.lock() {
                    if t.len() < MAX_STDERR {
                        t.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            }
        });
        let (exit_tx, exit_rx) = oneshot::channel();
        let (kill_tx, mut kill_rx) = oneshot::channel::<()>();
        let host = self.target.shown();
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s.ok(),
                _ = &mut kill_rx => { let _ = child.start_kill(); let _ = child.wait().await; None }
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
            let stderr = text.lock().map(|t| t.clone()).unwrap_or_default();
            let outcome = match status {
                Some(s) if s.success() => Ok(()),
                Some(s) => Err(classify_ssh(&host, s.code(), &stderr)),
                None => Ok(()),
            };
            let _ = exit_tx.send(outcome);
        });
        Ok(SshStream { stdin, stdout, exit: Some(exit_rx), _kill: kill_tx })
    }
}

impl SshMaster {
    /// `ssh -O exit`: end the master (and its forwardings) now.
    pub fn exit(&self) {
        let mut cmd = std::process::Command::new("ssh");
        if let Some(c) = &self.config {
            cmd.arg("-F").arg(c);
        }
        let _ = cmd
            .arg("-o")
            .arg(format!("ControlPath={}", self.control.display()))
            .args(["-O", "exit", "--"])
            .arg(&self.target.host)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // What the master leaves beside its control socket (its log, the forwarded socket) goes
        // with it; ssh removes the control socket itself.
        if std::os::unix::net::UnixStream::connect(&self.control).is_err() {
            for leftover in [self.control.with_extension("log"), self.control.with_extension("sock")] {
                let _ = std::fs::remove_file(leftover);
            }
        }
    }
}

impl Drop for SshMaster {
    fn drop(&mut self) {
        if !self.dir.persistent() {
            self.exit(); // a persistent master ends by itself once idle for `ControlPersist`
        }
    }
}

/// Dials through one [`SshMaster`].
pub(crate) struct SshDial(pub Arc<SshMaster>);

impl Dial for SshDial {
    fn dial(&self) -> Pin<Box<dyn Future<Output = std::io::Result<BoxedIo>> + Send>> {
        if let Some(local) = self.0.forwarded.clone() {
            let host = self.0.target.shown();
            return Box::pin(async move {
                let stream = tokio::net::UnixStream::connect(&local).await.map_err(|e| {
                    // The forwarding's socket goes away with the master.
                    TransportError::Dropped { host, detail: format!("the master connection is gone ({e})") }.into_io()
                })?;
                Ok(Box::new(stream) as BoxedIo)
            });
        }
        let result = self.0.dial_stdio().map(|s| Box::new(s) as BoxedIo);
        Box::pin(async move { result })
    }
}

/// One `dial-stdio` child's stdio. An end of stdout from a child that failed is reported as the
/// child's classified error (docker missing, connection dropped), not as a clean end.
pub(crate) struct SshStream {
    stdin: ChildStdin,
    stdout: ChildStdout,
    exit: Option<oneshot::Receiver<Result<(), TransportError>>>,
    _kill: oneshot::Sender<()>,
}

impl AsyncRead for SshStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stdout).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before => {}
            other => return other,
        }
        let Some(exit) = self.exit.as_mut() else { return Poll::Ready(Ok(())) };
        match Pin::new(exit).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(outcome) => {
                self.exit = None;
                match outcome {
                    Ok(Err(t)) => Poll::Ready(Err(t.into_io())),
                    _ => Poll::Ready(Ok(())),
                }
            }
        }
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls_parse_like_the_docker_cli() {
        let t = SshTarget::parse("ssh://root@10.231.0.11:2222/run/d.sock").unwrap();
        assert_eq!(
            (t.user.as_deref(), t.host.as_str(), t.port, t.socket.as_deref()),
            (Some("root"), "10.231.0.11", Some(2222), Some("/run/d.sock"))
        );
        assert_eq!(t.shown(), "root@10.231.0.11:2222");
        let t = SshTarget::parse("ssh://vps").unwrap();
        assert_eq!((t.user, t.port, t.socket), (None, None, None));
        assert_eq!(SshTarget::parse("ssh://[::1]:22").unwrap().host, "::1");
        for bad in ["ssh://", "ssh://u:pw@h", "ssh://-oProxyCommand=x", "ssh://h?x=1"] {
            assert!(SshTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
