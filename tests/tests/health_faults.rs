//! Faults: a server that accepts and never answers, one that sends garbage, one that resets the
//! connection, a closed port and an unknown host. Every probe kind (TCP, HTTP, PostgreSQL, Redis)
//! returns a typed outcome within its timeout. The servers are small tokio listeners on 127.0.0.1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use slipway::health::{parse_target, HealthProbe, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_millis(700);
/// Slack for scheduling on a loaded 2-core machine; the bound itself is the probe's timeout.
const SLACK: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Accept and never send a byte.
    Silent,
    /// Send bytes that are no protocol at all, then keep the connection open.
    Garbage,
    /// Accept and reset (RST) at once.
    Reset,
}

async fn fault_server(fault: Fault) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                match fault {
                    Fault::Silent => {
                        let mut buf = [0u8; 1024];
                        while let Ok(n) = sock.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                        }
                    }
                    Fault::Garbage => {
                        let _ = sock.write_all(b"\x00\x01~~ this is not a protocol ~~\xff\xfe\r\n\r\n").await;
                        let mut buf = [0u8; 1024];
                        while let Ok(n) = sock.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                        }
                    }
                    Fault::Reset => {
                        let _ = sock.set_zero_linger();
                        drop(sock);
                    }
                }
            });
        }
    });
    port
}

fn probes(host: &str, port: u16) -> Vec<Arc<dyn HealthProbe>> {
    [
        format!("tcp://{host}:{port}"),
        format!("http://{host}:{port}/health"),
        format!("postgres://app@{host}:{port}/app"),
        format!("redis://:pw@{host}:{port}"),
    ]
    .iter()
    .map(|t| parse_target(t).unwrap())
    .collect()
}

/// Probe each kind and return (target, outcome), asserting the time bound.
async fn run_all(host: &str, port: u16) -> Vec<(String, Outcome)> {
    let mut out = Vec::new();
    for p in probes(host, port) {
        let started = Instant::now();
        let r = p.probe(TIMEOUT).await;
        let took = started.elapsed();
        assert!(took <= TIMEOUT + SLACK, "{} took {took:?} with a {TIMEOUT:?} timeout", p.target());
        assert!(r.latency <= took);
        out.push((p.target(), r.outcome));
    }
    out
}

fn is_unreachable(o: &Outcome) -> bool {
    matches!(o, Outcome::Unreachable { .. })
}

fn is_unhealthy(o: &Outcome) -> bool {
    matches!(o, Outcome::Unhealthy { .. })
}

#[tokio::test]
async fn a_server_that_never_answers_is_unreachable_within_the_timeout() {
    let port = fault_server(Fault::Silent).await;
    let results = run_all("127.0.0.1", port).await;
    // TCP only needs the connection: it is accepted.
    assert_eq!(results[0].1, Outcome::Healthy, "{results:?}");
    for (target, o) in &results[1..] {
        assert!(is_unreachable(o), "{target}: {o:?}");
        assert!(o.reason().unwrap().contains("no answer within"), "{target}: {o:?}");
    }
}

#[tokio::test]
async fn a_server_that_sends_garbage_is_unhealthy() {
    let port = fault_server(Fault::Garbage).await;
    let results = run_all("127.0.0.1", port).await;
    assert_eq!(results[0].1, Outcome::Healthy, "{results:?}");
    for (target, o) in &results[1..] {
        assert!(is_unhealthy(o), "{target}: {o:?}");
    }
    assert!(results[2].1.reason().unwrap().contains("not a PostgreSQL server"), "{results:?}");
    assert!(results[3].1.reason().unwrap().contains("not a Redis server"), "{results:?}");
}

#[tokio::test]
async fn a_server_that_resets_is_unreachable() {
    let port = fault_server(Fault::Reset).await;
    let results = run_all("127.0.0.1", port).await;
    for (target, o) in &results[1..] {
        assert!(is_unreachable(o), "{target}: {o:?}");
        assert!(!o.reason().unwrap().contains("no answer within"), "{target} should fail fast: {o:?}");
    }
}

#[tokio::test]
async fn a_closed_port_is_unreachable_at_once() {
    let port = slipway_e2e::services::free_port().unwrap();
    let results = run_all("127.0.0.1", port).await;
    for (target, o) in &results {
        assert!(is_unreachable(o), "{target}: {o:?}");
        assert!(o.reason().unwrap().contains("refused"), "{target}: {o:?}");
    }
}

#[tokio::test]
async fn an_unknown_host_is_unreachable() {
    let results = run_all("no-such-host.invalid", 80).await;
    for (target, o) in &results {
        assert!(is_unreachable(o), "{target}: {o:?}");
    }
}
