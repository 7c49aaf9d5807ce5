//! Applying a release's service specs on a Swarm: dependency levels in order, the services of
//! one level concurrently; each create or update awaited (bounded) until Swarm's update reached
//! `completed` with every task of the new spec running. A failure undoes the whole release:
//! Swarm's own rollback is awaited, every service already changed gets its previous spec back
//! and new services are removed, so the old release keeps serving.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use bollard::models::{ServiceSpec, Task};
use bollard::query_parameters::{InspectServiceOptions, ListTasksOptions, UpdateServiceOptions};
use bollard::Docker;

use super::error::SwarmError;
use super::progress::{failing_task, progress, Progress};
use crate::deploy::labels;
use crate::deploy::{Halt, Halted};
use crate::stack::StackSpec;

/// Services grouped by dependency depth: level 0 depends on nothing in the stack, level n on
/// services of levels below n. Within a level, names are sorted. A cycle is an error.
pub fn levels(stack: &StackSpec) -> Result<Vec<Vec<String>>, crate::deploy::DeployError> {
    let order = crate::deploy::dependency_order(stack)?;
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    for name in &order {
        let d = stack.services[name]
            .depends_on
            .keys()
            .filter_map(|dep| depth.get(dep.as_str()))
            .map(|d| d + 1)
            .max()
            .unwrap_or(0);
        depth.insert(name, d);
    }
    let mut out: Vec<Vec<String>> = Vec::new();
    for (name, d) in depth {
        if out.len() <= d {
            out.resize(d + 1, Vec::new());
        }
        out[d].push(name.to_string());
    }
    Ok(out)
}

/// What to do to put one service back.
#[derive(Debug, Clone)]
pub enum Undo {
    /// It did not exist: remove it.
    Remove(String),
    /// It ran this spec before.
    Restore(String, Box<ServiceSpec>),
}

/// The config hash slipway keeps on a service: sha256 of its spec without slipway's release label.
pub fn spec_hash(spec: &ServiceSpec) -> String {
    let mut s = spec.clone();
    if let Some(l) = s.labels.as_mut() {
        l.remove(labels::RELEASE);
        l.remove(labels::CONFIG_HASH);
    }
    let value = serde_json::to_value(&s).unwrap_or_default();
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut h, crate::deploy::canonical_json(&value).as_bytes());
    hex::encode(sha2::Digest::finalize(h))
}

/// One service update as sent.
pub struct Sent {
    /// Swarm name.
    pub name: String,
    /// Undo.
    pub undo: Undo,
    /// The update status start before the change.
    before: Option<bollard::models::BollardDate>,
    /// When it was sent.
    at: tokio::time::Instant,
}

/// Create or update `spec` (skipped when its hash equals the running one's): `None` = unchanged.
pub async fn send(
    docker: &Docker,
    spec: &ServiceSpec,
    auth: Option<bollard::auth::DockerCredentials>,
) -> Result<Option<Sent>, SwarmError> {
    let name = spec.name.clone().unwrap_or_default();
    let hash = spec.labels.as_ref().and_then(|l| l.get(labels::CONFIG_HASH)).cloned();
    match docker.inspect_service(&name, None::<InspectServiceOptions>).await {
        Ok(current) => {
            let cur_spec = current.spec.clone().unwrap_or_default();
            if hash.is_some() && cur_spec.labels.as_ref().and_then(|l| l.get(labels::CONFIG_HASH)) == hash.as_ref() {
                return Ok(None);
            }
            let before = current.update_status.as_ref().and_then(|u| u.started_at.clone());
            let version = current.version.and_then(|v| v.index).unwrap_or(0);
            let opts = UpdateServiceOptions { version: version as i32, ..Default::default() };
            docker
                .update_service(&name, spec.clone(), opts, auth)
                .await
                .map_err(|e| SwarmError::engine("update service", &name, e))?;
            let undo = Undo::Restore(name.clone(), Box::new(cur_spec));
            Ok(Some(Sent { name, undo, before, at: tokio::time::Instant::now() }))
        }
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
            docker
                .create_service(spec.clone(), auth)
                .await
                .map_err(|e| SwarmError::engine("create service", &name, e))?;
            Ok(Some(Sent {
                name: name.clone(),
                undo: Undo::Remove(name),
                before: None,
                at: tokio::time::Instant::now(),
            }))
        }
        Err(e) => Err(SwarmError::engine("inspect service", &name, e)),
    }
}

async fn tasks_of(docker: &Docker, name: &str) -> Result<Vec<Task>, SwarmError> {
    let filters = HashMap::from([("service".to_string(), vec![name.to_string()])]);
    docker
        .list_tasks(Some(ListTasksOptions { filters: Some(filters) }))
        .await
        .map_err(|e| SwarmError::engine("list tasks of", name, e))
}

/// How a wait ended.
#[derive(Debug)]
pub enum Waited {
    /// Completed.
    Done,
    /// Swarm paused or rolled back: the state reached, Swarm's message, failing task and node.
    Failed(String, Option<String>, Option<(String, Option<String>)>),
    /// The bound ran out: the last pending reason and failing task.
    TimedOut(String, Option<(String, Option<String>)>),
    /// The release was cancelled or lost its lease before the update finished.
    Halted(Halted),
}

/// Wait (bounded by `timeout`) for `sent` to finish, or until `halt`. When Swarm starts rolling
/// back, its rollback is awaited too (within the same bound), so the old version serves on return.
pub async fn wait(
    docker: &Docker,
    sent: &Sent,
    image: &str,
    timeout: Duration,
    settle: Duration,
    halt: &Halt,
) -> Result<Waited, SwarmError> {
    tokio::select! {
        biased;
        h = halt.wait() => Ok(Waited::Halted(h)),
        r = wait_done(docker, sent, image, timeout, settle) => r,
    }
}

async fn wait_done(
    docker: &Docker,
    sent: &Sent,
    image: &str,
    timeout: Duration,
    settle: Duration,
) -> Result<Waited, SwarmError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pending = String::from("nothing yet");
    let mut failed: Option<(String, Option<String>)> = None;
    loop {
        let svc = docker
            .inspect_service(&sent.name, None::<InspectServiceOptions>)
            .await
            .map_err(|e| SwarmError::engine("inspect service", &sent.name, e))?;
        let tasks = tasks_of(docker, &sent.name).await?;
        match progress(&svc, sent.before.as_ref(), &tasks, image, sent.at.elapsed(), settle) {
            Progress::Done => return Ok(Waited::Done),
            Progress::Pending(why) => pending = why,
            Progress::Failed { state, message } => {
                if failed.is_none() {
                    failed = Some((state.clone(), message.clone()));
                }
                let settled = state != "rollback_started";
                if settled || tokio::time::Instant::now() >= deadline {
                    let (first, msg) = failed.unwrap_or((state, message));
                    return Ok(Waited::Failed(first, msg, failing_task(&tasks)));
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Waited::TimedOut(pending, failing_task(&tasks)));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Put back what `undos` record, newest first; returns what could not be undone.
pub async fn undo_all(docker: &Docker, undos: Vec<Undo>, timeout: Duration) -> Vec<String> {
    let mut problems = Vec::new();
    for undo in undos.into_iter().rev() {
        match undo {
            Undo::Remove(name) => {
                if let Err(e) = docker.delete_service(&name).await {
                    problems.push(format!("remove {name}: {e}"));
                }
            }
            Undo::Restore(name, spec) => {
                let image = spec
                    .task_template
                    .as_ref()
                    .and_then(|t| t.container_spec.as_ref())
                    .and_then(|c| c.image.clone())
                    .unwrap_or_default();
                // No credentials: the Swarm keeps those the service was last sent with.
                let sent = match send(docker, &spec, None).await {
                    Ok(s) => s,
                    Err(e) => {
                        problems.push(format!("restore {name}: {e}"));
                        continue;
                    }
                };
                if let Some(sent) = sent {
                    // The undo runs to its end (bounded): nothing halts it.
                    match wait(docker, &sent, &image, timeout, Duration::from_secs(3), &Halt::default()).await {
                        Ok(Waited::Done) => {}
                        Ok(other) => problems.push(format!("restore {name}: {other:?}")),
                        Err(e) => problems.push(format!("restore {name}: {e}")),
                    }
                }
            }
        }
    }
    problems
}

/// Services of `project` on the Swarm that `keep` does not name (removed after a release).
pub async fn stale_services(
    docker: &Docker,
    project: &str,
    keep: &BTreeSet<String>,
) -> Result<Vec<String>, SwarmError> {
    Ok(running_specs(docker, project).await?.into_keys().filter(|n| !keep.contains(n)).collect())
}

/// The specs of `project`'s services as the Swarm runs them now, by Swarm name.
pub async fn running_specs(docker: &Docker, project: &str) -> Result<BTreeMap<String, ServiceSpec>, SwarmError> {
    let filters = HashMap::from([("label".to_string(), vec![format!("{}={project}", labels::PROJECT)])]);
    let list = docker
        .list_services(Some(bollard::query_parameters::ListServicesOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .map_err(|e| SwarmError::engine("list services of", project, e))?;
    Ok(list.into_iter().filter_map(|s| s.spec).filter_map(|s| Some((s.name.clone()?, s))).collect())
}
