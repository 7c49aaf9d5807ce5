//! `Load`: a bounded in-process HTTP load generator (fixed request rate over a fixed number of
//! concurrent workers, each request bounded by the client's timeout) that records every
//! response's time, status and body, so a test can assert "zero failures" and "every response
//! after this point came from version X". It stops by itself after `max_duration`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

/// One request's outcome.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Since the load started.
    pub at: Duration,
    /// The HTTP status, or `None` on a transport error.
    pub status: Option<u16>,
    /// The body (trimmed) on success, the error text otherwise.
    pub body: String,
}

impl Sample {
    /// 2xx.
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// A running load. Call [`Load::stop`] to end it and collect the samples.
pub struct Load {
    start: Instant,
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
}

impl Load {
    /// Send `rate` requests/s in total over `connections` workers to `url` with `client`, until
    /// stopped or `max_duration` passes.
    pub fn start(client: reqwest::Client, url: &str, rate: u32, connections: u32, max_duration: Duration) -> Self {
        let start = Instant::now();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop, stop_rx) = watch::channel(false);
        let period = Duration::from_secs_f64(f64::from(connections.max(1)) / f64::from(rate.max(1)));
        let workers = (0..connections.max(1))
            .map(|i| {
                let (client, url, samples, mut stop_rx) =
                    (client.clone(), url.to_string(), samples.clone(), stop_rx.clone());
                tokio::spawn(async move {
                    let offset = period.mul_f64(f64::from(i) / f64::from(connections.max(1)));
                    let mut tick = tokio::time::interval_at(start + offset, period);
                    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    loop {
                        tokio::select! {
                            _ = tick.tick() => {}
                            _ = stop_rx.changed() => break,
                        }
                        if start.elapsed() >= max_duration {
                            break;
                        }
                        let at = start.elapsed();
                        let sample = match client.get(&url).send().await {
                            Ok(r) => {
                                let status = r.status().as_u16();
                                let body = r
                                    .text()
                                    .await
                                    .map(|t| t.trim().to_string())
                                    .unwrap_or_else(|e| format!("body: {e}"));
                                Sample { at, status: Some(status), body }
                            }
                            Err(e) => Sample { at, status: None, body: format!("{e:?}") },
                        };
                        if let Ok(mut s) = samples.lock() {
                            s.push(sample);
                        }
                    }
                })
            })
            .collect();
        Load { start, samples, stop, workers }
    }

    /// Time since the load started (to mark phases).
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A copy of the samples so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stop the workers (in-flight requests finish) and return every sample, sorted by time.
    pub async fn stop(self) -> Vec<Sample> {
        let _ = self.stop.send(true);
        for w in self.workers {
            let _ = w.await;
        }
        let mut all = self.samples.lock().map(|s| s.clone()).unwrap_or_default();
        all.sort_by_key(|s| s.at);
        all
    }
}

/// Samples that are not 2xx.
pub fn failures(samples: &[Sample]) -> Vec<&Sample> {
    samples.iter().filter(|s| !s.ok()).collect()
}

/// The distinct bodies of samples taken in `[from, to)`, with counts, sorted.
pub fn versions_between(samples: &[Sample], from: Duration, to: Duration) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for s in samples.iter().filter(|s| s.at >= from && s.at < to && s.ok()) {
        *counts.entry(s.body.clone()).or_insert(0usize) += 1;
    }
    counts.into_iter().collect()
}
