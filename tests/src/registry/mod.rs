//! `TestRegistry`: Debian's `docker-registry` (Distribution 2.8) on a free loopback port, with its
//! storage in a temp dir, deletes enabled, and one of three auth modes (none, htpasswd bcrypt, bearer
//! tokens from [`token_server::TokenServer`]). Its access log is captured so tests can assert which
//! requests were made. The process is killed and the directory removed on drop.

pub mod byte_counter;
pub mod credential_helper;
pub mod fault_proxy;
pub mod sample;
pub mod token_server;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

pub use credential_helper::CredentialHelper;
pub use fault_proxy::{Fault, FaultProxy, FaultRule};
pub use token_server::TokenServer;

/// The user name the registry accepts in htpasswd and token modes.
pub const TEST_USER: &str = "slipway";
/// The password of [`TEST_USER`].
pub const TEST_PASSWORD: &str = "slipway-test-password";

/// How clients authenticate to a [`TestRegistry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication at all.
    None,
    /// HTTP basic auth checked against a bcrypt htpasswd file.
    Htpasswd,
    /// Bearer tokens issued by a [`TokenServer`] the registry trusts.
    Token,
}

/// Options for [`TestRegistry`].
#[derive(Debug, Clone)]
pub struct TestRegistryBuilder {
    auth: AuthMode,
}

impl TestRegistryBuilder {
    /// No authentication.
    pub fn no_auth(mut self) -> Self {
        self.auth = AuthMode::None;
        self
    }
    /// htpasswd basic auth (the default).
    pub fn htpasswd(mut self) -> Self {
        self.auth = AuthMode::Htpasswd;
        self
    }
    /// Bearer-token auth through a token server started alongside.
    pub fn token_auth(mut self) -> Self {
        self.auth = AuthMode::Token;
        self
    }
    /// Start the registry and wait until `/v2/` answers.
    pub async fn start(self) -> anyhow::Result<TestRegistry> {
        let mut last_err = None;
        // A freed port may be taken by someone else before the registry binds it: try a few.
        for _ in 0..3 {
            match TestRegistry::start_once(self.auth).await {
                Ok(r) => return Ok(r),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("registry did not start")))
    }
}

/// A running Distribution registry on 127.0.0.1.
pub struct TestRegistry {
    child: Child,
    port: u16,
    auth: AuthMode,
    dir: tempfile::TempDir,
    token_server: Option<TokenServer>,
}

impl std::fmt::Debug for TestRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRegistry").field("host", &self.host()).field("auth", &self.auth).finish()
    }
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

pub(crate) fn bcrypt_line(user: &str, password: &str) -> anyhow::Result<String> {
    // `htpasswd -nbB` when apache2-utils is there, else python3's crypt module.
    if let Ok(out) = std::process::Command::new("htpasswd").args(["-nbB", user, password]).output() {
        if out.status.success() {
            return Ok(String::from_utf8(out.stdout)?.trim().to_string());
        }
    }
    let script =
        format!("import crypt; print('{user}:' + crypt.crypt('{password}', crypt.mksalt(crypt.METHOD_BLOWFISH)))");
    let out = std::process::Command::new("python3")
        .args(["-W", "ignore", "-c", &script])
        .output()
        .context("neither htpasswd nor python3 could make a bcrypt line")?;
    if !out.status.success() {
        bail!("python3 crypt failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

impl TestRegistry {
    /// A builder (htpasswd auth unless changed).
    pub fn builder() -> TestRegistryBuilder {
        TestRegistryBuilder { auth: AuthMode::Htpasswd }
    }

    /// Start a registry with htpasswd auth.
    pub async fn start() -> anyhow::Result<Self> {
        Self::builder().start().await
    }

    async fn start_once(auth: AuthMode) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("slipway-t-registry-").tempdir()?;
        let port = free_port()?;
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage)?;
        let mut token_server = None;
        let auth_yaml = match auth {
            AuthMode::None => String::new(),
            AuthMode::Htpasswd => {
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, format!("{}\n", bcrypt_line(TEST_USER, TEST_PASSWORD)?))?;
                format!("auth:\n  htpasswd:\n    realm: slipway-test\n    path: {}\n", file.display())
            }
            AuthMode::Token => {
                let ts = TokenServer::start(dir.path(), TEST_USER, TEST_PASSWORD).await?;
                let yaml = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    ts.realm(),
                    token_server::SERVICE,
                    token_server::ISSUER,
                    ts.cert_path().display()
                );
                token_server = Some(ts);
                yaml
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: slipway-test-secret-{port}\n{auth_yaml}",
            storage.display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config)?;
        let stdout = std::fs::File::create(dir.path().join("stdout.log"))?;
        let stderr = std::fs::File::create(dir.path().join("stderr.log"))?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .context("starting docker-registry (apt-get install docker-registry)")?;
        let mut reg = Self { child, port, auth, dir, token_server };
        reg.wait_ready().await?;
        Ok(reg)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let url = format!("http://{}/v2/", self.host());
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        for _ in 0..150 {
            if let Some(status) = self.child.try_wait()? {
                bail!("docker-registry exited with {status}: {}", self.logs());
            }
            if let Ok(resp) = client.get(&url).send().await {
                if resp.status().is_success() || resp.status().as_u16() == 401 {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("docker-registry did not answer on {url} within 15 s: {}", self.logs())
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The auth mode.
    pub fn auth(&self) -> AuthMode {
        self.auth
    }
    /// The user name to log in with (also set in no-auth mode, where it is ignored).
    pub fn username(&self) -> &str {
        TEST_USER
    }
    /// The password to log in with.
    pub fn password(&self) -> &str {
        TEST_PASSWORD
    }
    /// The token server, in token mode.
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token_server.as_ref()
    }
    /// The storage root on disk (for tests that tamper with stored blobs).
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }
    /// The registry's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    /// Everything the registry wrote so far (access log lines and application log).
    pub fn access_log(&self) -> String {
        self.logs()
    }
    /// The access-log request lines (`METHOD PATH`), in order, e.g. `PUT /v2/app/manifests/v1`.
    pub fn requests(&self) -> Vec<String> {
        self.logs()
            .lines()
            .filter_map(|l| {
                let start = l.find("\"")? + 1;
                let rest = &l[start..];
                let end = rest.find(" HTTP/")?;
                let req = &rest[..end];
                let (method, path) = req.split_once(' ')?;
                (method.bytes().all(|b| b.is_ascii_uppercase()) && path.starts_with('/')).then(|| req.to_string())
            })
            .collect()
    }
    fn logs(&self) -> String {
        let mut s = std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default();
        s.push_str(&std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default());
        s
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
