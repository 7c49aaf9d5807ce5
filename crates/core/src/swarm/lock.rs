//! The project's deploy lock on a Swarm, as a lease like the Docker host's (`deploy::DeployLock`):
//! a Swarm config `<project>_slipway-lock`. Config names are unique in the managers' Raft store,
//! so creating it is an atomic test-and-set seen by every operator machine. Its labels are the
//! shared lease labels (holder, since, expiry, length: `deploy::lock::lease_labels`); while the
//! deploy runs a background task renews the lease every quarter of its length by updating the
//! expiry label (a config's labels may change; the version index makes each write conditional).
//! Any machine judges the lease with the shared pure `judge`: an expired lease (plus the clock-skew
//! margin) is taken over, so a dead holder's lock frees itself one lease later and a long deploy
//! keeps its lock.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use bollard::models::ConfigSpec;
use bollard::query_parameters::UpdateConfigOptions;
use bollard::Docker;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::error::SwarmError;
use crate::deploy::{judge_lease, labels, lease_labels, margin_for, renew_every, DeployError, DeployEvent, Lease};
use crate::events::{Event, Observer};

/// Label marking the lock config (its value: the project).
const LOCK_KIND: &str = "dev.slipway.swarm-lock";

fn lock_name(project: &str) -> String {
    format!("{project}_slipway-lock")
}

/// A held Swarm lock, renewed in the background until `release()` (a drop only stops renewing:
/// the lease then expires by itself). [`SwarmLock::lost`] is cancelled when the holder can no
/// longer prove it holds the lock (the renewals failed, or the lock config is gone): the deploy
/// then stops and undoes.
#[derive(Debug)]
pub struct SwarmLock {
    docker: Docker,
    id: String,
    stop: CancellationToken,
    lost: CancellationToken,
    renewal: Option<tokio::task::JoinHandle<()>>,
}

impl SwarmLock {
    /// Take `project`'s lock with a lease of `lease`; an expired lease is taken over (a
    /// `StaleLock` event says whose); a live one is waited for up to `wait`, then refused with
    /// [`SwarmError::Locked`] naming the holder and the expiry. `cancel` gives up with
    /// `DeployError::CancelledBeforeChange` (nothing changed).
    pub async fn acquire(
        docker: &Docker,
        project: &str,
        wait: Duration,
        lease: Duration,
        cancel: &CancellationToken,
        observer: &dyn Observer,
    ) -> crate::Result<Self> {
        let name = lock_name(project);
        let deadline = tokio::time::Instant::now() + wait;
        let lease = Duration::from_secs(lease.as_secs().max(1));
        let mut announced = false;
        loop {
            if cancel.is_cancelled() {
                return Err(cancelled(project, &name).into());
            }
            let mut l = lease_labels(Utc::now(), lease);
            l.insert(labels::PROJECT.to_string(), project.to_string());
            l.insert(LOCK_KIND.to_string(), project.to_string());
            let spec = ConfigSpec {
                name: Some(name.clone()),
                labels: Some(l),
                data: Some(base64::engine::general_purpose::STANDARD.encode(b"slipway deploy lock")),
                ..Default::default()
            };
            match docker.create_config(spec).await {
                Ok(r) => return Ok(Self::held(docker, r.id, lease)),
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {}
                Err(e) => return Err(SwarmError::engine("take the deploy lock", &name, e).into()),
            }
            let Some((id, held)) = read(docker, &name).await? else { continue };
            if let Some(reason) = judge_lease(&held, Utc::now(), margin_for(held.length)) {
                observer.event(&Event::Deploy(DeployEvent::StaleLock { holder: held.holder.clone(), reason }));
                match docker.delete_config(&id).await {
                    Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {}
                    Err(e) => return Err(SwarmError::engine("take over the stale deploy lock", &name, e).into()),
                }
                continue;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(locked(project, &held).into());
            }
            if !announced {
                observer.event(&Event::Deploy(DeployEvent::LockWaiting { holder: held.holder.clone() }));
                announced = true;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = cancel.cancelled() => return Err(cancelled(project, &name).into()),
            }
        }
    }

    /// The lease of `project`'s Swarm lock as any machine sees it (`None`: nobody holds it).
    pub async fn lease_of(docker: &Docker, project: &str) -> Result<Option<Lease>, SwarmError> {
        Ok(read(docker, &lock_name(project)).await?.map(|(_, l)| l))
    }

    fn held(docker: &Docker, id: String, lease: Duration) -> Self {
        let stop = CancellationToken::new();
        let (d, i, s) = (docker.clone(), id.clone(), stop.clone());
        let lost = CancellationToken::new();
        let l = lost.clone();
        let renewal =
            tokio::spawn(async move { renew_every(lease, s, l, &i, |expires| renew(&d, &i, expires), is_gone).await });
        Self { docker: docker.clone(), id, stop, lost, renewal: Some(renewal) }
    }

    /// Cancelled when this holder can no longer prove it holds the lock (`deploy::lock::renew_every`).
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Give the lock back: stop renewing (a renewal in flight finishes first, bounded), remove it.
    pub async fn release(mut self) -> Result<(), SwarmError> {
        self.stop.cancel();
        if let Some(task) = self.renewal.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        self.docker
            .delete_config(&self.id)
            .await
            .map_err(|e| SwarmError::engine("release the deploy lock", &self.id, e))
    }
}

impl Drop for SwarmLock {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The refusal for a live lease: who holds it, since when, until when.
pub(crate) fn locked(project: &str, held: &Lease) -> SwarmError {
    let at = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_else(|| "unknown".into())
    };
    SwarmError::Locked {
        project: project.into(),
        holder: held.holder.clone(),
        since: at(held.since),
        expires: at(held.expires),
    }
}

fn cancelled(project: &str, lock: &str) -> DeployError {
    DeployError::CancelledBeforeChange {
        project: project.to_string(),
        during: format!("while waiting for the Swarm deploy lock {lock}"),
        outcome: "nothing was changed".into(),
    }
}

/// The lock config's id and lease (`None` when it vanished meanwhile).
async fn read(docker: &Docker, name: &str) -> Result<Option<(String, Lease)>, SwarmError> {
    match docker.inspect_config(name).await {
        Ok(c) => {
            let l: HashMap<String, String> = c.spec.and_then(|s| s.labels).unwrap_or_default();
            Ok(c.id.map(|id| (id, Lease::from_labels(&l))))
        }
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(e) => Err(SwarmError::engine("read the deploy lock", name, e)),
    }
}

/// A renewal's error meaning the lock config itself is gone (deleted, or taken over and
/// recreated under a new id): the lease is lost at once, not after it runs out.
fn is_gone(e: &SwarmError) -> bool {
    matches!(
        e,
        SwarmError::Engine { source: bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }, .. }
    )
}

/// One renewal: the expiry label moved to `expires`, conditional on the config's version.
async fn renew(docker: &Docker, id: &str, expires: DateTime<Utc>) -> Result<(), SwarmError> {
    let c = docker.inspect_config(id).await.map_err(|e| SwarmError::engine("read the deploy lock", id, e))?;
    let version = c.version.and_then(|v| v.index).unwrap_or(0) as i64;
    let mut spec = c.spec.unwrap_or_default();
    spec.labels.get_or_insert_with(HashMap::new).insert(labels::LOCK_EXPIRES.to_string(), expires.to_rfc3339());
    docker
        .update_config(id, spec, UpdateConfigOptions { version })
        .await
        .map_err(|e| SwarmError::engine("renew the deploy lock's lease", id, e))
}
