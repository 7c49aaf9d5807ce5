//! HTTP to the engine over any byte stream: a hyper client (with its connection pool, so one
//! stream carries many requests) whose connector asks a [`Dial`] for each new connection (one
//! `ssh ... docker system dial-stdio` child, one TLS connection). Errors the dialer classified
//! ([`TransportError`]) are carried through to bollard's error unchanged.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::{BollardRequest, Docker, API_DEFAULT_VERSION};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{EngineError, TransportError, REQUEST_TIMEOUT_SECS};

/// A bidirectional byte stream.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}
/// A boxed [`Io`].
pub(crate) type BoxedIo = Box<dyn Io>;

/// Opens one stream to the engine.
pub(crate) trait Dial: Send + Sync + 'static {
    /// A new stream; failures as I/O errors wrapping a [`TransportError`] where known.
    fn dial(&self) -> Pin<Box<dyn Future<Output = std::io::Result<BoxedIo>> + Send>>;
}

/// The last transport failure a connection's clients saw, and when (see
/// [`super::Connection::transport_failure_since`]).
pub(crate) type FailureLog = Arc<std::sync::Mutex<Option<(std::time::Instant, TransportError)>>>;

/// How long an idle pooled connection stays open.
const IDLE: Duration = Duration::from_secs(30);

/// A bollard client whose every connection comes from `dial`.
pub(crate) fn docker_over(dial: Arc<dyn Dial>, failures: FailureLog) -> Result<Docker, bollard::errors::Error> {
    let client = Arc::new(Client::builder(TokioExecutor::new()).pool_idle_timeout(IDLE).build(Connector(dial)));
    Docker::connect_with_custom_transport(
        move |req: BollardRequest| {
            let (client, failures) = (client.clone(), failures.clone());
            async move { client.request(req).await.map_err(|e| carry(e, &failures)) }
        },
        Some("http://docker.engine"),
        REQUEST_TIMEOUT_SECS,
        API_DEFAULT_VERSION,
    )
}

/// hyper's "client error (Connect)" says nothing; keep the dialer's own error instead.
/// A classified failure is also noted in `failures`, so the deploy can say that the connection,
/// not the step, failed.
fn carry(e: hyper_util::client::legacy::Error, failures: &FailureLog) -> bollard::errors::Error {
    if let Some(t) = EngineError::transport_of(&e) {
        if let Ok(mut last) = failures.lock() {
            *last = Some((std::time::Instant::now(), t.clone()));
        }
        return bollard::errors::Error::IOError { err: t.into_io() };
    }
    let mut text = e.to_string();
    let mut cur = std::error::Error::source(&e);
    while let Some(s) = cur {
        text = format!("{text}: {s}");
        cur = s.source();
    }
    bollard::errors::Error::IOError { err: std::io::Error::other(text) }
}

#[derive(Clone)]
struct Connector(Arc<dyn Dial>);

impl tower_service::Service<hyper::Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let dial = self.0.clone();
        Box::pin(async move { Ok(TokioIo::new(Stream(dial.dial().await?))) })
    }
}

/// A dialed stream as hyper's connector wants it.
pub(crate) struct Stream(BoxedIo);

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
