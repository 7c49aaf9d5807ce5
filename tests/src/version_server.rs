//! `VersionServer`: an in-process HTTP backend on a free 127.0.0.1 port following the demo app's
//! web contract (`GET /health` 200 `ok` or 503, `GET /version` -> the version, `GET /slow?ms=N`;
//! on stop: no new connections, in-flight requests finish). Used by the route room's
//! router-level tests and benchmark, where one process must run many versions side by side and
//! count what each one served.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running backend. Stopped (gracefully, bounded) by [`VersionServer::stop`] or on drop (abruptly).
pub struct VersionServer {
    port: u16,
    version: String,
    healthy: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl VersionServer {
    /// Start a backend answering `/version` with `version`; `/health` answers 503 when not `healthy`.
    pub async fn start(version: &str, healthy: bool) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let healthy_flag = Arc::new(AtomicBool::new(healthy));
        let served = Arc::new(AtomicU64::new(0));
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let (v, h, s) = (version.to_string(), healthy_flag.clone(), served.clone());
        let task = tokio::spawn(async move {
            let graceful = GracefulShutdown::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let (v, h, s) = (v.clone(), h.clone(), s.clone());
                        let service = hyper::service::service_fn(move |req| handle(req, v.clone(), h.clone(), s.clone()));
                        let conn = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service);
                        let conn = graceful.watch(conn);
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                    }
                    _ = &mut stop_rx => break,
                }
            }
            drop(listener);
            let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
        });
        Ok(VersionServer {
            port,
            version: version.to_string(),
            healthy: healthy_flag,
            served,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The version it answers.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Make `/health` answer 200 (`true`) or 503.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }

    /// How many `/version` or `/slow` requests it answered.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }

    /// Stop like the demo app on SIGTERM: close the listener, let in-flight requests finish
    /// (bounded to 10 s), close idle keep-alive connections.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for VersionServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    version: String,
    healthy: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        Ok(r)
    };
    match req.uri().path() {
        "/health" if healthy.load(Ordering::SeqCst) => reply(StatusCode::OK, "ok".into()),
        "/health" => reply(StatusCode::SERVICE_UNAVAILABLE, "failing".into()),
        "/version" => {
            served.fetch_add(1, Ordering::SeqCst);
            reply(StatusCode::OK, version)
        }
        "/slow" => {
            let ms = req
                .uri()
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("ms=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(100u64);
            tokio::time::sleep(Duration::from_millis(ms.min(30_000))).await;
            served.fetch_add(1, Ordering::SeqCst);
            reply(StatusCode::OK, version)
        }
        _ => reply(StatusCode::NOT_FOUND, "not found".into()),
    }
}
