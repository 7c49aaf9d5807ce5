//! `FaultProxy`: an HTTP proxy on loopback in front of a real registry that injects faults on
//! matching requests: answer 503, drop the connection without an answer, cut a response body in the
//! middle, or flip a byte of a response body (a tampered blob). Everything else is forwarded as is.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use tokio::net::TcpListener;

/// What to do to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer `503 Service Unavailable` without forwarding.
    Unavailable,
    /// Close the connection without any answer.
    Drop,
    /// Forward, then send only the first half of the response body and cut the connection.
    CutBody,
    /// Forward, then flip one byte in the response body (same length).
    Tamper,
    /// Forward (the registry does the work), then answer 503 to the client anyway.
    ForwardThenFail,
}

/// One fault rule: requests whose method and path match get `fault`, `times` times (then pass).
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// Only this method (any when `None`).
    pub method: Option<String>,
    /// Only paths containing this string.
    pub path_contains: String,
    /// The fault.
    pub fault: Fault,
    /// How many times (usize::MAX: forever).
    pub times: usize,
}

impl FaultRule {
    /// A rule for every request whose path contains `path_contains`.
    pub fn new(path_contains: &str, fault: Fault, times: usize) -> Self {
        Self { method: None, path_contains: path_contains.to_string(), fault, times }
    }
    /// Restrict to one method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_string());
        self
    }
}

struct Shared {
    upstream: String,
    own: String,
    client: reqwest::Client,
    rules: Mutex<Vec<FaultRule>>,
    injected: AtomicUsize,
    requests: Mutex<Vec<String>>,
}

/// A running fault proxy.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

type ProxyBody = BoxBody<Bytes, std::io::Error>;

impl FaultProxy {
    /// Start a proxy to `upstream` (`127.0.0.1:PORT`) with the given rules.
    pub async fn start(upstream: &str, rules: Vec<FaultRule>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            own: format!("127.0.0.1:{port}"),
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?,
            rules: Mutex::new(rules),
            injected: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let sh = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let sh = sh.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let sh = sh.clone();
                        async move { sh.handle(req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                        .await;
                });
            }
        });
        Ok(Self { port, shared, task })
    }

    /// `127.0.0.1:PORT` of the proxy.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    /// How many faults were injected so far.
    pub fn injected(&self) -> usize {
        self.shared.injected.load(Ordering::SeqCst)
    }
    /// Every request seen (`METHOD PATH`, plus ` range=...` when it had a `Range` header), in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
    /// Replace the rules.
    pub fn set_rules(&self, rules: Vec<FaultRule>) {
        if let Ok(mut r) = self.shared.rules.lock() {
            *r = rules;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn full(b: impl Into<Bytes>) -> ProxyBody {
    Full::new(b.into()).map_err(|never: Infallible| match never {}).boxed()
}

impl Shared {
    fn take_fault(&self, method: &str, path: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().ok()?;
        let rule = rules.iter_mut().find(|r| {
            r.times > 0 && path.contains(&r.path_contains) && r.method.as_deref().is_none_or(|m| m == method)
        })?;
        if rule.times != usize::MAX {
            rule.times -= 1;
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        Some(rule.fault)
    }

    /// Give back a response fault that could not apply (the upstream answer was not a success).
    fn refund(&self, method: &str, path: &str, fault: Fault) {
        if let Ok(mut rules) = self.rules.lock() {
            if let Some(rule) = rules.iter_mut().find(|r| {
                r.fault == fault && path.contains(&r.path_contains) && r.method.as_deref().is_none_or(|m| m == method)
            }) {
                if rule.times != usize::MAX {
                    rule.times += 1;
                }
                self.injected.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Response<ProxyBody>, std::io::Error> {
        let method = req.method().as_str().to_string();
        let path_q = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
        let range = req.headers().get(hyper::header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_string);
        if let Ok(mut r) = self.requests.lock() {
            r.push(match range {
                Some(range) => format!("{method} {path_q} range={range}"),
                None => format!("{method} {path_q}"),
            });
        }
        let path = req.uri().path().to_string();
        let mut fault = self.take_fault(&method, &path);
        match fault {
            Some(Fault::Unavailable) => {
                let mut resp = Response::new(full(r#"{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}"#));
                *resp.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
                return Ok(resp);
            }
            Some(Fault::Drop) => return Err(std::io::Error::other("injected connection drop")),
            _ => {}
        }
        let (parts, body) = req.into_parts();
        let body = body.collect().await.map_err(std::io::Error::other)?.to_bytes();
        let url = format!("http://{}{}", self.upstream, path_q);
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(std::io::Error::other)?;
        let mut up = self.client.request(m, url).body(body);
        for (k, v) in parts.headers.iter() {
            if k != hyper::header::HOST {
                up = up.header(k.as_str(), v.as_bytes());
            }
        }
        let resp = up.send().await.map_err(std::io::Error::other)?;
        if let Some(f @ (Fault::Tamper | Fault::CutBody)) = fault {
            if !resp.status().is_success() {
                self.refund(&method, &path, f);
                fault = None;
            }
        }
        if fault == Some(Fault::ForwardThenFail) {
            let _ = resp.bytes().await;
            let mut resp =
                Response::new(full(r#"{"errors":[{"code":"UNAVAILABLE","message":"injected after forwarding"}]}"#));
            *resp.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
            return Ok(resp);
        }
        let mut out = Response::builder().status(resp.status().as_u16());
        for (k, v) in resp.headers() {
            let value = v.as_bytes().to_vec();
            let value = String::from_utf8(value).unwrap_or_default().replace(&self.upstream, &self.own);
            out = out.header(k.as_str(), value);
        }
        let bytes = resp.bytes().await.map_err(std::io::Error::other)?;
        let body = match fault {
            Some(Fault::Tamper) if !bytes.is_empty() => {
                let mut v = bytes.to_vec();
                let i = v.len() / 2;
                v[i] ^= 0x55;
                full(v)
            }
            Some(Fault::CutBody) if bytes.len() > 1 => {
                let half = bytes.slice(..bytes.len() / 2);
                // Send the headers and half the body, wait so they are flushed, then cut.
                let s = futures::stream::unfold(0u8, move |step| {
                    let half = half.clone();
                    async move {
                        match step {
                            0 => Some((Ok(Frame::data(half)), 1)),
                            1 => {
                                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                                Some((Err(std::io::Error::other("injected cut in the body")), 2))
                            }
                            _ => None,
                        }
                    }
                });
                BodyExt::boxed(StreamBody::new(s))
            }
            _ => full(bytes),
        };
        out.body(body).map_err(std::io::Error::other)
    }
}
