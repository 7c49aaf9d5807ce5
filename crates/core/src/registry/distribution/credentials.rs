//! Credentials: explicit arguments first, then Docker's `config.json` (`DOCKER_CONFIG` or
//! `~/.docker`): `auths` (`auth` or `identitytoken`), `credHelpers`, `credsStore`, run as
//! `docker-credential-<name> get` exactly as Docker does (through the `docker_credential` crate).
//! `store_login` writes what `docker login` writes.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::registry::RegistryError;
use crate::secret::Secret;

/// Docker Hub's key in `config.json`.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// Credentials for one registry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Credentials {
    /// No credentials.
    #[default]
    Anonymous,
    /// User name and password (or personal access token).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// An OAuth2 refresh token (`identitytoken` in `config.json`).
    IdentityToken(Secret),
}

impl Credentials {
    /// User name and password.
    pub fn basic(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Credentials::Basic { username: username.into(), password: password.into() }
    }
}

/// The key Docker uses in `config.json` for `host`.
pub fn config_key(host: &str) -> String {
    if host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" {
        DOCKER_HUB_AUTH_KEY.to_string()
    } else {
        host.to_string()
    }
}

/// The directory holding `config.json` (`DOCKER_CONFIG`, else `~/.docker`).
pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker"))
}

/// Look up credentials for `host` in Docker's configuration; anonymous when none are configured.
pub async fn from_docker_config(host: &str) -> Result<Credentials, RegistryError> {
    let host = host.to_string();
    tokio::task::spawn_blocking(move || lookup_blocking(&host))
        .await
        .map_err(|e| RegistryError::Credentials { registry: "?".into(), reason: e.to_string() })?
}

fn lookup_blocking(host: &str) -> Result<Credentials, RegistryError> {
    use docker_credential::{CredentialRetrievalError as E, DockerCredential};
    // No config.json at all: anonymous (Docker does the same).
    if !config_dir().is_some_and(|d| d.join("config.json").is_file()) {
        return Ok(Credentials::Anonymous);
    }
    let key = config_key(host);
    let candidates = [key.clone(), format!("https://{host}"), format!("http://{host}")];
    for candidate in candidates.iter() {
        match docker_credential::get_credential(candidate) {
            Ok(DockerCredential::UsernamePassword(u, p)) => return Ok(Credentials::basic(u, p)),
            Ok(DockerCredential::IdentityToken(t)) => return Ok(Credentials::IdentityToken(Secret::new(t))),
            Err(E::NoCredentialConfigured) | Err(E::ConfigNotFound) => continue,
            Err(e) => {
                // The helper's own output may hold secrets: report only the kind of failure.
                let reason = match e {
                    E::HelperFailure { helper, .. } => format!("credential helper {helper} failed"),
                    E::HelperCommunicationError => "cannot run the credential helper".to_string(),
                    E::MalformedHelperResponse => "malformed credential helper response".to_string(),
                    E::CredentialDecodingError => "cannot decode the auth entry of config.json".to_string(),
                    _ => "cannot read config.json".to_string(),
                };
                return Err(RegistryError::Credentials { registry: host.to_string(), reason });
            }
        }
    }
    Ok(Credentials::Anonymous)
}

/// Store a login as `docker login` does: through `credsStore` when configured, else as base64
/// `auth` under `auths` in `config.json` (created with mode 0600 when missing).
pub async fn store_login(host: &str, username: &str, password: &Secret) -> Result<PathBuf, RegistryError> {
    let dir = config_dir().ok_or_else(|| RegistryError::Credentials {
        registry: host.into(),
        reason: "no HOME or DOCKER_CONFIG".into(),
    })?;
    let path = dir.join("config.json");
    let mut config: Value = match tokio::fs::read(&path).await {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| RegistryError::Credentials {
            registry: host.into(),
            reason: format!("{}: {e}", path.display()),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(RegistryError::io(path.display(), "read", e)),
    };
    let key = config_key(host);
    let helper = config
        .get("credHelpers")
        .and_then(|h| h.get(&key))
        .or_else(|| config.get("credsStore"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if !config.get("auths").is_some_and(Value::is_object) {
        config["auths"] = json!({});
    }
    if let Some(helper) = helper {
        run_helper_store(&helper, &key, username, password).await?;
        config["auths"][&key] = json!({});
    } else {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()));
        config["auths"][&key] = json!({ "auth": auth });
    }
    tokio::fs::create_dir_all(&dir).await.map_err(|e| RegistryError::io(dir.display(), "create", e))?;
    let bytes = serde_json::to_vec_pretty(&config)
        .map_err(|e| RegistryError::Credentials { registry: host.into(), reason: e.to_string() })?;
    let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| RegistryError::io(dir.display(), "create", e))?;
    std::fs::write(tmp.path(), bytes).map_err(|e| RegistryError::io(tmp.path().display(), "write", e))?;
    tmp.persist(&path).map_err(|e| RegistryError::io(path.display(), "rename", e.error))?;
    Ok(path)
}

async fn run_helper_store(helper: &str, key: &str, username: &str, password: &Secret) -> Result<(), RegistryError> {
    use tokio::io::AsyncWriteExt;
    let program = format!("docker-credential-{helper}");
    let fail = |reason: String| RegistryError::Credentials { registry: key.to_string(), reason };
    let mut child = tokio::process::Command::new(&program)
        .arg("store")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("cannot run {program}: {e}")))?;
    let payload = json!({"ServerURL": key, "Username": username, "Secret": password.expose()}).to_string();
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(payload.as_bytes()).await.map_err(|e| fail(format!("{program}: {e}")))?;
    }
    let status = child.wait().await.map_err(|e| fail(format!("{program}: {e}")))?;
    if !status.success() {
        return Err(fail(format!("{program} store exited with {status}")));
    }
    Ok(())
}
