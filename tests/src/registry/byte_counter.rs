//! `CountingProxy`: a TCP proxy on loopback that counts the bytes each way, for benchmarks that
//! report how many bytes a client uploaded to a registry (request bodies and headers included).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

/// A running counting proxy.
pub struct CountingProxy {
    port: u16,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    /// Forward `127.0.0.1:<new port>` to `upstream`.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (u, d, target) = (up.clone(), down.clone(), upstream.to_string());
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (u, d, target) = (u.clone(), d.clone(), target.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else { return };
                    if let Ok((a, b)) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
                        u.fetch_add(a, Ordering::SeqCst);
                        d.fetch_add(b, Ordering::SeqCst);
                    }
                });
            }
        });
        Ok(Self { port, up, down, task })
    }
    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    /// Bytes sent by clients so far (counted when each connection closes).
    pub fn bytes_up(&self) -> u64 {
        self.up.load(Ordering::SeqCst)
    }
    /// Bytes sent back by the upstream so far.
    pub fn bytes_down(&self) -> u64 {
        self.down.load(Ordering::SeqCst)
    }
    /// Reset both counters.
    pub fn reset(&self) {
        self.up.store(0, Ordering::SeqCst);
        self.down.store(0, Ordering::SeqCst);
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
