//! `TokenServer`: a tiny bearer-token issuer for Distribution's `auth.token` mode. It makes an EC
//! P-256 key and a self-signed certificate at start (openssl CLI), which the registry trusts as its
//! `rootcertbundle`, and answers `GET /token?service=..&scope=..` with ES256 JWTs carrying the
//! certificate in `x5c`. Basic credentials must match; anonymous requests get a token with no access.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The `service` the registry and the tokens name.
pub const SERVICE: &str = "slipway-test-registry";
/// The `iss` of every token.
pub const ISSUER: &str = "slipway-test-issuer";

/// A running token server on 127.0.0.1.
pub struct TokenServer {
    port: u16,
    cert_path: PathBuf,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    key: jsonwebtoken::EncodingKey,
    cert_der_b64: String,
    user: String,
    password: String,
    issued: AtomicUsize,
    scopes: Mutex<Vec<String>>,
    expires_in: u64,
}

impl std::fmt::Debug for TokenServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenServer").field("port", &self.port).finish()
    }
}

impl TokenServer {
    /// Generate a key and certificate in `dir` and start serving.
    pub async fn start(dir: &Path, user: &str, password: &str) -> anyhow::Result<Self> {
        let key_path = dir.join("token-key.pem");
        let cert_path = dir.join("token-cert.pem");
        let out = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-subj", "/CN=slipway-test-token-issuer", "-days", "2", "-keyout"])
            .arg(&key_path)
            .arg("-out")
            .arg(&cert_path)
            .output()
            .context("running openssl to make the token signing certificate")?;
        if !out.status.success() {
            bail!("openssl req failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let key_pem = std::fs::read(&key_path)?;
        let cert_pem = std::fs::read_to_string(&cert_path)?;
        let b64: String = cert_pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(b64.trim())?;
        let state = Arc::new(State {
            key: jsonwebtoken::EncodingKey::from_ec_pem(&key_pem)?,
            cert_der_b64: base64::engine::general_purpose::STANDARD.encode(der),
            user: user.to_string(),
            password: password.to_string(),
            issued: AtomicUsize::new(0),
            scopes: Mutex::new(Vec::new()),
            expires_in: 300,
        });
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let (status, body) = st.answer(&String::from_utf8_lossy(&buf));
                    let resp = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Ok(Self { port, cert_path, state, task })
    }

    /// The realm URL the registry sends in its challenge.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }
    /// The certificate the registry trusts.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }
    /// How many tokens were issued so far.
    pub fn tokens_issued(&self) -> usize {
        self.state.issued.load(Ordering::SeqCst)
    }
    /// Every scope requested so far, in order.
    pub fn scopes_requested(&self) -> Vec<String> {
        self.state.scopes.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl State {
    fn answer(&self, request: &str) -> (&'static str, String) {
        let mut lines = request.lines();
        let target = lines.next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("/");
        let url = match url::Url::parse(&format!("http://x{target}")) {
            Ok(u) => u,
            Err(_) => return ("400 Bad Request", "{}".into()),
        };
        let authorized = lines
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
            .filter_map(|(_, v)| v.trim().strip_prefix("Basic ").map(str::to_string))
            .filter_map(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .any(|raw| raw == format!("{}:{}", self.user, self.password).as_bytes());
        let has_basic = request.to_ascii_lowercase().contains("\r\nauthorization: basic");
        if has_basic && !authorized {
            return ("401 Unauthorized", r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#.into());
        }
        let mut access = Vec::new();
        for (k, v) in url.query_pairs() {
            if k != "scope" {
                continue;
            }
            if let Ok(mut s) = self.scopes.lock() {
                s.push(v.to_string());
            }
            // repository:NAME:ACTIONS (NAME may contain ':' only for a port-less name; keep it simple).
            let parts: Vec<&str> = v.splitn(3, ':').collect();
            if parts.len() == 3 && authorized {
                let actions: Vec<&str> = parts[2].split(',').filter(|a| !a.is_empty()).collect();
                access.push(serde_json::json!({"type": parts[0], "name": parts[1], "actions": actions}));
            }
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        let claims = serde_json::json!({
            "iss": ISSUER,
            "sub": if authorized { self.user.as_str() } else { "" },
            "aud": SERVICE,
            "exp": now + self.expires_in,
            "nbf": now.saturating_sub(10),
            "iat": now,
            "jti": format!("slipway-test-{n}"),
            "access": access,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.x5c = Some(vec![self.cert_der_b64.clone()]);
        match jsonwebtoken::encode(&header, &claims, &self.key) {
            Ok(token) => (
                "200 OK",
                serde_json::json!({"token": token, "access_token": token, "expires_in": self.expires_in}).to_string(),
            ),
            Err(e) => ("500 Internal Server Error", serde_json::json!({"error": e.to_string()}).to_string()),
        }
    }
}
