//! Why a release stops before its end (every target): the caller cancelled it (Ctrl-C, SIGTERM,
//! KeyboardInterrupt, a cancelled token), or the deploy lock's lease was lost (its renewals
//! failed, or the lock is gone). Either way the release stops changing the target, undoes what it
//! changed and records how it ended. The Swarm and Kubernetes targets watch a `Halt`; the Docker
//! host's executor watches the same two tokens.

use tokio_util::sync::CancellationToken;

/// The two signals a running release watches.
#[derive(Debug, Clone, Default)]
pub struct Halt {
    cancel: CancellationToken,
    lost: CancellationToken,
}

/// Why a release stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halted {
    /// The caller cancelled the deploy.
    Cancelled,
    /// The deploy lock's lease could not be renewed.
    LeaseLost,
}

impl Halt {
    /// Watch `cancel` (the caller's) and `lost` (the lock's).
    pub fn new(cancel: CancellationToken, lost: CancellationToken) -> Self {
        Self { cancel, lost }
    }

    /// Why the release must stop now, if it must (a cancellation wins over a lost lease).
    pub fn now(&self) -> Option<Halted> {
        if self.cancel.is_cancelled() {
            Some(Halted::Cancelled)
        } else if self.lost.is_cancelled() {
            Some(Halted::LeaseLost)
        } else {
            None
        }
    }

    /// Resolves when the release must stop.
    pub async fn wait(&self) -> Halted {
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Halted::Cancelled,
            _ = self.lost.cancelled() => Halted::LeaseLost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancellation_wins_over_a_lost_lease_and_nothing_halts_a_fresh_pair() {
        let (cancel, lost) = (CancellationToken::new(), CancellationToken::new());
        let halt = Halt::new(cancel.clone(), lost.clone());
        assert_eq!(halt.now(), None);
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(50), halt.wait()).await;
        assert!(quiet.is_err(), "nothing cancelled yet");
        lost.cancel();
        assert_eq!(halt.now(), Some(Halted::LeaseLost));
        assert_eq!(halt.wait().await, Halted::LeaseLost);
        cancel.cancel();
        assert_eq!(halt.now(), Some(Halted::Cancelled));
        assert_eq!(halt.wait().await, Halted::Cancelled);
    }
}
