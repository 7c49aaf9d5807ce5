//! Health probes (HTTP, TCP, PostgreSQL, Redis, Docker, exec, log line, resources) and `Check`s
//! with compose healthcheck semantics.
//!
//! - [`HealthProbe`]: one attempt at one thing, always bounded by its timeout, with a typed
//!   [`Outcome`] (healthy / unhealthy with reason / unreachable) and its latency.
//! - One file per probe: [`http`], [`tcp`], [`postgres`], [`redis`], [`docker`], [`exec`], [`log`],
//!   [`resources`].
//! - [`target`]: `http://`, `tcp://`, `postgres://`, ... strings to probes; with
//!   [`TargetOptions::via`] an SSH engine's network targets are probed from its host (`remote`).
//! - [`check`]: [`Check`] (probe + interval, timeout, retries, start period) and [`check_all`].

pub mod check;
pub mod docker;
mod error;
mod event;
pub mod exec;
pub mod http;
pub mod log;
pub mod postgres;
pub mod redis;
mod remote;
pub mod resources;
pub mod target;
pub mod tcp;

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use tokio::time::Instant;

pub use check::{check_all, checks_for_service, Check, CheckReport};
pub use error::HealthError;
pub use event::HealthEvent;
pub use target::{parse_target, parse_target_with, TargetOptions};

/// The outcome of one probe attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The thing answered and is healthy.
    Healthy,
    /// It answered, but not healthily (or is still starting).
    Unhealthy {
        /// Why.
        reason: String,
    },
    /// It could not be reached (refused, reset, timed out, unknown host).
    Unreachable {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// Shorthand for `Outcome::Unhealthy { reason }`.
    pub fn unhealthy(reason: impl Into<String>) -> Self {
        Outcome::Unhealthy { reason: reason.into() }
    }
    /// Shorthand for `Outcome::Unreachable { reason }`.
    pub fn unreachable(reason: impl Into<String>) -> Self {
        Outcome::Unreachable { reason: reason.into() }
    }
    /// True for `Healthy`.
    pub fn is_healthy(&self) -> bool {
        matches!(self, Outcome::Healthy)
    }
    /// `healthy`, `unhealthy` or `unreachable` (the JSON `status` value).
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Healthy => "healthy",
            Outcome::Unhealthy { .. } => "unhealthy",
            Outcome::Unreachable { .. } => "unreachable",
        }
    }
    /// Why it is not healthy (`None` when healthy).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Healthy => None,
            Outcome::Unhealthy { reason } | Outcome::Unreachable { reason } => Some(reason),
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reason() {
            None => f.write_str(self.status()),
            Some(r) => write!(f, "{}: {r}", self.status()),
        }
    }
}

/// One probe attempt's outcome and how long it took.
///
/// Build it with [`ProbeResult::new`] and the `with_*` methods; fields may be added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeResult {
    /// The outcome.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Time from start to outcome.
    #[serde(rename = "latency_ms", with = "crate::health::serde_millis")]
    pub latency: Duration,
    /// The other side said it is still starting (PostgreSQL SQLSTATE 57P03, Redis `LOADING`,
    /// Docker health `starting`). Always with an `Unhealthy` outcome.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub starting: bool,
    /// Output kept for the report (an exec probe's stdout/stderr, a matched log line), bounded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl ProbeResult {
    /// A result with no output that is not "starting".
    pub fn new(outcome: Outcome, latency: Duration) -> Self {
        ProbeResult { outcome, latency, starting: false, output: None }
    }
    /// Mark the result as "the other side is still starting".
    pub fn with_starting(mut self, starting: bool) -> Self {
        self.starting = starting;
        self
    }
    /// Keep output for the report.
    pub fn with_output(mut self, output: impl Into<String>) -> Self {
        self.output = Some(output.into());
        self
    }
}

/// One check of one thing. Every implementation bounds itself by `timeout`, whatever the other
/// side does, and never returns an error for the thing being unhealthy: that is an `Outcome`.
#[async_trait]
pub trait HealthProbe: Send + Sync + std::fmt::Debug {
    /// What is probed, for reports (`http://127.0.0.1:8080/health`). Never contains secrets.
    fn target(&self) -> String;
    /// Probe once, within `timeout`.
    async fn probe(&self, timeout: Duration) -> ProbeResult;
}

/// What one attempt found, before its latency is known: the outcome, whether the other side said
/// it is still starting, and output kept for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    outcome: Outcome,
    starting: bool,
    output: Option<String>,
}

impl From<Outcome> for Finding {
    fn from(outcome: Outcome) -> Self {
        Finding { outcome, starting: false, output: None }
    }
}

impl Finding {
    /// The other side said it is still starting.
    pub(crate) fn starting(self) -> Self {
        self.with_starting(true)
    }
    pub(crate) fn with_starting(mut self, starting: bool) -> Self {
        self.starting = starting;
        self
    }
    pub(crate) fn output(mut self, output: impl Into<String>) -> Self {
        self.output = Some(output.into());
        self
    }
    #[cfg(test)]
    pub(crate) fn outcome(&self) -> &Outcome {
        &self.outcome
    }
    #[cfg(test)]
    pub(crate) fn is_starting(&self) -> bool {
        self.starting
    }
}

/// Run one attempt bounded by `timeout` whatever `attempt` does: the attempt's own finding with
/// its latency, or `Unreachable` ("no answer within ...") when the deadline passes first.
pub(crate) async fn bounded<F>(timeout: Duration, attempt: F) -> ProbeResult
where
    F: Future<Output = Finding>,
{
    let start = Instant::now();
    match tokio::time::timeout(timeout, attempt).await {
        Ok(f) => ProbeResult { outcome: f.outcome, latency: start.elapsed(), starting: f.starting, output: f.output },
        Err(_) => ProbeResult::new(
            Outcome::unreachable(format!("no answer within {}", crate::duration::format(timeout))),
            start.elapsed(),
        ),
    }
}

/// Keep at most `max` bytes of `s` (on a char boundary), marking the cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

pub(crate) mod serde_millis {
    //! Durations as integer milliseconds in JSON.
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}
