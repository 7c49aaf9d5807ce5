//! One release on a Swarm, from specs to record: one-offs as jobs before the level that needs
//! them, then each dependency level's services concurrently, health-gated; any failure undoes
//! the release as a whole; the record is written with the final outcome either way.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bollard::models::ServiceSpec;
use bollard::Docker;

use super::error::{RolloutFailure, SwarmError};
use super::job::run_job;
use super::records::{self, SwarmRecord};
use super::registry_auth::{image_of, RegistryAuth};
use super::rollout::{self, Undo, Waited};
use crate::deploy::{DeployEvent, Release, ReleaseOutcome};
use crate::events::{Event, Observer};

/// Bounds of a Swarm release.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Per service: create or update until `completed`.
    pub update: Duration,
    /// Per one-off job.
    pub job: Duration,
    /// How long a change may take to show up as a Swarm update.
    pub settle: Duration,
}

fn say(observer: &dyn Observer, text: String) {
    observer.event(&Event::Deploy(DeployEvent::Message { text }));
}

/// Run the release: `levels` (compose names by dependency depth), `specs` and `jobs` by compose
/// name, `auth` sent with each. Writes `record` (outcome set here, sealed) and returns its
/// release (no environment value in it), or the failure after undoing.
pub async fn run(
    docker: &Docker,
    mut record: SwarmRecord,
    levels: &[Vec<String>],
    jobs: BTreeMap<String, ServiceSpec>,
    bounds: Bounds,
    auth: &RegistryAuth,
    observer: &dyn Observer,
) -> Result<Release, SwarmError> {
    let id = record.release.id.to_string();
    let mut undos: Vec<Undo> = Vec::new();
    let mut failure: Option<(String, String, SwarmError)> = None;
    'levels: for level in levels {
        for name in level.iter().filter(|n| jobs.contains_key(*n)) {
            say(observer, format!("job {name}: running as a replicated-job"));
            let outcome = run_job(docker, jobs[name].clone(), auth.for_spec(&jobs[name]), bounds.job).await;
            match outcome {
                Ok(o) => {
                    observer.event(&Event::Deploy(DeployEvent::OneOffDone {
                        service: name.clone(),
                        exit_code: o.exit_code,
                        logs: o.logs.clone(),
                    }));
                    if o.exit_code != 0 {
                        let e = SwarmError::JobFailed {
                            release: id.clone(),
                            service: name.clone(),
                            exit_code: o.exit_code,
                            node: o.node,
                            logs: o.logs,
                        };
                        failure = Some((name.clone(), "run one-off".into(), e));
                        break 'levels;
                    }
                }
                Err(e) => {
                    failure = Some((name.clone(), "run one-off".into(), e));
                    break 'levels;
                }
            }
        }
        let services: Vec<(&String, &ServiceSpec)> =
            level.iter().filter_map(|n| record.specs.get(n).map(|s| (n, s))).collect();
        let results = futures::future::join_all(services.iter().map(|(name, spec)| async move {
            let sent = rollout::send(docker, spec, auth.for_spec(spec)).await?;
            let Some(sent) = sent else { return Ok((None, Waited::Done)) };
            let waited = rollout::wait(docker, &sent, &image_of(spec), bounds.update, bounds.settle).await;
            let _ = name;
            Ok::<_, SwarmError>((Some(sent.undo), waited?))
        }))
        .await;
        for ((name, _), result) in services.iter().zip(results) {
            match result {
                Ok((undo, waited)) => {
                    undos.extend(undo);
                    match waited {
                        Waited::Done => say(observer, format!("service {name}: update completed")),
                        other if failure.is_none() => {
                            let e = to_error(&id, name, other, bounds.update.as_secs());
                            failure = e.map(|e| (name.to_string(), "update service".to_string(), e));
                        }
                        _ => {}
                    }
                }
                Err(e) if failure.is_none() => failure = Some((name.to_string(), "update service".into(), e)),
                Err(_) => {}
            }
        }
        if failure.is_some() {
            break;
        }
    }
    let Some((service, step, error)) = failure else {
        let keep: BTreeSet<String> = record.specs.values().filter_map(|s| s.name.clone()).collect();
        for stale in rollout::stale_services(docker, &record.release.project, &keep).await? {
            say(observer, format!("service {stale}: no longer in the stack, removed"));
            docker.delete_service(&stale).await.map_err(|e| SwarmError::engine("remove service", &stale, e))?;
        }
        records::write(docker, &record).await?;
        return Ok(records::sealed(&record).release);
    };
    say(observer, format!("release {id} failed at {service}; putting the previous release back"));
    let problems = rollout::undo_all(docker, undos, bounds.update).await;
    let undo = if problems.is_empty() {
        "the previous release was put back in service".to_string()
    } else {
        format!("undo incomplete: {}", problems.join("; "))
    };
    let nodes = super::status::node_addresses(docker).await.unwrap_or_default();
    let error = with_undo(error, undo, &nodes);
    record.release.outcome = ReleaseOutcome::Failed { service, step, reason: error.to_string() };
    records::write(docker, &record).await?;
    Err(error)
}

fn to_error(release: &str, service: &str, waited: Waited, secs: u64) -> Option<SwarmError> {
    let failure = |state: String, message, task: Option<(String, Option<String>)>| {
        Box::new(RolloutFailure {
            release: release.into(),
            service: service.into(),
            state,
            message,
            task_error: task.as_ref().map(|t| t.0.clone()),
            node: task.and_then(|t| t.1),
            undo: String::new(),
        })
    };
    Some(match waited {
        Waited::Done => return None,
        Waited::Failed(state, message, task) => SwarmError::UpdateFailed(failure(state, message, task)),
        Waited::TimedOut(what, task) => {
            SwarmError::Timeout(failure(format!("update ({what}; bound {secs} s)"), None, task))
        }
    })
}

fn with_undo(mut e: SwarmError, text: String, nodes: &std::collections::HashMap<String, Option<String>>) -> SwarmError {
    if let SwarmError::UpdateFailed(f) | SwarmError::Timeout(f) = &mut e {
        f.undo = text;
        f.node = f.node.take().map(|id| match nodes.get(&id).cloned().flatten() {
            Some(addr) => format!("{id} ({addr})"),
            None => id,
        });
    }
    e
}
