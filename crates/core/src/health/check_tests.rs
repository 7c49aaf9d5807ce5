//! Deterministic tests of compose semantics with tokio's paused clock and a fake probe.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;

use super::*;
use crate::events::RecordingObserver;
use crate::stack::{HealthcheckSpec, PortSpec};

/// Healthy from `ready_at` after creation (never when `None`); each attempt takes `latency`.
#[derive(Debug)]
struct FakeProbe {
    created: Instant,
    ready_at: Option<Duration>,
    latency: Duration,
    calls: AtomicU32,
}

impl FakeProbe {
    fn new(ready_at: Option<Duration>, latency: Duration) -> Arc<Self> {
        Arc::new(FakeProbe { created: Instant::now(), ready_at, latency, calls: AtomicU32::new(0) })
    }
}

#[async_trait]
impl HealthProbe for FakeProbe {
    fn target(&self) -> String {
        "fake://".into()
    }
    async fn probe(&self, _timeout: Duration) -> ProbeResult {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let began = Instant::now();
        sleep(self.latency).await;
        let outcome = match self.ready_at {
            Some(at) if began.duration_since(self.created) >= at => Outcome::Healthy,
            _ => Outcome::unhealthy("not yet"),
        };
        ProbeResult::new(outcome, self.latency)
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn attempts(obs: &RecordingObserver) -> Vec<(u32, bool, u32)> {
    obs.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Health(HealthEvent::Attempt { attempt, in_start_period, failures, .. }) => {
                Some((attempt, in_start_period, failures))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn failures_in_the_start_period_do_not_count() {
    let probe = FakeProbe::new(None, Duration::ZERO);
    let check = Check::new(probe.clone()).interval(secs(2)).timeout(secs(1)).retries(3).start_period(secs(10));
    let obs = RecordingObserver::new();
    let report = check.run(&obs).await;
    // Attempts at t = 0, 2, 4, 6, 8 fall in the start period; 10, 12, 14 count.
    assert!(matches!(report.outcome(), Outcome::Unhealthy { .. }), "{report:?}");
    assert_eq!(report.attempts, 8);
    assert_eq!(report.elapsed, secs(14));
    let seen = attempts(&obs);
    assert_eq!(seen.iter().filter(|a| a.1).count(), 5);
    assert_eq!(seen.last(), Some(&(8, false, 3)));
    assert_eq!(probe.calls.load(Ordering::SeqCst), 8);
}

#[tokio::test(start_paused = true)]
async fn a_success_during_the_start_period_is_healthy() {
    let probe = FakeProbe::new(Some(secs(6)), Duration::from_millis(100));
    let check = Check::new(probe).interval(secs(2)).timeout(secs(1)).retries(1).start_period(secs(30));
    let report = check.run(&crate::NoopObserver).await;
    assert!(report.is_healthy(), "{report:?}");
    // t = 0, 2.1, 4.2, 6.3: the fourth attempt is the first after 6s.
    assert_eq!(report.attempts, 4);
    assert_eq!(report.result.latency, Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn retries_consecutive_failures_make_it_unhealthy() {
    let probe = FakeProbe::new(None, Duration::ZERO);
    let report = Check::new(probe).interval(secs(5)).timeout(secs(1)).retries(3).run(&crate::NoopObserver).await;
    assert_eq!(report.attempts, 3);
    assert_eq!(report.elapsed, secs(10));
    // Fewer failures than retries before the success: healthy.
    let probe = FakeProbe::new(Some(secs(9)), Duration::ZERO);
    let report = Check::new(probe).interval(secs(5)).timeout(secs(1)).retries(3).run(&crate::NoopObserver).await;
    assert!(report.is_healthy());
    assert_eq!(report.attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn start_interval_applies_during_the_start_period_only() {
    let probe = FakeProbe::new(None, Duration::ZERO);
    let check =
        Check::new(probe).interval(secs(10)).start_interval(secs(1)).timeout(secs(1)).retries(2).start_period(secs(3));
    let report = check.run(&crate::NoopObserver).await;
    // t = 0, 1, 2 (start period), 3 and 13 count.
    assert_eq!(report.attempts, 5);
    assert_eq!(report.elapsed, secs(13));
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_never_ends_is_cut_at_the_timeout() {
    let probe = FakeProbe::new(Some(Duration::ZERO), secs(3600));
    let started = Instant::now();
    let report = Check::new(probe).interval(secs(1)).timeout(secs(2)).retries(1).run(&crate::NoopObserver).await;
    assert!(matches!(report.outcome(), Outcome::Unreachable { .. }), "{report:?}");
    assert_eq!(started.elapsed(), secs(2));
}

#[tokio::test(start_paused = true)]
async fn check_all_runs_concurrently_in_input_order() {
    let slow = Check::new(FakeProbe::new(Some(secs(4)), Duration::ZERO)).interval(secs(1)).timeout(secs(1)).retries(10);
    let bad = Check::new(FakeProbe::new(None, Duration::ZERO)).interval(secs(1)).timeout(secs(1)).retries(2);
    let started = Instant::now();
    let reports = check_all(&[slow, bad], &crate::NoopObserver).await;
    assert_eq!(started.elapsed(), secs(4));
    assert!(reports[0].is_healthy());
    assert_eq!(reports[0].attempts, 5);
    assert!(!reports[1].is_healthy());
    assert_eq!(reports[1].attempts, 2);
    let json = serde_json::to_value(&reports[1]).unwrap();
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["target", "status", "reason", "latency_ms", "attempts", "elapsed_ms", "starting", "output"]);
    assert_eq!(json["status"], "unhealthy");
}

#[test]
fn derives_checks_from_a_service() {
    let hc: HealthcheckSpec = serde_json::from_value(serde_json::json!({
        "test": ["CMD-SHELL", "wget -q -O- http://localhost:8080/health"],
        "interval": "5s", "timeout": "2s", "retries": 4, "start_period": "20s", "start_interval": "1s"
    }))
    .unwrap();
    let mut svc = ServiceSpec { name: "web".into(), healthcheck: Some(hc), ..Default::default() };
    let port = |published: Option<&str>, host_ip: Option<&str>, protocol: &str| -> PortSpec {
        serde_json::from_value(serde_json::json!({
            "target": 8080, "published": published, "host_ip": host_ip, "protocol": protocol, "mode": null
        }))
        .unwrap()
    };
    svc.ports = vec![
        port(Some("18080"), None, "tcp"),
        port(Some("18081-18082"), Some("127.0.0.2"), "tcp"),
        port(Some("5353"), None, "udp"),
        port(None, None, "tcp"),
    ];
    svc.labels = BTreeMap::new();
    let checks = checks_for_service(&svc, "proj-web-1", &Engine::local());
    let targets: Vec<_> = checks.iter().map(Check::target).collect();
    assert_eq!(
        targets,
        [
            "exec://proj-web-1//bin/sh -c wget -q -O- http://localhost:8080/health",
            "tcp://127.0.0.1:18080",
            "tcp://127.0.0.2:18081"
        ]
    );
    assert_eq!(checks[0].interval, secs(5));
    assert_eq!(checks[0].timeout, secs(2));
    assert_eq!(checks[0].retries, 4);
    assert_eq!(checks[0].start_period, secs(20));
    assert_eq!(checks[0].start_interval, Some(secs(1)));
    assert_eq!(checks[1].start_period, secs(20));
}

#[test]
fn results_and_events_serialize_flat() {
    let r = ProbeResult::new(Outcome::unhealthy("down"), Duration::from_millis(12)).with_starting(true);
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"status": "unhealthy", "reason": "down", "latency_ms": 12, "starting": true})
    );
    let e = Event::Health(HealthEvent::Attempt {
        target: "tcp://127.0.0.1:1".into(),
        attempt: 2,
        outcome: Outcome::Healthy,
        latency_ms: 3,
        in_start_period: false,
        failures: 1,
    });
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        serde_json::json!({"room": "health", "event": {"type": "attempt", "target": "tcp://127.0.0.1:1", "attempt": 2,
            "status": "healthy", "latency_ms": 3, "in_start_period": false, "failures": 1}})
    );
}
