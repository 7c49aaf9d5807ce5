//! The deploy lock of a project, as a lease: a never-started container named
//! `PROJECT-slipway-deploy-lock`. Container names are unique per engine, so creating it is an
//! atomic test-and-set visible to every operator machine. Its labels say who holds it and until
//! when (`dev.slipway.lock.expires`, RFC 3339, UTC); while the deploy runs, a background task
//! renews the lease every quarter of its length by writing `/slipway-lease.json` (the new
//! expiry) into the container through the engine's archive endpoint (labels cannot change).
//! Any machine that reaches the engine judges the lease from those two alone ([`judge`]): it
//! has expired when the newest expiry plus a margin for clock skew ([`margin_for`]) has passed. No
//! fixed age: a deploy longer than any bound keeps its lock, a dead holder's lock is taken over
//! one lease later — or at once when this kernel proves the holder's process gone
//! (`lock_holder.rs`: same boot, same pid namespace, no such process). A holder that cannot
//! renew its lease before it runs out says so ([`DeployLock::lost`]): the deploy stops and
//! undoes while the lease still holds others off.

use std::collections::HashMap;
use std::io::Read as _;
use std::time::Duration;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptions, DownloadFromContainerOptions, UploadToContainerOptions};
use bollard::Docker;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::engine;
use super::error::DeployError;
use super::event::DeployEvent;
use super::labels;
use super::lock_holder::{holder_gone, HolderProcess};
use super::release::{host_name, who};
use crate::events::{Event, Observer};

/// The most time added to an expiry before another machine may take the lock over (clocks
/// differ); a short lease gets a quarter of its length, at least a second (see [`margin_for`]).
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(15);
/// Locks written before leases (no expiry label) are judged stale after this age.
const LEGACY_STALE_AFTER: Duration = Duration::from_secs(3600);
/// The renewal file inside the lock container.
const LEASE_FILE: &str = "slipway-lease.json";

/// What a lock container says about its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// `user@host pid=N`.
    pub holder: String,
    /// When it was taken.
    pub since: Option<DateTime<Utc>>,
    /// The newest expiry: the label's, or a renewal's when later.
    pub expires: Option<DateTime<Utc>>,
    /// The lease's length, as its holder set it.
    pub length: Option<Duration>,
    /// The holder's process as its kernel knows it (see `lock_holder.rs`).
    pub process: Option<String>,
}

/// The margin for clock skew added to a lease of `length` before it counts as expired: a quarter
/// of the lease, between one second and [`CLOCK_SKEW_MARGIN`] (15 s for the default 60 s lease).
pub fn margin_for(length: Option<Duration>) -> Duration {
    length.map_or(CLOCK_SKEW_MARGIN, |l| (l / 4).clamp(Duration::from_secs(1), CLOCK_SKEW_MARGIN))
}

impl Lease {
    /// The lease a lock's labels describe (holder, since, expiry, length); every target's lock
    /// carries the same labels ([`lease_labels`]).
    pub(crate) fn from_labels(l: &HashMap<String, String>) -> Self {
        let time = |k: &str| l.get(k).and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc));
        Self {
            holder: l.get(labels::LOCK_HOLDER).cloned().unwrap_or_else(|| "unknown".into()),
            since: time(labels::LOCK_SINCE),
            expires: time(labels::LOCK_EXPIRES),
            length: l.get(labels::LOCK_LEASE).and_then(|s| s.parse().ok()).map(Duration::from_secs),
            process: l.get(labels::LOCK_PROCESS).cloned(),
        }
    }

    pub(crate) fn renewed(mut self, renewal: Option<DateTime<Utc>>) -> Self {
        self.expires = match (self.expires, renewal) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self
    }
}

/// `Some(why)` when `lease` has expired at `now`: its newest expiry plus `margin` has passed (a
/// lock written before leases: older than an hour). Pure, so any machine judges the same.
pub fn judge(lease: &Lease, now: DateTime<Utc>, margin: Duration) -> Option<String> {
    let margin = chrono::Duration::from_std(margin).unwrap_or_default();
    match (lease.expires, lease.since) {
        (Some(expires), _) if now > expires + margin => Some(format!(
            "its lease expired at {} and was not renewed ({}s ago)",
            expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            (now - expires).num_seconds()
        )),
        (None, Some(since)) if now - since > chrono::Duration::from_std(LEGACY_STALE_AFTER).unwrap_or_default() => {
            Some(format!("it carries no lease and was taken {}s ago", (now - since).num_seconds()))
        }
        _ => None,
    }
}

/// A held lock, renewed in the background until `release()` (or drop, which only stops the
/// renewal: the lease then expires by itself).
#[derive(Debug)]
pub struct DeployLock {
    docker: Docker,
    id: String,
    stop: CancellationToken,
    lost: CancellationToken,
    renewal: Option<tokio::task::JoinHandle<()>>,
}

impl DeployLock {
    /// Take the lock of `project` with a lease of `lease`, waiting up to `wait` for another holder.
    pub async fn acquire(
        docker: &Docker,
        project: &str,
        wait: Duration,
        lease: Duration,
        observer: &dyn Observer,
    ) -> Result<Self, DeployError> {
        Self::acquire_cancellable(docker, project, wait, lease, &CancellationToken::new(), observer).await
    }

    /// [`DeployLock::acquire`], giving up (`DeployError::CancelledBeforeChange`, nothing changed) when `cancel` fires.
    pub async fn acquire_cancellable(
        docker: &Docker,
        project: &str,
        wait: Duration,
        lease: Duration,
        cancel: &CancellationToken,
        observer: &dyn Observer,
    ) -> Result<Self, DeployError> {
        let name = labels::lock_name(project);
        let deadline = tokio::time::Instant::now() + wait;
        let lease = Duration::from_secs(lease.as_secs().max(1));
        let mut announced = false;
        let mut vanished = 0;
        loop {
            if cancel.is_cancelled() {
                return Err(cancelled(project, &name));
            }
            let image = super::env_store::any_image(docker).await?;
            let mut labels = lease_labels(Utc::now(), lease);
            labels.insert(labels::LOCK.to_string(), project.to_string());
            if let Some(me) = HolderProcess::own() {
                labels.insert(labels::LOCK_PROCESS.to_string(), me.label());
            }
            let body = ContainerCreateBody {
                image: Some(image),
                labels: Some(labels),
                cmd: Some(vec!["slipway-deploy-lock".into()]),
                ..Default::default()
            };
            let opts = CreateContainerOptions { name: Some(name.clone()), ..Default::default() };
            match docker.create_container(Some(opts), body).await {
                Ok(r) => return Ok(Self::held(docker, r.id, lease)),
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {}
                // The image picked was removed meanwhile (shared engine): pick another.
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) if vanished < 5 => {
                    vanished += 1;
                    continue;
                }
                Err(e) => return Err(DeployError::engine("create deploy lock", &name, e)),
            }
            let Some(held) = read_lease(docker, &name).await else { continue };
            let gone = held
                .process
                .as_deref()
                .and_then(|p| HolderProcess::own().and_then(|me| holder_gone(p, &me, std::path::Path::new("/proc"))));
            if let Some(reason) = gone.or_else(|| judge(&held, Utc::now(), margin_for(held.length))) {
                observer.event(&Event::Deploy(DeployEvent::StaleLock { holder: held.holder.clone(), reason }));
                engine::remove(docker, &name).await?;
                continue;
            }
            if tokio::time::Instant::now() >= deadline {
                let time = |t: Option<DateTime<Utc>>| {
                    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_else(|| "?".into())
                };
                let takeover =
                    held.expires.map(|e| e + chrono::Duration::from_std(margin_for(held.length)).unwrap_or_default());
                return Err(DeployError::Locked {
                    project: project.to_string(),
                    holder: held.holder,
                    since: time(held.since),
                    until: time(held.expires),
                    takeover: time(takeover),
                });
            }
            if !announced {
                observer.event(&Event::Deploy(DeployEvent::LockWaiting { holder: held.holder.clone() }));
                announced = true;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = cancel.cancelled() => return Err(cancelled(project, &name)),
            }
        }
    }

    /// The lease of `project`'s lock as any machine sees it (`None`: nobody holds it).
    pub async fn lease_of(docker: &Docker, project: &str) -> Option<Lease> {
        read_lease(docker, &labels::lock_name(project)).await
    }

    fn held(docker: &Docker, id: String, lease: Duration) -> Self {
        let stop = CancellationToken::new();
        let lost = CancellationToken::new();
        let renewal = tokio::spawn(renew(docker.clone(), id.clone(), lease, stop.clone(), lost.clone()));
        Self { docker: docker.clone(), id, stop, lost, renewal: Some(renewal) }
    }

    /// Cancelled when the lease could not be renewed and less than a quarter of it is left (or
    /// the lock container is gone): the holder can no longer prove it holds the lock, and must
    /// stop changing the host.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Give the lock back: stop renewing, remove the container.
    pub async fn release(mut self) -> Result<(), DeployError> {
        self.stop.cancel();
        if let Some(task) = self.renewal.take() {
            // A renewal in flight finishes first (bounded: one archive upload).
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        engine::remove(&self.docker, &self.id).await
    }
}

impl Drop for DeployLock {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The labels of a lock taken now by this process with a lease of `lease`: holder
/// (`user@host pid=N`), host, pid, since, expiry and length. Shared by every target's lock.
pub(crate) fn lease_labels(now: DateTime<Utc>, lease: Duration) -> HashMap<String, String> {
    let expires = now + chrono::Duration::from_std(lease).unwrap_or_default();
    HashMap::from([
        (labels::LOCK_HOLDER.to_string(), format!("{} pid={}", who(), std::process::id())),
        (labels::LOCK_HOST.to_string(), host_name()),
        (labels::LOCK_PID.to_string(), std::process::id().to_string()),
        (labels::LOCK_SINCE.to_string(), now.to_rfc3339()),
        (labels::LOCK_EXPIRES.to_string(), expires.to_rfc3339()),
        (labels::LOCK_LEASE.to_string(), lease.as_secs().to_string()),
    ])
}

fn cancelled(project: &str, lock: &str) -> DeployError {
    DeployError::CancelledBeforeChange {
        project: project.to_string(),
        during: format!("while waiting for the deploy lock {lock}"),
        outcome: "nothing was changed".into(),
    }
}

/// Renew the lease every quarter of its length until `stop`; cancel `lost` when the holder can
/// no longer prove it holds the lock (see [`renew_every`]); a 404 from the engine means the lock
/// container is gone.
async fn renew(docker: Docker, id: String, lease: Duration, stop: CancellationToken, lost: CancellationToken) {
    let gone = |e: &DeployError| {
        matches!(
            e,
            DeployError::Engine {
                source: bollard::errors::Error::DockerResponseServerError { status_code: 404, .. },
                ..
            }
        )
    };
    renew_every(lease, stop, lost, &id, |expires| write_renewal(&docker, &id, expires), gone).await
}

/// Every quarter of `lease` until `stop`, `write` a new expiry (now + `lease`), each write bounded
/// by a quarter lease. Cancel `lost` when the holder can no longer prove it holds the lock: `gone`
/// says a write's error means the lock itself is gone, or renewals kept failing until less than a
/// quarter of the lease is left (others still wait that quarter plus the margin, the time the
/// deploy has to undo); a failed write is retried soon. Every target's lock renews through this.
pub(crate) async fn renew_every<F, Fut, E, G>(
    lease: Duration,
    stop: CancellationToken,
    lost: CancellationToken,
    lock: &str,
    mut write: F,
    gone: G,
) where
    F: FnMut(DateTime<Utc>) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
    G: Fn(&E) -> bool,
{
    let every = lease / 4;
    let mut held_until = tokio::time::Instant::now() + lease;
    let mut wait = every;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return,
        }
        let asked = tokio::time::Instant::now();
        let expires = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
        let mut is_gone = false;
        match tokio::time::timeout(every, write(expires)).await {
            Ok(Ok(())) => {
                held_until = asked + lease;
                wait = every;
                continue;
            }
            Ok(Err(e)) => {
                is_gone = gone(&e);
                tracing::warn!(lock = %lock, error = %e, "could not renew the deploy lock's lease");
            }
            Err(_) => tracing::warn!(lock = %lock, "renewing the deploy lock's lease timed out"),
        }
        if is_gone || tokio::time::Instant::now() + every >= held_until {
            lost.cancel();
            return;
        }
        wait = every / 4; // try again soon
    }
}

async fn write_renewal(docker: &Docker, id: &str, expires: DateTime<Utc>) -> Result<(), DeployError> {
    let json = serde_json::json!({ "expires": expires.to_rfc3339(), "renewed_by": who() }).to_string();
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o644);
    header.set_size(json.len() as u64);
    header.set_mtime(0);
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_data(&mut header, LEASE_FILE, json.as_bytes())
        .and_then(|()| builder.finish())
        .map_err(|source| DeployError::LeaseArchive { lock: id.to_string(), source })?;
    let archive = builder.into_inner().map_err(|source| DeployError::LeaseArchive { lock: id.to_string(), source })?;
    let opts = UploadToContainerOptions { path: "/".into(), ..Default::default() };
    docker
        .upload_to_container(id, Some(opts), bollard::body_full(archive.into()))
        .await
        .map_err(|e| DeployError::engine("renew the deploy lock's lease", id, e))
}

/// The lease of the lock container `name` (`None` when it vanished meanwhile).
async fn read_lease(docker: &Docker, name: &str) -> Option<Lease> {
    let held = docker.inspect_container(name, None).await.ok()?;
    let lease = Lease::from_labels(&held.config.and_then(|c| c.labels).unwrap_or_default());
    let opts = DownloadFromContainerOptions { path: format!("/{LEASE_FILE}") };
    let mut stream = docker.download_from_container(name, Some(opts));
    let mut archive = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        archive.extend_from_slice(&chunk);
        if archive.len() > 64 * 1024 {
            break;
        }
    }
    Some(lease.renewed(renewal_in(&archive)))
}

/// The expiry a renewal archive holds, if any.
fn renewal_in(archive: &[u8]) -> Option<DateTime<Utc>> {
    let mut tar = tar::Archive::new(archive);
    let mut entry = tar.entries().ok()?.next()?.ok()?;
    let mut text = String::new();
    entry.read_to_string(&mut text).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    DateTime::parse_from_rfc3339(v.get("expires")?.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn lease(since: Option<&str>, expires: Option<&str>) -> Lease {
        Lease {
            holder: "ci@elsewhere pid=7".into(),
            since: since.map(at),
            expires: expires.map(at),
            length: None,
            process: None,
        }
    }

    #[test]
    fn a_lease_expires_only_after_its_expiry_and_the_margin() {
        let m = Duration::from_secs(15);
        let l = lease(Some("2026-01-01T10:00:00Z"), Some("2026-01-01T10:01:00Z"));
        assert_eq!(judge(&l, at("2026-01-01T10:00:30Z"), m), None, "live");
        assert_eq!(judge(&l, at("2026-01-01T10:01:10Z"), m), None, "within the margin");
        let why = judge(&l, at("2026-01-01T10:01:16Z"), m).expect("expired");
        assert!(why.contains("10:01:00"), "{why}");
    }

    #[test]
    fn a_renewed_lease_outlives_any_fixed_age() {
        // Taken five hours ago, renewed a moment ago: still held.
        let l =
            lease(Some("2026-01-01T05:00:00Z"), Some("2026-01-01T05:01:00Z")).renewed(Some(at("2026-01-01T10:00:50Z")));
        assert_eq!(judge(&l, at("2026-01-01T10:00:30Z"), CLOCK_SKEW_MARGIN), None);
        // A renewal older than the label changes nothing.
        let l = lease(None, Some("2026-01-01T10:01:00Z")).renewed(Some(at("2026-01-01T09:00:00Z")));
        assert_eq!(l.expires, Some(at("2026-01-01T10:01:00Z")));
    }

    #[test]
    fn locks_from_before_leases_fall_back_to_their_age() {
        let l = lease(Some("2026-01-01T10:00:00Z"), None);
        assert_eq!(judge(&l, at("2026-01-01T10:59:00Z"), CLOCK_SKEW_MARGIN), None);
        assert!(judge(&l, at("2026-01-01T11:01:00Z"), CLOCK_SKEW_MARGIN).is_some());
        assert_eq!(judge(&lease(None, None), at("2026-01-01T11:01:00Z"), CLOCK_SKEW_MARGIN), None);
    }

    #[test]
    fn the_margin_is_a_quarter_of_the_lease_within_bounds() {
        assert_eq!(margin_for(Some(Duration::from_secs(60))), Duration::from_secs(15));
        assert_eq!(margin_for(Some(Duration::from_secs(600))), CLOCK_SKEW_MARGIN);
        assert_eq!(margin_for(Some(Duration::from_secs(2))), Duration::from_secs(1));
        assert_eq!(margin_for(None), CLOCK_SKEW_MARGIN);
    }

    #[test]
    fn labels_and_renewal_files_parse() {
        let l = HashMap::from([
            (labels::LOCK_HOLDER.to_string(), "a@b pid=1".to_string()),
            (labels::LOCK_EXPIRES.to_string(), "2026-01-01T10:01:00+00:00".to_string()),
            (labels::LOCK_LEASE.to_string(), "60".to_string()),
        ]);
        let lease = Lease::from_labels(&l);
        assert_eq!((lease.holder.as_str(), lease.expires), ("a@b pid=1", Some(at("2026-01-01T10:01:00Z"))));
        assert_eq!(lease.length, Some(Duration::from_secs(60)));
        let mut b = tar::Builder::new(Vec::new());
        let json = br#"{"expires":"2026-01-01T11:00:00+00:00"}"#;
        let mut h = tar::Header::new_gnu();
        h.set_size(json.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, LEASE_FILE, &json[..]).unwrap();
        assert_eq!(renewal_in(&b.into_inner().unwrap()), Some(at("2026-01-01T11:00:00Z")));
        assert_eq!(renewal_in(b"not a tar"), None);
    }
}
