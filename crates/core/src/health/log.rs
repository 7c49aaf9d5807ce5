//! Log line probe: the container's logs (stdout and stderr) since a moment contain a line matching
//! a pattern (a worker's "ready" line). The matched line is kept for the report.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt;
use regex::Regex;

use super::docker::{engine_error, Engine};
use super::{bounded, truncate, Finding, HealthProbe, Outcome, ProbeResult};

/// Looks for a log line matching `pattern`.
#[derive(Debug, Clone)]
pub struct LogProbe {
    engine: Engine,
    container: String,
    pattern: Regex,
    since: Option<SystemTime>,
}

impl LogProbe {
    /// Look in all of `container`'s logs for a line matching `pattern`.
    pub fn new(engine: Engine, container: impl Into<String>, pattern: Regex) -> Self {
        LogProbe { engine, container: container.into(), pattern, since: None }
    }
    /// Only look at lines logged at or after `since` (whole seconds, as the engine filters).
    pub fn since(mut self, since: SystemTime) -> Self {
        self.since = Some(since);
        self
    }

    async fn attempt(&self) -> Finding {
        let docker = match self.engine.client().await {
            Ok(d) => d,
            Err(o) => return Finding::from(o),
        };
        let since = self
            .since
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX))
            .unwrap_or(0);
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).follow(false).since(since).build();
        let mut logs = docker.logs(&self.container, Some(options));
        let mut partial = String::new();
        let mut lines = 0usize;
        while let Some(item) = logs.next().await {
            let chunk = match item {
                Ok(c) => c,
                Err(e) => return Finding::from(engine_error(&self.container, e)),
            };
            partial.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            while let Some(nl) = partial.find('\n') {
                let line: String = partial.drain(..=nl).collect();
                lines += 1;
                let line = line.trim_end();
                if self.pattern.is_match(line) {
                    return Finding::from(Outcome::Healthy).output(truncate(line, 1024));
                }
            }
        }
        if !partial.is_empty() && self.pattern.is_match(partial.trim_end()) {
            return Finding::from(Outcome::Healthy).output(truncate(partial.trim_end(), 1024));
        }
        Finding::from(Outcome::unhealthy(format!("no log line matches /{}/ ({lines} lines read)", self.pattern)))
    }
}

#[async_trait]
impl HealthProbe for LogProbe {
    fn target(&self) -> String {
        format!("log://{}?pattern={}", self.container, self.pattern)
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        bounded(timeout, self.attempt()).await
    }
}
