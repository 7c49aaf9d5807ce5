//! HTTP(S) probe (reqwest with rustls): method, URL, expected status range (default 2xx),
//! optional body substring, extra headers (a `Host` header to go through Traefik), TLS
//! verification on by default with an optional extra CA. Redirects are not followed: the probe
//! reports what the endpoint itself answers.

use std::error::Error as _;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::{bounded, truncate, Finding, HealthError, HealthProbe, Outcome, ProbeResult};

/// The most body bytes read to look for the expected substring.
const MAX_BODY: usize = 256 * 1024;

/// HTTP(S) probe. Build it with [`HttpProbe::builder`].
#[derive(Debug, Clone)]
pub struct HttpProbe {
    client: reqwest::Client,
    method: reqwest::Method,
    url: reqwest::Url,
    status: RangeInclusive<u16>,
    body_contains: Option<String>,
    headers: HeaderMap,
}

/// Options of an [`HttpProbe`].
#[derive(Debug, Clone)]
pub struct HttpProbeBuilder {
    url: String,
    method: String,
    status: RangeInclusive<u16>,
    body_contains: Option<String>,
    headers: Vec<(String, String)>,
    verify_tls: bool,
    ca_pem: Option<Vec<u8>>,
}

impl HttpProbe {
    /// Start building a probe of `url` (`http://...` or `https://...`).
    pub fn builder(url: impl Into<String>) -> HttpProbeBuilder {
        HttpProbeBuilder {
            url: url.into(),
            method: "GET".into(),
            status: 200..=299,
            body_contains: None,
            headers: Vec::new(),
            verify_tls: true,
            ca_pem: None,
        }
    }

    async fn attempt(&self) -> Finding {
        let request = self.client.request(self.method.clone(), self.url.clone()).headers(self.headers.clone());
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Finding::from(classify(&e)),
        };
        let status = response.status().as_u16();
        if !self.status.contains(&status) {
            return Finding::from(Outcome::unhealthy(format!(
                "status {status}, expected {}-{}",
                self.status.start(),
                self.status.end()
            )));
        }
        let Some(needle) = &self.body_contains else {
            return Finding::from(Outcome::Healthy);
        };
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(c)) => {
                    body.extend_from_slice(&c);
                    if body.len() >= MAX_BODY {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => return Finding::from(classify(&e)),
            }
        }
        let text = String::from_utf8_lossy(&body);
        if text.contains(needle.as_str()) {
            Finding::from(Outcome::Healthy)
        } else {
            Finding::from(Outcome::unhealthy(format!("status {status} but the body does not contain {needle:?}")))
                .output(truncate(&text, 512))
        }
    }
}

/// Map a reqwest failure to an outcome: could not connect / timed out / reset -> unreachable;
/// answered with something that is not HTTP -> unhealthy.
fn classify(e: &reqwest::Error) -> Outcome {
    let mut source = e.source();
    let mut io = None;
    let mut hyper_err = None;
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>() {
            hyper_err.get_or_insert(h);
        }
        if let Some(i) = s.downcast_ref::<std::io::Error>() {
            io.get_or_insert(i);
        }
        source = s.source();
    }
    if let Some(h) = hyper_err {
        if h.is_parse() || h.is_parse_status() || h.is_parse_too_large() {
            return Outcome::unhealthy(format!("answered with something that is not HTTP: {h}"));
        }
        if h.is_incomplete_message() {
            return Outcome::unreachable("connection closed before a complete answer");
        }
    }
    if e.is_timeout() {
        return Outcome::unreachable("no answer in time");
    }
    if let Some(i) = io {
        let what = if e.is_connect() { "cannot connect" } else { "connection failed" };
        return Outcome::unreachable(format!("{what}: {}", super::tcp::io_reason(i)));
    }
    if e.is_connect() {
        // DNS and TLS handshake failures land here; the source chain says which.
        return Outcome::unreachable(format!("cannot connect: {}", chain(e)));
    }
    Outcome::unhealthy(format!("request failed: {}", chain(e)))
}

/// The error with its sources, `a: b: c`.
fn chain(e: &reqwest::Error) -> String {
    let mut out = kind_word(e).to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// What kind of failure, without the URL (which the report already names).
fn kind_word(e: &reqwest::Error) -> &'static str {
    if e.is_connect() {
        "connect error"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_body() || e.is_decode() {
        "body error"
    } else {
        "request error"
    }
}

impl HttpProbeBuilder {
    /// HTTP method (default `GET`).
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = method.into();
        self
    }
    /// Accepted status codes (default `200..=299`).
    pub fn status(mut self, range: RangeInclusive<u16>) -> Self {
        self.status = range;
        self
    }
    /// Require the body to contain `s`.
    pub fn body_contains(mut self, s: impl Into<String>) -> Self {
        self.body_contains = Some(s.into());
        self
    }
    /// Add a request header (`Host` included: to reach a service through a proxy by name).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Verify TLS certificates (default true).
    pub fn verify_tls(mut self, verify: bool) -> Self {
        self.verify_tls = verify;
        self
    }
    /// Trust this CA (PEM) in addition to the built-in roots.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }
    /// Trust the CA in this PEM file in addition to the built-in roots.
    pub fn ca_file(self, path: &Path) -> Result<Self, HealthError> {
        let pem = std::fs::read(path).map_err(|source| HealthError::CaFile {
            option: "ca".into(),
            path: path.to_path_buf(),
            source,
        })?;
        Ok(self.ca_pem(pem))
    }

    /// Check the options and build the probe.
    pub fn build(self) -> Result<HttpProbe, HealthError> {
        let shown = redact_url(&self.url);
        let mut url = reqwest::Url::parse(&self.url)
            .map_err(|source| HealthError::TargetUrl { target: shown.clone(), source })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(HealthError::target(&shown, "expected http://HOST[:PORT]/PATH or https://..."));
        }
        let method = reqwest::Method::from_bytes(self.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
            HealthError::InvalidOption {
                option: "method".into(),
                reason: format!("{:?} is not an HTTP method", self.method),
            }
        })?;
        if self.status.start() > self.status.end() || *self.status.start() < 100 || *self.status.end() > 599 {
            return Err(HealthError::InvalidOption {
                option: "status".into(),
                reason: format!("{}-{} is not a range of HTTP status codes", self.status.start(), self.status.end()),
            });
        }
        let mut headers = HeaderMap::new();
        if !url.username().is_empty() || url.password().is_some() {
            // Userinfo becomes a sensitive Authorization header and leaves the URL (and Debug).
            use base64::Engine as _;
            let user = url.username().to_string();
            let pass = url.password().unwrap_or("").to_string();
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                .map_err(|_| HealthError::target(&shown, "user name or password cannot be sent"))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        for (k, v) in &self.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| HealthError::InvalidOption {
                option: "header".into(),
                reason: format!("bad name {k:?}"),
            })?;
            let mut value = HeaderValue::from_str(v).map_err(|_| HealthError::InvalidOption {
                option: "header".into(),
                reason: format!("bad value for {k}"),
            })?;
            // Credentials in headers stay out of Debug output.
            let sensitive =
                [reqwest::header::AUTHORIZATION, reqwest::header::PROXY_AUTHORIZATION, reqwest::header::COOKIE];
            value.set_sensitive(sensitive.contains(&name) || name.as_str().contains("token"));
            headers.append(name, value);
        }
        let mut client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(!self.verify_tls)
            .user_agent(concat!("slipway-probe/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &self.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|source| HealthError::HttpSetup {
                target: shown.clone(),
                what: "the CA is not valid PEM",
                source,
            })?;
            if certs.is_empty() {
                return Err(HealthError::HttpClient {
                    target: shown.clone(),
                    reason: "the CA file holds no PEM certificate".into(),
                });
            }
            for c in certs {
                client = client.add_root_certificate(c);
            }
        }
        let client = client.build().map_err(|source| HealthError::HttpSetup {
            target: shown.clone(),
            what: "the HTTP client cannot be built",
            source,
        })?;
        Ok(HttpProbe { client, method, url, status: self.status, body_contains: self.body_contains, headers })
    }
}

/// The URL with any password replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
            _ => url.to_string(),
        },
    }
}

#[async_trait]
impl HealthProbe for HttpProbe {
    fn target(&self) -> String {
        redact_url(self.url.as_str())
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        bounded(timeout, self.attempt()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_validates() {
        let p =
            HttpProbe::builder("http://u:secret@127.0.0.1:8080/health").header("Host", "app.local").build().unwrap();
        assert!(!p.target().contains("secret"));
        assert!(!format!("{p:?}").contains("secret"));
        assert!(format!("{p:?}").contains("app.local"));
        assert!(HttpProbe::builder("ftp://x/").build().is_err());
        let (lo, hi) = (500, 200);
        assert!(HttpProbe::builder("http://x/").status(lo..=hi).build().is_err());
        assert!(HttpProbe::builder("http://x/").ca_pem("junk").build().is_err());
    }
}
