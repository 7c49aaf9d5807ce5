//! `wait_until`: the one bounded polling helper used by the deployer, health and routing.

use std::future::Future;
use std::time::Duration;

use tokio::time::{sleep, Instant};

/// The condition did not hold before the deadline.
#[derive(Debug, Clone, thiserror::Error)]
#[error("timed out after {waited:?} waiting for {what}")]
pub struct WaitTimeout {
    /// What was waited for (for the message).
    pub what: String,
    /// How long was waited.
    pub waited: Duration,
}

/// Poll `condition` every `interval` until it yields `Some(T)` or `timeout` passes.
/// `condition` is always called at least once.
pub async fn wait_until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut condition: F,
) -> Result<T, WaitTimeout>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = condition().await {
            return Ok(v);
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(WaitTimeout { what: what.to_string(), waited: elapsed });
        }
        sleep(interval.min(timeout - elapsed)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn returns_value_or_times_out() {
        let mut n = 0;
        let v = wait_until("n to reach 3", Duration::from_secs(5), Duration::from_millis(100), || {
            n += 1;
            let hit = (n >= 3).then_some(n);
            async move { hit }
        })
        .await
        .unwrap();
        assert_eq!(v, 3);
        let e = wait_until::<(), _, _>("never", Duration::from_secs(1), Duration::from_millis(300), || async { None })
            .await
            .unwrap_err();
        assert!(e.waited >= Duration::from_secs(1));
        assert!(e.to_string().contains("never"));
    }
}
