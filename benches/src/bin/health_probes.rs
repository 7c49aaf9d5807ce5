//! `cargo run -p slipway-benches --bin health_probes [-- ROUNDS]`: figures for the health room.
//!
//! Prints, per probe kind against real local servers (TCP listener, a minimal HTTP responder,
//! Debian's PostgreSQL and Redis from the harness), the median and p99 latency of one attempt over
//! ROUNDS attempts (default 200); the wall time of `check_all` over 500 TCP targets; and how long
//! after `postgres` is launched the probe first sees it accept connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use slipway::health::{check_all, parse_target, Check, HealthProbe};
use slipway_e2e::services::{TestPostgres, TestRedis};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn http_server() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = sock.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if sock.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(port)
}

async fn latency(probe: Arc<dyn HealthProbe>, rounds: usize) -> (Duration, Duration, usize) {
    let mut v = Vec::with_capacity(rounds);
    let mut healthy = 0;
    for _ in 0..rounds {
        let r = probe.probe(Duration::from_secs(5)).await;
        healthy += usize::from(r.outcome.is_healthy());
        v.push(r.latency);
    }
    v.sort();
    (v[v.len() / 2], v[(v.len() * 99 / 100).min(v.len() - 1)], healthy)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200).max(1);
    let tcp = TcpListener::bind("127.0.0.1:0").await?;
    let tcp_port = tcp.local_addr()?.port();
    tokio::spawn(async move { while tcp.accept().await.is_ok() {} });
    let http_port = http_server().await?;
    let pg = TestPostgres::start().await?;
    let redis = TestRedis::start_with_password("bench-pw").await?;

    println!("probe latency over {rounds} attempts (median / p99, healthy count):");
    let targets = [
        ("tcp", format!("tcp://127.0.0.1:{tcp_port}")),
        ("http", format!("http://127.0.0.1:{http_port}/health")),
        ("postgres", pg.url()),
        ("redis (AUTH+PING)", redis.url()),
    ];
    for (kind, target) in targets {
        let (median, p99, healthy) = latency(parse_target(&target)?, rounds).await;
        println!("  {kind:<18} {median:>10.2?} / {p99:>10.2?}  {healthy}/{rounds}");
    }

    let n = 500;
    let checks: Vec<Check> = (0..n)
        .map(|_| {
            parse_target(&format!("tcp://127.0.0.1:{tcp_port}")).map(|p| Check::new(p).timeout(Duration::from_secs(5)))
        })
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let reports = check_all(&checks, &slipway::NoopObserver).await;
    let healthy = reports.iter().filter(|r| r.is_healthy()).count();
    println!("check_all over {n} TCP targets: {:.2?} ({healthy}/{n} healthy)", started.elapsed());

    let launched = Instant::now();
    let fresh = TestPostgres::launch(false).await?;
    let probe = parse_target(&fresh.url())?;
    let (mut unreachable, mut starting) = (0, 0);
    loop {
        let r = probe.probe(Duration::from_secs(2)).await;
        if r.outcome.is_healthy() {
            break;
        }
        if r.starting {
            starting += 1;
        } else {
            unreachable += 1;
        }
        if launched.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("postgres did not start in 60s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "postgres launch -> accepting connections seen by the probe: {:.2?} ({unreachable} unreachable, {starting} starting attempts before)",
        launched.elapsed()
    );
    Ok(())
}
