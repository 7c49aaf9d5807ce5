//! The deploy lock of a project: a never-started container named `PROJECT-slipway-deploy-lock`.
//! Container names are unique per engine, so creating it is an atomic test-and-set visible to
//! every operator machine. Its labels say who holds it (user@host, pid, since). A lock is stale
//! when its holder runs on this host and its process is gone, or when it is older than the
//! stale age; a stale lock is reported and taken over.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptions, ListImagesOptions};
use bollard::Docker;
use chrono::{DateTime, Utc};

use super::engine;
use super::error::DeployError;
use super::event::DeployEvent;
use super::labels;
use super::release::{host_name, who};
use crate::events::{Event, Observer};

/// A held lock; `release()` it when done.
#[derive(Debug)]
pub struct DeployLock {
    docker: Docker,
    id: String,
}

impl DeployLock {
    /// Take the lock of `project`, waiting up to `wait` for another holder; `image` is any image
    /// present in the engine (the container is never started).
    pub async fn acquire(
        docker: &Docker,
        project: &str,
        wait: Duration,
        stale_after: Duration,
        observer: &dyn Observer,
    ) -> Result<Self, DeployError> {
        let name = labels::lock_name(project);
        let deadline = tokio::time::Instant::now() + wait;
        let mut announced = false;
        let mut vanished = 0;
        loop {
            let image = any_image(docker).await?;
            let labels = HashMap::from([
                (labels::LOCK.to_string(), project.to_string()),
                (labels::LOCK_HOLDER.to_string(), format!("{} pid={}", who(), std::process::id())),
                (labels::LOCK_HOST.to_string(), host_name()),
                (labels::LOCK_PID.to_string(), std::process::id().to_string()),
                (labels::LOCK_SINCE.to_string(), Utc::now().to_rfc3339()),
            ]);
            let body = ContainerCreateBody {
                image: Some(image),
                labels: Some(labels),
                cmd: Some(vec!["slipway-deploy-lock".into()]),
                ..Default::default()
            };
            let opts = CreateContainerOptions { name: Some(name.clone()), ..Default::default() };
            match docker.create_container(Some(opts), body).await {
                Ok(r) => return Ok(Self { docker: docker.clone(), id: r.id }),
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {}
                // The image picked was removed meanwhile (shared engine): pick another.
                Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) if vanished < 5 => {
                    vanished += 1;
                    continue;
                }
                Err(e) => return Err(DeployError::engine("create deploy lock", &name, e)),
            }
            let Ok(held) = docker.inspect_container(&name, None).await else { continue };
            let l = held.config.and_then(|c| c.labels).unwrap_or_default();
            let holder = l.get(labels::LOCK_HOLDER).cloned().unwrap_or_else(|| "unknown".into());
            let since = l.get(labels::LOCK_SINCE).cloned().unwrap_or_default();
            if let Some(reason) = stale(&l, stale_after) {
                observer.event(&Event::Deploy(DeployEvent::StaleLock { holder: holder.clone(), reason }));
                engine::remove(docker, &name).await?;
                continue;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(DeployError::Locked { project: project.to_string(), holder, since });
            }
            if !announced {
                observer.event(&Event::Deploy(DeployEvent::LockWaiting { holder }));
                announced = true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Give the lock back.
    pub async fn release(self) -> Result<(), DeployError> {
        engine::remove(&self.docker, &self.id).await
    }
}

/// Why a lock is stale, when it is.
fn stale(l: &HashMap<String, String>, stale_after: Duration) -> Option<String> {
    let since = l.get(labels::LOCK_SINCE).and_then(|s| DateTime::parse_from_rfc3339(s).ok());
    if let Some(since) = since {
        let age = Utc::now().signed_duration_since(since).to_std().unwrap_or_default();
        if age > stale_after {
            return Some(format!("held for {}s, longer than {}s", age.as_secs(), stale_after.as_secs()));
        }
    }
    let same_host = l.get(labels::LOCK_HOST).is_some_and(|h| *h == host_name());
    let pid = l.get(labels::LOCK_PID).and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) if same_host && !std::path::Path::new(&format!("/proc/{pid}")).exists() => {
            Some(format!("its process {pid} on this host is gone"))
        }
        _ => None,
    }
}

/// Any image in the engine, for the never-started lock container.
async fn any_image(docker: &Docker) -> Result<String, DeployError> {
    let images = docker
        .list_images(Some(ListImagesOptions { all: false, ..Default::default() }))
        .await
        .map_err(|e| DeployError::engine("list images", "for the deploy lock", e))?;
    images.into_iter().map(|i| i.id).min().ok_or_else(|| DeployError::Record {
        project: String::new(),
        reason: "the engine has no image at all to hold the deploy lock; pull one first".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(host: &str, pid: u32, age: Duration) -> HashMap<String, String> {
        let since = Utc::now() - chrono::Duration::from_std(age).unwrap();
        HashMap::from([
            (labels::LOCK_HOST.to_string(), host.to_string()),
            (labels::LOCK_PID.to_string(), pid.to_string()),
            (labels::LOCK_SINCE.to_string(), since.to_rfc3339()),
        ])
    }

    #[test]
    fn stale_when_holder_gone_or_too_old() {
        let hour = Duration::from_secs(3600);
        let me = std::process::id();
        assert_eq!(stale(&labels(&host_name(), me, Duration::ZERO), hour), None);
        // A pid far above pid_max on this host: gone.
        assert!(stale(&labels(&host_name(), 999_999_999, Duration::ZERO), hour).is_some());
        // Another host's holder is not judged by pid.
        assert_eq!(stale(&labels("elsewhere", 999_999_999, Duration::ZERO), hour), None);
        assert!(stale(&labels("elsewhere", me, Duration::from_secs(7200)), hour).is_some());
    }
}
