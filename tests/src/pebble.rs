//! `TestPebble`: Debian's Pebble (a real ACME server, 2.4) on an address of our own (loopback or
//! the gateway of a Docker network the test created, so a proxy container reaches it), with
//! `PEBBLE_VA_ALWAYS_VALID=1` (no public DNS here: challenges are not validated) and
//! `PEBBLE_VA_NOSLEEP=1`. Its endpoints' TLS certificate comes from a test CA made with rcgen for
//! that address; the root that signs issued certificates is read from its management API
//! (`/roots/0`). Killed on drop.

use std::net::IpAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::traefik::{certificates_for, free_port};

/// Debian's package installs the binary here.
const PEBBLE: &str = "/usr/bin/pebble";

/// A running Pebble. Killed when dropped.
pub struct TestPebble {
    _child: Child,
    dir: tempfile::TempDir,
    ip: IpAddr,
    port: u16,
    management_port: u16,
    ca_pem: String,
}

impl TestPebble {
    /// Start Pebble listening on `ip` (free ports) and wait (bounded) until its directory answers.
    pub async fn start(ip: IpAddr) -> anyhow::Result<Self> {
        anyhow::ensure!(
            std::path::Path::new(PEBBLE).exists(),
            "no {PEBBLE}: install Debian's pebble (scripts/setup does)"
        );
        let dir = tempfile::Builder::new().prefix("slipway-t-proxy-pebble-").tempdir()?;
        let (ca_pem, cert_pem, key_pem) = certificates_for("slipway test Pebble endpoint CA", "localhost", &[ip])?;
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, cert_pem)?;
        std::fs::write(&key, key_pem)?;
        std::fs::write(dir.path().join("ca.pem"), &ca_pem)?;
        let (port, management_port) = (free_port()?, free_port()?);
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("{ip}:{port}"),
            "managementListenAddress": format!("{ip}:{management_port}"),
            "certificate": cert, "privateKey": key,
            "httpPort": free_port()?, "tlsPort": free_port()?,
            "ocspResponderURL": "", "externalAccountBindingRequired": false
        }});
        let config_file = dir.path().join("pebble.json");
        std::fs::write(&config_file, serde_json::to_vec_pretty(&config)?)?;
        let log = std::fs::File::create(dir.path().join("pebble.log"))?;
        let child = Command::new(PEBBLE)
            .arg("-config")
            .arg(&config_file)
            .env("PEBBLE_VA_ALWAYS_VALID", "1")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("starting pebble")?;
        let pebble = TestPebble { _child: child, dir, ip, port, management_port, ca_pem };
        let client = pebble.client()?;
        let url = pebble.directory_url();
        slipway::wait::wait_until("pebble's directory", Duration::from_secs(20), Duration::from_millis(100), || {
            let req = client.get(&url).send();
            async move { req.await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
        })
        .await
        .with_context(|| format!("pebble did not start; log:\n{}", pebble.logs()))?;
        Ok(pebble)
    }

    /// The ACME directory URL (`https://IP:PORT/dir`).
    pub fn directory_url(&self) -> String {
        format!("https://{}/dir", self.addr(self.port))
    }

    fn addr(&self, port: u16) -> String {
        match self.ip {
            IpAddr::V4(ip) => format!("{ip}:{port}"),
            IpAddr::V6(ip) => format!("[{ip}]:{port}"),
        }
    }

    /// The CA (PEM) of Pebble's own endpoints' certificate: what an ACME client must trust
    /// (`--acme-ca`).
    pub fn endpoint_ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The file holding [`TestPebble::endpoint_ca_pem`].
    pub fn endpoint_ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The root (PEM) that signs the certificates Pebble issues, from its management API.
    pub async fn issuing_root_pem(&self) -> anyhow::Result<String> {
        let url = format!("https://{}/roots/0", self.addr(self.management_port));
        let resp = self.client()?.get(&url).send().await?.error_for_status()?;
        Ok(resp.text().await?)
    }

    /// A client trusting Pebble's endpoint CA, without proxies.
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .no_proxy()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes())?)
            .timeout(Duration::from_secs(10))
            .build()?)
    }

    /// Pebble's log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }
}
