//! `Check`: a probe with compose healthcheck semantics (interval, timeout, retries, start period,
//! start interval), run until it is healthy or unhealthy; `check_all` runs a set concurrently;
//! `checks_for_service` derives checks from a compose service.
//!
//! Semantics, as Docker and compose document them: an attempt that fails while the start period
//! runs does not count; once it is over, `retries` consecutive failures make the check unhealthy;
//! any success (during the start period too) makes it healthy. Attempts are `interval` apart
//! (`start_interval` during the start period when set), each bounded by `timeout`. The first
//! attempt runs at once. A check therefore always ends, after at most about
//! `start_period + retries * (interval + timeout)`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::{sleep, Instant};

use super::docker::Engine;
use super::exec::ExecProbe;
use super::tcp::TcpProbe;
use super::{HealthEvent, HealthProbe, Outcome, ProbeResult};
use crate::events::{Event, Observer};
use crate::stack::ServiceSpec;

/// A probe with compose healthcheck timing.
#[derive(Debug, Clone)]
pub struct Check {
    probe: Arc<dyn HealthProbe>,
    interval: Duration,
    timeout: Duration,
    retries: u32,
    start_period: Duration,
    start_interval: Option<Duration>,
}

impl Check {
    /// A check with compose's defaults: interval 30s, timeout 30s, retries 3, no start period.
    pub fn new(probe: Arc<dyn HealthProbe>) -> Self {
        Check {
            probe,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            retries: 3,
            start_period: Duration::ZERO,
            start_interval: None,
        }
    }
    /// Time between attempts.
    pub fn interval(mut self, d: Duration) -> Self {
        self.interval = d;
        self
    }
    /// Bound of each attempt.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }
    /// Consecutive counted failures that make it unhealthy (0 is taken as 1).
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n.max(1);
        self
    }
    /// Failures of attempts started within this period after the check starts do not count.
    pub fn start_period(mut self, d: Duration) -> Self {
        self.start_period = d;
        self
    }
    /// Time between attempts during the start period (default: `interval`).
    pub fn start_interval(mut self, d: Duration) -> Self {
        self.start_interval = Some(d);
        self
    }
    /// The probe.
    pub fn probe(&self) -> &Arc<dyn HealthProbe> {
        &self.probe
    }
    /// What is probed.
    pub fn target(&self) -> String {
        self.probe.target()
    }

    /// Probe until healthy or unhealthy; report the verdict, sending one event per attempt.
    pub async fn run(&self, observer: &dyn Observer) -> CheckReport {
        let target = self.probe.target();
        let start = Instant::now();
        let mut attempts = 0u32;
        let mut failures = 0u32;
        loop {
            attempts += 1;
            let began = Instant::now();
            let in_start_period = began.duration_since(start) < self.start_period;
            // Probes bound themselves; this outer bound guards against one that does not.
            let result = match tokio::time::timeout(self.timeout, self.probe.probe(self.timeout)).await {
                Ok(r) => r,
                Err(_) => ProbeResult::new(
                    Outcome::unreachable(format!("no answer within {}", crate::duration::format(self.timeout))),
                    began.elapsed(),
                ),
            };
            let healthy = result.outcome.is_healthy();
            if !healthy && !in_start_period {
                failures += 1;
            }
            observer.event(&Event::Health(HealthEvent::Attempt {
                target: target.clone(),
                attempt: attempts,
                outcome: result.outcome.clone(),
                latency_ms: result.latency.as_millis() as u64,
                in_start_period,
                failures,
            }));
            if healthy || failures >= self.retries {
                observer.event(&Event::Health(HealthEvent::Finished {
                    target: target.clone(),
                    outcome: result.outcome.clone(),
                    attempts,
                }));
                return CheckReport { target, result, attempts, elapsed: start.elapsed() };
            }
            let wait = match self.start_interval {
                Some(si) if Instant::now().duration_since(start) < self.start_period => si,
                _ => self.interval,
            };
            sleep(wait).await;
        }
    }
}

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// What was probed (no secrets).
    pub target: String,
    /// The last attempt: its outcome (the verdict), latency, `starting` flag and output.
    pub result: ProbeResult,
    /// How many attempts were made.
    pub attempts: u32,
    /// Time from the first attempt to the verdict.
    pub elapsed: Duration,
}

impl CheckReport {
    /// The verdict.
    pub fn outcome(&self) -> &Outcome {
        &self.result.outcome
    }
    /// True when healthy.
    pub fn is_healthy(&self) -> bool {
        self.result.outcome.is_healthy()
    }
}

/// The report's JSON form, with stable keys: `target`, `status` (`healthy`, `unhealthy`,
/// `unreachable`), `reason` (null when healthy), `latency_ms`, `attempts`, `elapsed_ms`,
/// `starting`, `output` (null when none).
impl Serialize for CheckReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            target: &'a str,
            status: &'a str,
            reason: Option<&'a str>,
            latency_ms: u64,
            attempts: u32,
            elapsed_ms: u64,
            starting: bool,
            output: Option<&'a str>,
        }
        Json {
            target: &self.target,
            status: self.result.outcome.status(),
            reason: self.result.outcome.reason(),
            latency_ms: self.result.latency.as_millis() as u64,
            attempts: self.attempts,
            elapsed_ms: self.elapsed.as_millis() as u64,
            starting: self.result.starting,
            output: self.result.output.as_deref(),
        }
        .serialize(s)
    }
}

/// Run `checks` concurrently; reports in input order.
pub async fn check_all(checks: &[Check], observer: &dyn Observer) -> Vec<CheckReport> {
    futures::future::join_all(checks.iter().map(|c| c.run(observer))).await
}

/// Checks for one compose service running as `container`: its healthcheck as an exec probe (with
/// the healthcheck's own timing, compose defaults otherwise), and a TCP check per published TCP
/// port (on the published host IP, loopback when it binds all addresses; interval 1s, timeout 2s,
/// retries 3, the healthcheck's start period).
pub fn checks_for_service(service: &ServiceSpec, container: &str, engine: &Engine) -> Vec<Check> {
    let mut checks = Vec::new();
    let start_period = service.healthcheck.as_ref().and_then(|h| h.start_period).unwrap_or_default();
    if let Some(hc) = &service.healthcheck {
        if let Some(probe) = ExecProbe::from_healthcheck_test(engine.clone(), container, &hc.test) {
            let mut check = Check::new(Arc::new(probe))
                .interval(hc.interval.unwrap_or(Duration::from_secs(30)))
                .timeout(hc.timeout.unwrap_or(Duration::from_secs(30)))
                .retries(hc.retries.unwrap_or(3))
                .start_period(start_period);
            if let Some(si) = hc.start_interval {
                check = check.start_interval(si);
            }
            checks.push(check);
        }
    }
    for port in &service.ports {
        if !port.protocol.eq_ignore_ascii_case("tcp") {
            continue;
        }
        let Some(published) = port.published.as_deref() else { continue };
        let Some(host_port) = published.split('-').next().and_then(|p| p.trim().parse::<u16>().ok()) else {
            continue;
        };
        let host = match port.host_ip.as_deref() {
            None | Some("") | Some("0.0.0.0") => "127.0.0.1",
            Some("::") => "::1",
            Some(ip) => ip,
        };
        checks.push(
            Check::new(Arc::new(TcpProbe::new(host, host_port)))
                .interval(Duration::from_secs(1))
                .timeout(Duration::from_secs(2))
                .retries(3)
                .start_period(start_period),
        );
    }
    checks
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
