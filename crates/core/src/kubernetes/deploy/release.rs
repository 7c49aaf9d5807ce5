//! Applying one release's objects to a namespace, in order: configuration, storage and Services
//! first, then each workload in dependency order (a Job applied and awaited until it succeeds, a
//! Deployment applied and its rollout awaited on kubectl's conditions), then the routing objects.
//! Every object carries the release's label. The same order is the plan's (`steps`).

use std::time::Duration;

use super::super::error::KubernetesError;
use super::super::metadata::RELEASE_LABEL;
use super::super::render::Manifest;
use super::cluster::Cluster;
use crate::deploy::{DeployEvent, Halt, Halted, Step};
use crate::events::{Event, Observer};

/// Bounds of a run.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// One Job.
    pub job: Duration,
    /// Added to a Deployment's `progressDeadlineSeconds`.
    pub rollout_margin: Duration,
}

/// Where an object falls in the order: 0 configuration, storage, Services; 1 workloads; 2 routing.
fn pass(kind: &str) -> u8 {
    match kind {
        "Job" | "Deployment" | "StatefulSet" => 1,
        "Ingress" | "IngressRoute" => 2,
        _ => 0,
    }
}

/// The objects in the order they are applied (stable within a pass: render order is dependency
/// order).
pub fn apply_order(manifests: &[Manifest]) -> Vec<&Manifest> {
    let mut out: Vec<&Manifest> = manifests.iter().collect();
    out.sort_by_key(|m| pass(&m.kind));
    out
}

fn awaited(kind: &str) -> bool {
    matches!(kind, "Job" | "Deployment")
}

/// The plan's steps for applying `manifests`.
pub fn steps(manifests: &[Manifest]) -> Vec<Step> {
    let mut out = Vec::new();
    for m in apply_order(manifests) {
        out.push(Step::ApplyObject { kind: m.kind.clone(), name: m.name.clone() });
        if awaited(&m.kind) {
            out.push(Step::AwaitRollout { kind: m.kind.clone(), name: m.name.clone() });
        }
    }
    out
}

/// Why a run stopped: the object (its compose service when it has one) and the error.
#[derive(Debug)]
pub struct Stopped {
    /// `apply Deployment web`, `wait for Job migrate-1a2b`.
    pub step: String,
    /// The compose service, when the object is a service's.
    pub service: String,
    /// The cause.
    pub error: KubernetesError,
    /// The caller cancelled it, or the lock's lease was lost (`None`: the step failed).
    pub halted: Option<Halted>,
}

fn say(observer: &dyn Observer, text: String) {
    observer.event(&Event::Deploy(DeployEvent::Message { text }));
}

/// Apply `manifests` as release `release` and await each workload, stopping at the first failure
/// or when `halt` says so (a cancellation, a lost lease).
pub async fn run(
    cluster: &Cluster,
    manifests: &[Manifest],
    release: u64,
    bounds: Bounds,
    observer: &dyn Observer,
    halt: &Halt,
) -> Result<(), Stopped> {
    for m in apply_order(manifests) {
        let service = m.service.clone().unwrap_or_default();
        let stop = |step: String, error: KubernetesError, halted: Option<Halted>| Stopped {
            step,
            service: service.clone(),
            error,
            halted,
        };
        let apply_step = format!("apply {} {}", m.kind, m.name);
        if let Some(h) = halt.now() {
            return Err(stop(apply_step.clone(), halted(h, &apply_step), Some(h)));
        }
        let mut m = m.clone();
        m.body["metadata"]["labels"][RELEASE_LABEL] = serde_json::Value::String(release.to_string());
        say(observer, apply_step.clone());
        cluster.apply(&m).await.map_err(|e| stop(apply_step.clone(), e, None))?;
        if !awaited(&m.kind) {
            continue;
        }
        let wait_step = Step::AwaitRollout { kind: m.kind.clone(), name: m.name.clone() }.describe();
        let wait = async {
            if m.kind == "Job" {
                let owner = if service.is_empty() { m.name.clone() } else { service.clone() };
                cluster.await_job(&m.name, &owner, bounds.job, observer).await
            } else {
                let deadline = m.body["spec"]["progressDeadlineSeconds"].as_u64().unwrap_or(600);
                let bound = Duration::from_secs(deadline) + bounds.rollout_margin;
                cluster.await_deployment(&m.name, bound, observer).await
            }
        };
        tokio::select! {
            r = wait => r.map_err(|e| stop(wait_step.clone(), e, None))?,
            h = halt.wait() => return Err(stop(wait_step.clone(), halted(h, &wait_step), Some(h))),
        }
    }
    Ok(())
}

fn halted(why: Halted, during: &str) -> KubernetesError {
    match why {
        Halted::Cancelled => KubernetesError::Cancelled { during: during.to_string() },
        Halted::LeaseLost => KubernetesError::LeaseLost { during: during.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_first_then_workloads_in_render_order_then_routing() {
        let m = |kind: &str, name: &str| Manifest::new(kind.into(), name.into(), None, serde_json::json!({}));
        let all = vec![
            m("Ingress", "web"),
            m("Job", "migrate-1"),
            m("Deployment", "web"),
            m("Secret", "web-env"),
            m("Service", "web"),
        ];
        let steps: Vec<String> = steps(&all).iter().map(Step::describe).collect();
        assert_eq!(
            steps,
            [
                "apply Secret web-env",
                "apply Service web",
                "apply Job migrate-1",
                "wait for Job migrate-1 to succeed",
                "apply Deployment web",
                "wait for Deployment web to roll out",
                "apply Ingress web",
            ]
        );
    }
}
