//! Progress events of the health room.

use serde::Serialize;

use super::Outcome;

/// Something that happened in the health room.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthEvent {
    /// One probe attempt of a check finished.
    Attempt {
        /// The probe target (no secrets).
        target: String,
        /// Attempt number, from 1.
        attempt: u32,
        /// Its outcome.
        #[serde(flatten)]
        outcome: Outcome,
        /// Its latency in milliseconds.
        latency_ms: u64,
        /// The attempt started inside the start period (a failure does not count).
        in_start_period: bool,
        /// Consecutive failures counted so far (toward `retries`).
        failures: u32,
    },
    /// A check reached its verdict.
    Finished {
        /// The probe target (no secrets).
        target: String,
        /// The final outcome.
        #[serde(flatten)]
        outcome: Outcome,
        /// How many attempts it took.
        attempts: u32,
    },
}
