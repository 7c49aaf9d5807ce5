//! The engine connection flags every command that talks to an engine takes, named as the docker
//! CLI names them: `-H/--host`, `--context`, `--tls`, `--tlsverify`, `--tlscacert`, `--tlscert`,
//! `--tlskey`; and slipway's `--ssh-persist DURATION` (keep an `ssh://` master for the next
//! command, `SLIPWAY_SSH_PERSIST`). The environment (`DOCKER_HOST`, `DOCKER_CONTEXT`, `DOCKER_TLS_VERIFY`,
//! `DOCKER_CERT_PATH`, the current context) fills in what is not given; see `slipway::engine`.

use std::path::PathBuf;

use slipway::engine::Docker;
use slipway::engine::{ConnectOptions, Connection, EngineError};

/// Which Docker engine, and how to reach it.
#[derive(clap::Args, Clone, Debug, Default)]
#[command(next_help_heading = "Engine connection")]
pub struct EngineArgs {
    /// Docker engine: unix:///PATH, tcp://HOST:PORT, https://HOST:PORT or
    /// ssh://[USER@]HOST[:PORT][/SOCKET]; default DOCKER_HOST, a Docker context, else the local socket.
    #[arg(long = "host", short = 'H', value_name = "URL")]
    pub host: Option<String>,
    /// Docker context to use (default DOCKER_CONTEXT, else the current context in ~/.docker/config.json).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Use TLS without verifying the engine's certificate.
    #[arg(long)]
    pub tls: bool,
    /// Use TLS and verify the engine's certificate (also DOCKER_TLS_VERIFY).
    #[arg(long)]
    pub tlsverify: bool,
    /// CA the engine's certificate must be signed by (default DOCKER_CERT_PATH/ca.pem).
    #[arg(long, value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// Client certificate (default DOCKER_CERT_PATH/cert.pem).
    #[arg(long, value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// Client key (default DOCKER_CERT_PATH/key.pem).
    #[arg(long, value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
    /// Keep the ssh:// master connection this long after the command for the next one to reuse
    /// (60s, 5m; default SLIPWAY_SSH_PERSIST, else it ends with the command; 0s: end it).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ssh_persist: Option<std::time::Duration>,
}

/// A duration as compose writes it (`60s`, `5m`), by the one duration parser.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    slipway::duration::parse(s).map_err(|e| e.to_string())
}

impl EngineArgs {
    /// The options these flags give.
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions::host(self.host.as_deref())
            .context(self.context.as_deref())
            .tls(self.tls, self.tlsverify, self.tlscacert.clone(), self.tlscert.clone(), self.tlskey.clone())
            .ssh_persist(self.ssh_persist)
    }

    /// The connection, resolved against the environment.
    pub fn resolve(&self) -> Result<Connection, EngineError> {
        Connection::resolve(&self.options())
    }
}

/// Resolve `args` and connect.
pub async fn connect(args: &EngineArgs) -> Result<Docker, EngineError> {
    slipway::engine::connect(&args.resolve()?).await
}
