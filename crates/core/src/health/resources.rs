//! Resource probes: free disk space on a path (`statvfs`, through rustix) and a container's memory
//! use against a limit (one-shot engine stats, counting memory as `docker stats` does: usage minus
//! the inactive page cache).

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use bollard::query_parameters::StatsOptionsBuilder;
use futures::StreamExt;

use super::docker::{engine_error, Engine};
use super::{bounded, Finding, HealthProbe, Outcome, ProbeResult};

/// A minimum of free space: bytes or a percentage of the file system.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum MinFree {
    /// At least this many bytes available to unprivileged users.
    Bytes(u64),
    /// At least this percentage (0-100) of the file system available.
    Percent(f64),
}

/// Free disk space on the file system holding `path`.
#[derive(Debug, Clone)]
pub struct DiskProbe {
    path: PathBuf,
    min_free: MinFree,
}

impl DiskProbe {
    /// Healthy when the file system holding `path` has at least `min_free` available.
    pub fn new(path: impl Into<PathBuf>, min_free: MinFree) -> Self {
        DiskProbe { path: path.into(), min_free }
    }
}

/// (available bytes, total bytes) of the file system holding `path`.
pub fn disk_space(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    let st = rustix::fs::statvfs(path)?;
    Ok((st.f_bavail.saturating_mul(st.f_frsize), st.f_blocks.saturating_mul(st.f_frsize)))
}

#[async_trait]
impl HealthProbe for DiskProbe {
    fn target(&self) -> String {
        format!("disk://{}", self.path.display())
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        let path = self.path.clone();
        let min = self.min_free;
        bounded(timeout, async move {
            let space = tokio::task::spawn_blocking(move || disk_space(&path)).await;
            let (avail, total) = match space {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => return Finding::from(Outcome::unreachable(format!("cannot stat the file system: {e}"))),
                Err(e) => return Finding::from(Outcome::unreachable(format!("cannot stat the file system: {e}"))),
            };
            let pct = if total == 0 { 0.0 } else { avail as f64 * 100.0 / total as f64 };
            let summary = format!("{avail} bytes free of {total} ({pct:.1}%)");
            let ok = match min {
                MinFree::Bytes(b) => avail >= b,
                MinFree::Percent(p) => pct >= p,
            };
            let outcome = if ok {
                Outcome::Healthy
            } else {
                let want = match min {
                    MinFree::Bytes(b) => format!("{b} bytes"),
                    MinFree::Percent(p) => format!("{p}%"),
                };
                Outcome::unhealthy(format!("only {summary}, want at least {want}"))
            };
            Finding::from(outcome).output(summary)
        })
        .await
    }
}

/// A container's memory use against a limit.
#[derive(Debug, Clone)]
pub struct MemoryProbe {
    engine: Engine,
    container: String,
    max_percent: f64,
}

impl MemoryProbe {
    /// Healthy while `container` uses less than `max_percent` of its memory limit (the host's
    /// memory when it has none).
    pub fn new(engine: Engine, container: impl Into<String>, max_percent: f64) -> Self {
        MemoryProbe { engine, container: container.into(), max_percent }
    }

    async fn attempt(&self) -> Finding {
        let docker = match self.engine.client().await {
            Ok(d) => d,
            Err(o) => return Finding::from(o),
        };
        let options = StatsOptionsBuilder::new().stream(false).one_shot(true).build();
        let stats = match docker.stats(&self.container, Some(options)).next().await {
            Some(Ok(s)) => s,
            Some(Err(e)) => return Finding::from(engine_error(&self.container, e)),
            None => return Finding::from(Outcome::unreachable("the engine sent no stats")),
        };
        let mem = stats.memory_stats.unwrap_or_default();
        let (Some(usage), Some(limit)) = (mem.usage, mem.limit.filter(|l| *l > 0)) else {
            return Finding::from(Outcome::unhealthy(format!(
                "no memory figures for {} (is it running?)",
                self.container
            )));
        };
        let cache = mem
            .stats
            .as_ref()
            .and_then(|s| s.get("inactive_file").or_else(|| s.get("total_inactive_file")).copied())
            .unwrap_or(0);
        let used = usage.saturating_sub(cache);
        let pct = used as f64 * 100.0 / limit as f64;
        let summary = format!("{used} of {limit} bytes ({pct:.1}%)");
        if pct < self.max_percent {
            Finding::from(Outcome::Healthy).output(summary)
        } else {
            Finding::from(Outcome::unhealthy(format!("memory use {summary} is at or above {}%", self.max_percent)))
                .output(summary)
        }
    }
}

#[async_trait]
impl HealthProbe for MemoryProbe {
    fn target(&self) -> String {
        format!("memory://{}?max_percent={}", self.container, self.max_percent)
    }

    async fn probe(&self, timeout: Duration) -> ProbeResult {
        bounded(timeout, self.attempt()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn disk_probe_reads_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let (avail, total) = disk_space(dir.path()).unwrap();
        assert!(total > 0 && avail <= total);
        let ok = DiskProbe::new(dir.path(), MinFree::Bytes(1)).probe(Duration::from_secs(5)).await;
        assert_eq!(ok.outcome, Outcome::Healthy, "{ok:?}");
        let too_much = DiskProbe::new(dir.path(), MinFree::Bytes(total + 1)).probe(Duration::from_secs(5)).await;
        assert!(matches!(too_much.outcome, Outcome::Unhealthy { .. }), "{too_much:?}");
        let missing = DiskProbe::new("/nonexistent/slipway", MinFree::Percent(1.0)).probe(Duration::from_secs(5)).await;
        assert!(matches!(missing.outcome, Outcome::Unreachable { .. }), "{missing:?}");
    }
}
