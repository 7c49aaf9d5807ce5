//! PostgreSQL and Redis probes against Debian's real servers (started by the harness on free
//! loopback ports), including while they are still starting.

use std::time::Duration;

use slipway::health::{check_all, parse_target, Check, Outcome};
use slipway_e2e::services::{TestPostgres, TestRedis};

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn postgres_accepting_connections_is_healthy() {
    let pg = TestPostgres::start().await.unwrap();
    let r = parse_target(&pg.url()).unwrap().probe(T).await;
    assert_eq!(r.outcome, Outcome::Healthy, "{r:?}");
    assert!(!r.starting);
    // An unknown role is an answer from a running server: up, as pg_isready says.
    let r = parse_target(&format!("postgres://nobody:secret@127.0.0.1:{}/nodb", pg.port())).unwrap().probe(T).await;
    assert_eq!(r.outcome, Outcome::Healthy, "{r:?}");
    let shown = format!("{r:?}");
    assert!(!shown.contains("secret"), "{shown}");
}

#[tokio::test]
async fn postgres_in_recovery_is_starting_then_healthy_after_promotion() {
    let pg = TestPostgres::start_in_recovery().await.unwrap();
    let probe = parse_target(&pg.url()).unwrap();
    let r = probe.probe(T).await;
    assert!(matches!(r.outcome, Outcome::Unhealthy { .. }), "{r:?}");
    assert!(r.starting, "{r:?}");
    assert!(r.outcome.reason().unwrap().contains("57P03"), "{r:?}");
    // pg_isready, the reference, agrees: "rejecting connections" (exit code 1).
    let bin = slipway_e2e::services::postgres_bin_dir().unwrap();
    let isready = std::process::Command::new(bin.join("pg_isready"))
        .args(["-h", "127.0.0.1", "-p", &pg.port().to_string()])
        .output()
        .unwrap();
    assert_eq!(isready.status.code(), Some(1), "{}", String::from_utf8_lossy(&isready.stdout));
    // A check with a start period waits through it and becomes healthy after promotion.
    let check = Check::new(probe)
        .interval(Duration::from_millis(200))
        .timeout(Duration::from_secs(2))
        .retries(3)
        .start_period(Duration::from_secs(30));
    let promote = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        pg.promote().await.unwrap();
    };
    let (report, ()) = tokio::join!(check.run(&slipway::NoopObserver), promote);
    assert!(report.is_healthy(), "{report:?}\n{}", pg.log());
    assert!(report.attempts > 1, "{report:?}");
}

#[tokio::test]
async fn postgres_startup_is_observed_from_the_first_connection() {
    // Launch and probe at once: the server is first unreachable (not listening yet), may answer
    // "starting up" for a moment, and ends healthy; never anything else.
    let pg = TestPostgres::launch(false).await.unwrap();
    let probe = parse_target(&pg.url()).unwrap();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = probe.probe(Duration::from_secs(2)).await;
        let healthy = r.outcome.is_healthy();
        seen.push((r.outcome.status(), r.starting));
        if healthy || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(seen.last(), Some(&("healthy", false)), "{seen:?}\n{}", pg.log());
    for s in &seen[..seen.len() - 1] {
        assert!(matches!(s, ("unreachable", false) | ("unhealthy", true)), "{seen:?}");
    }
}

#[tokio::test]
async fn redis_ping_with_and_without_password() {
    let open = TestRedis::start().await.unwrap();
    let locked = TestRedis::start_with_password("s3cr3t-pw").await.unwrap();
    let targets = [
        open.url(),
        locked.url(),
        format!("redis://127.0.0.1:{}", locked.port()),
        format!("redis://:wrong@127.0.0.1:{}", locked.port()),
    ];
    let checks: Vec<Check> =
        targets.iter().map(|t| Check::new(parse_target(t).unwrap()).timeout(T).retries(1)).collect();
    let reports = check_all(&checks, &slipway::NoopObserver).await;
    assert!(reports[0].is_healthy(), "{:?}", reports[0]);
    assert!(reports[1].is_healthy(), "{:?}", reports[1]);
    assert!(reports[2].outcome().reason().unwrap().contains("requires a password"), "{:?}", reports[2]);
    assert!(reports[3].outcome().reason().unwrap().contains("AUTH refused"), "{:?}", reports[3]);
    for r in &reports {
        let json = serde_json::to_string(r).unwrap();
        assert!(!json.contains("s3cr3t-pw") && !json.contains("wrong"), "{json}");
    }
}

#[tokio::test]
async fn redis_loading_its_dataset_is_starting_then_healthy() {
    // 30000 keys at 100us each: about 3 s of LOADING.
    let redis = TestRedis::start_loading(30_000, Duration::from_micros(100)).await.unwrap();
    let probe = parse_target(&redis.url()).unwrap();
    let r = probe.probe(T).await;
    assert!(matches!(r.outcome, Outcome::Unhealthy { .. }), "{r:?}\n{}", redis.log());
    assert!(r.starting, "{r:?}");
    assert!(r.outcome.reason().unwrap().contains("LOADING"), "{r:?}");
    let report = Check::new(probe)
        .interval(Duration::from_millis(200))
        .timeout(T)
        .retries(2)
        .start_period(Duration::from_secs(60))
        .run(&slipway::NoopObserver)
        .await;
    assert!(report.is_healthy(), "{report:?}");
    assert!(report.attempts > 1);
}

/// Open a real session (trust auth): StartupMessage, then read until ReadyForQuery.
async fn hold_session(port: u16) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut body = 196_608i32.to_be_bytes().to_vec();
    body.extend_from_slice(b"user\0postgres\0database\0postgres\0\0");
    let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    s.write_all(&msg).await.unwrap();
    loop {
        let mut header = [0u8; 5];
        s.read_exact(&mut header).await.unwrap();
        let len = i32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let mut rest = vec![0u8; len - 4];
        s.read_exact(&mut rest).await.unwrap();
        assert_ne!(header[0], b'E', "session refused: {}", String::from_utf8_lossy(&rest));
        if header[0] == b'Z' {
            return s;
        }
    }
}

#[tokio::test]
async fn postgres_out_of_connection_slots_is_rejecting() {
    let pg = TestPostgres::start_with_settings(&[("max_connections", "2"), ("superuser_reserved_connections", "0")])
        .await
        .unwrap();
    let first = hold_session(pg.port()).await;
    let second = hold_session(pg.port()).await;
    let r = parse_target(&pg.url()).unwrap().probe(T).await;
    // SQLSTATE 53300 "too many clients": up but rejecting (libpq's PQping would still say OK).
    assert!(matches!(r.outcome, Outcome::Unhealthy { .. }), "{r:?}");
    assert!(!r.starting, "{r:?}");
    assert!(r.outcome.reason().unwrap().contains("53300"), "{r:?}");
    drop(first);
    let healthy = slipway::wait::wait_until("a free slot", T, Duration::from_millis(50), || async {
        parse_target(&pg.url()).unwrap().probe(T).await.outcome.is_healthy().then_some(())
    })
    .await;
    assert!(healthy.is_ok(), "{healthy:?}");
    drop(second);
}
