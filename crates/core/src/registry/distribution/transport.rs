//! The one layer every registry request goes through: scheme choice (plain HTTP for loopback and
//! hosts listed insecure, HTTPS otherwise, optional custom CA), authentication (basic or bearer
//! tokens from the challenge, cached per scope, re-challenged once on a 401), and retries with
//! exponential backoff and jitter on connection errors, 408, 429 (honouring `Retry-After`) and 5xx.
//! Operations above it never handle auth or retries themselves.

use crate::registry::Site;
use std::time::Duration;

use base64::Engine as _;
use rand::Rng;
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Client, RequestBuilder, Response, StatusCode};

use super::auth::{fetch_token, parse_challenge, Challenge, TokenCache, TokenError};
use super::credentials::Credentials;
use super::DistributionOptions;
use crate::registry::RegistryError;

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per request, including the first (default 5).
    pub max_attempts: u32,
    /// The first backoff delay (default 200 ms), doubled each attempt.
    pub base_delay: Duration,
    /// The largest backoff delay (default 5 s).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, base_delay: Duration::from_millis(200), max_delay: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    /// A policy with `max_attempts` attempts and `base_delay` as the first delay.
    pub fn new(max_attempts: u32, base_delay: Duration) -> Self {
        Self { max_attempts: max_attempts.max(1), base_delay, ..Self::default() }
    }
    /// The delay before attempt `attempt + 1`: exponential, capped, with 50-100 % jitter.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.max_delay * 4);
        }
        let exp = self.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(self.max_delay);
        let jitter = rand::rng().random_range(0.5..=1.0);
        exp.mul_f64(jitter)
    }
}

/// Whether `host` (with optional port) is a loopback address or name.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { host })
    };
    name == "localhost" || name == "::1" || name.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

/// What a request is for: used for scopes, credentials and error messages.
#[derive(Debug, Clone)]
pub struct Op {
    /// The repository.
    pub repository: String,
    /// The operation (`get manifest`, `upload blob`, ...).
    pub operation: &'static str,
    /// Token scopes needed.
    pub scopes: Vec<String>,
    /// Whether the write credentials apply.
    pub write: bool,
}

#[derive(Debug, Default)]
struct AuthState {
    challenge: Option<Challenge>,
    tokens: TokenCache,
}

enum AuthFail {
    Denied(u16),
    Transient(String),
    Fatal(String),
}

/// The HTTP transport of one registry.
#[derive(Debug)]
pub struct Transport {
    /// The registry host (`127.0.0.1:5000`).
    pub host: String,
    /// `http://host` or `https://host`.
    pub base: String,
    client: Client,
    read_credentials: Credentials,
    write_credentials: Credentials,
    state: tokio::sync::Mutex<AuthState>,
    retry: RetryPolicy,
}

impl Transport {
    /// A transport for `host` with resolved credentials.
    pub fn new(
        host: &str,
        options: &DistributionOptions,
        read: Credentials,
        write: Credentials,
    ) -> Result<Self, RegistryError> {
        let plain = is_loopback(host) || options.insecure.iter().any(|h| h == host);
        let mut builder = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(options.read_timeout)
            .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &options.ca_file {
            let pem = std::fs::read(ca).map_err(|e| RegistryError::io(ca.display(), "read CA file", e))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| RegistryError::Client { registry: host.into(), reason: format!("bad CA file: {e}") })?;
            builder = builder.add_root_certificate(cert);
        }
        let client =
            builder.build().map_err(|e| RegistryError::Client { registry: host.into(), reason: e.to_string() })?;
        Ok(Self {
            host: host.to_string(),
            base: format!("{}://{host}", if plain { "http" } else { "https" }),
            client,
            read_credentials: read,
            write_credentials: write,
            state: tokio::sync::Mutex::new(AuthState::default()),
            retry: options.retry.clone(),
        })
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Resolve a `Location` header (absolute or relative) against the registry.
    pub fn resolve_location(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            self.url(location)
        }
    }

    fn credentials(&self, op: &Op) -> &Credentials {
        if op.write && self.write_credentials != Credentials::Anonymous {
            &self.write_credentials
        } else {
            &self.read_credentials
        }
    }

    async fn authorization(&self, op: &Op) -> Result<Option<String>, AuthFail> {
        let mut state = self.state.lock().await;
        match state.challenge.clone() {
            None => Ok(None),
            Some(Challenge::Basic) => match self.credentials(op) {
                Credentials::Basic { username, password } => {
                    let raw = format!("{username}:{}", password.expose());
                    Ok(Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))))
                }
                _ => Ok(None),
            },
            Some(Challenge::Bearer { realm, service }) => {
                let key = TokenCache::key(&op.scopes);
                if let Some(t) = state.tokens.get(&key) {
                    return Ok(Some(format!("Bearer {}", t.expose())));
                }
                match fetch_token(&self.client, &realm, service.as_deref(), &op.scopes, self.credentials(op)).await {
                    Ok((token, ttl)) => {
                        let header = format!("Bearer {}", token.expose());
                        state.tokens.put(key, token, ttl);
                        Ok(Some(header))
                    }
                    Err(TokenError::Refused(s)) => Err(AuthFail::Denied(s)),
                    Err(TokenError::Failed(m, true)) => Err(AuthFail::Transient(m)),
                    Err(TokenError::Failed(m, false)) => Err(AuthFail::Fatal(m)),
                }
            }
        }
    }

    fn denied(&self, op: &Op, status: u16) -> RegistryError {
        RegistryError::Unauthorized {
            at: Site::boxed(self.host.clone(), op.repository.clone(), op.operation.to_string()),
            status,
        }
    }

    /// Send a request built by `build` (called again for each attempt), with auth and retries.
    /// Returns any response that is not a 401/403 or a retryable failure; the caller checks it.
    pub async fn send(&self, op: &Op, build: impl Fn(&Client) -> RequestBuilder) -> Result<Response, RegistryError> {
        self.send_with(op, self.retry.max_attempts, build).await
    }

    /// Like [`Transport::send`] but a single attempt (for requests that must not be replayed
    /// blindly, such as a chunk PATCH); auth challenges are still answered.
    pub async fn send_once(
        &self,
        op: &Op,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        self.send_with(op, 1, build).await
    }

    async fn send_with(
        &self,
        op: &Op,
        max_attempts: u32,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let mut attempt = 0u32;
        let mut challenged = false;
        loop {
            attempt += 1;
            let mut retry_after = None;
            let last_error = match self.authorization(op).await {
                Err(AuthFail::Denied(s)) => return Err(self.denied(op, s)),
                Err(AuthFail::Fatal(m)) => {
                    return Err(RegistryError::Http {
                        at: Site::boxed(
                            self.host.clone(),
                            op.repository.clone(),
                            format!("{} (token request)", op.operation),
                        ),
                        status: 0,
                        message: m,
                    })
                }
                Err(AuthFail::Transient(m)) => format!("token server: {m}"),
                Ok(auth) => {
                    let mut rb = build(&self.client);
                    if let Some(a) = auth {
                        rb = rb.header(AUTHORIZATION, a);
                    }
                    match rb.send().await {
                        Err(e) => e.without_url().to_string(),
                        Ok(resp) => {
                            let status = resp.status();
                            if status == StatusCode::UNAUTHORIZED {
                                if challenged {
                                    return Err(self.denied(op, 401));
                                }
                                challenged = true;
                                self.learn_challenge(op, resp.headers()).await;
                                attempt -= 1;
                                continue;
                            }
                            if status == StatusCode::FORBIDDEN {
                                return Err(self.denied(op, 403));
                            }
                            if !retryable(status) {
                                return Ok(resp);
                            }
                            retry_after = parse_retry_after(resp.headers());
                            format!("HTTP {status}")
                        }
                    }
                }
            };
            if attempt >= max_attempts {
                return Err(RegistryError::Unavailable {
                    at: Site::boxed(self.host.clone(), op.repository.clone(), op.operation.to_string()),
                    attempts: attempt,
                    last_error,
                });
            }
            let delay = self.retry.delay(attempt, retry_after);
            tracing::debug!(registry = %self.host, operation = op.operation, attempt, ?delay, error = %last_error, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn learn_challenge(&self, op: &Op, headers: &HeaderMap) {
        let mut state = self.state.lock().await;
        if let Some(c) = headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).and_then(parse_challenge) {
            state.challenge = Some(c);
        }
        state.tokens.forget(&TokenCache::key(&op.scopes));
    }
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_and_backoff() {
        for h in ["127.0.0.1:5000", "localhost", "localhost:80", "[::1]:5000", "127.3.4.5"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["ghcr.io", "10.0.0.1:5000", "registry.local:5000"] {
            assert!(!is_loopback(h), "{h}");
        }
        let p = RetryPolicy::new(5, Duration::from_millis(100));
        let d3 = p.delay(3, None);
        assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400), "{d3:?}");
        assert_eq!(p.delay(1, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert!(p.delay(30, None) <= p.max_delay);
    }
}
