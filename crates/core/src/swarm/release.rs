//! One release on a Swarm, from specs to record: one-offs as jobs before the level that needs
//! them, then each dependency level's services concurrently, health-gated; any failure, a
//! cancellation or a lost lease undoes the release as a whole; the record is written with the
//! final outcome either way.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bollard::models::ServiceSpec;
use bollard::Docker;

use super::error::{RolloutFailure, SwarmError};
use super::job::{run_job, JobEnd};
use super::records::{self, SwarmRecord};
use super::registry_auth::{image_of, RegistryAuth};
use super::rollout::{self, Undo, Waited};
use crate::deploy::{DeployEvent, Release, ReleaseOutcome};
use crate::deploy::{Halt, Halted};
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

/// Why a release stopped before its end.
enum Stopped {
    /// A step failed.
    Failed(SwarmError),
    /// It was cancelled or lost its lease.
    Halted(Halted),
}

/// Run the release: `levels` (compose names by dependency depth), `specs` and `jobs` by compose
/// name, `auth` sent with each, watching `halt` and telling `observer`. Writes `record` (outcome set here, sealed) and returns its
/// release (no environment value in it), or the failure after undoing. `halt` stops it between
/// or during steps (a cancellation, a lost lease): what was changed is undone as for a failure
/// and the release is recorded as cancelled (or failed, for a lost lease).
#[allow(clippy::too_many_arguments)] // the release's inputs, each used once; a struct would only rename them
pub async fn run(
    docker: &Docker,
    mut record: SwarmRecord,
    levels: &[Vec<String>],
    jobs: BTreeMap<String, ServiceSpec>,
    bounds: Bounds,
    auth: &RegistryAuth,
    halt: &Halt,
    observer: &dyn Observer,
) -> Result<Release, SwarmError> {
    let id = record.release.id.to_string();
    let mut undos: Vec<Undo> = Vec::new();
    let mut failure: Option<(String, String, Stopped)> = None;
    'levels: for level in levels {
        for name in level.iter().filter(|n| jobs.contains_key(*n)) {
            if let Some(h) = halt.now() {
                failure = Some((name.clone(), "run one-off".into(), Stopped::Halted(h)));
                break 'levels;
            }
            say(observer, format!("job {name}: running as a replicated-job"));
            let outcome = run_job(docker, jobs[name].clone(), auth.for_spec(&jobs[name]), bounds.job, halt).await;
            match outcome {
                Ok(JobEnd::Exited(o)) => {
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
                        failure = Some((name.clone(), "run one-off".into(), Stopped::Failed(e)));
                        break 'levels;
                    }
                }
                Ok(JobEnd::Halted(h)) => {
                    failure = Some((name.clone(), "run one-off".into(), Stopped::Halted(h)));
                    break 'levels;
                }
                Err(e) => {
                    failure = Some((name.clone(), "run one-off".into(), Stopped::Failed(e)));
                    break 'levels;
                }
            }
        }
        let services: Vec<(&String, &ServiceSpec)> =
            level.iter().filter_map(|n| record.specs.get(n).map(|s| (n, s))).collect();
        if let (Some(h), Some((name, _))) = (halt.now(), services.first()) {
            failure = Some((name.to_string(), "update service".into(), Stopped::Halted(h)));
            break;
        }
        let results = futures::future::join_all(services.iter().map(|(_, spec)| async move {
            // The send is one request (never dropped half-way); the wait stops on `halt`.
            let sent = rollout::send(docker, spec, auth.for_spec(spec)).await?;
            let Some(sent) = sent else { return Ok((None, Waited::Done)) };
            let waited = rollout::wait(docker, &sent, &image_of(spec), bounds.update, bounds.settle, halt).await;
            Ok::<_, SwarmError>((Some(sent.undo), waited?))
        }))
        .await;
        for ((name, _), result) in services.iter().zip(results) {
            match result {
                Ok((undo, waited)) => {
                    undos.extend(undo);
                    match waited {
                        Waited::Done => say(observer, format!("service {name}: update completed")),
                        Waited::Halted(h) if failure.is_none() => {
                            failure = Some((name.to_string(), "update service".into(), Stopped::Halted(h)));
                        }
                        other if failure.is_none() => {
                            let e = to_error(&id, name, other, bounds.update.as_secs());
                            failure = e.map(|e| (name.to_string(), "update service".to_string(), Stopped::Failed(e)));
                        }
                        _ => {}
                    }
                }
                Err(e) if failure.is_none() => {
                    failure = Some((name.to_string(), "update service".into(), Stopped::Failed(e)))
                }
                Err(_) => {}
            }
        }
        if failure.is_some() {
            break;
        }
    }
    let Some((service, step, stopped)) = failure else {
        let keep: BTreeSet<String> = record.specs.values().filter_map(|s| s.name.clone()).collect();
        for stale in rollout::stale_services(docker, &record.release.project, &keep).await? {
            say(observer, format!("service {stale}: no longer in the stack, removed"));
            docker.delete_service(&stale).await.map_err(|e| SwarmError::engine("remove service", &stale, e))?;
        }
        records::write(docker, &record).await?;
        return Ok(records::sealed(&record).release);
    };
    let why = match &stopped {
        Stopped::Failed(_) => format!("release {id} failed at {service}"),
        Stopped::Halted(Halted::Cancelled) => format!("release {id} cancelled during {step} of {service}"),
        Stopped::Halted(Halted::LeaseLost) => format!("release {id} stopped at {service}: {LEASE_LOST}"),
    };
    if let Stopped::Halted(Halted::Cancelled) = stopped {
        observer.event(&Event::Deploy(DeployEvent::Cancelled { step: format!("{step} {service}") }));
    }
    say(observer, format!("{why}; putting the previous release back"));
    // The undo runs to its end (each restore bounded), whatever halted the release.
    let problems = rollout::undo_all(docker, undos, bounds.update).await;
    let undo = if problems.is_empty() {
        "the previous release was put back in service".to_string()
    } else {
        format!("undo incomplete: {}", problems.join("; "))
    };
    let (error, outcome) = match stopped {
        Stopped::Failed(error) => {
            let nodes = super::status::node_addresses(docker).await.unwrap_or_default();
            let error = with_undo(error, undo, &nodes);
            let outcome = ReleaseOutcome::Failed { service, step, reason: error.to_string() };
            (error, outcome)
        }
        Stopped::Halted(Halted::Cancelled) => (
            SwarmError::Cancelled { release: id, service: service.clone(), step: step.clone(), undo },
            ReleaseOutcome::Cancelled { service, step },
        ),
        Stopped::Halted(Halted::LeaseLost) => (
            SwarmError::LeaseLost { release: id, service: service.clone(), step: step.clone(), undo },
            ReleaseOutcome::Failed { service, step, reason: LEASE_LOST.into() },
        ),
    };
    record.release.outcome = outcome;
    records::write(docker, &record).await?;
    Err(error)
}

/// Why a release stopped when its lease was lost (recorded on it).
const LEASE_LOST: &str = "the deploy lock's lease could not be renewed";

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
        Waited::Halted(_) => return None,
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
