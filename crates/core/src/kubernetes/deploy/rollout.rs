//! Rollout conditions as pure functions over typed objects, following kubectl's `rollout status`
//! (pkg/polymorphichelpers/rollout_status.go, `DeploymentStatusViewer`) check for check and in
//! its order: until the controller has observed the generation, wait; then a `Progressing`
//! condition with reason `ProgressDeadlineExceeded` is a failure; then wait while fewer than a
//! set `spec.replicas` are updated, while old replicas are left, and while updated replicas are
//! not all available. A Job
//! is done when it succeeded, failed when its `Failed` condition is true.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;

/// Where a rollout (or a Job) stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// Not there yet; the message says what is awaited (kubectl's wording).
    Waiting(String),
    /// Finished successfully.
    Done(String),
    /// Will not finish: the reason.
    Failed(String),
}

/// kubectl's Deployment rollout status.
pub fn deployment(d: &Deployment) -> Progress {
    let name = d.metadata.name.as_deref().unwrap_or("?");
    let generation = d.metadata.generation.unwrap_or(0);
    let Some(status) = &d.status else {
        return Progress::Waiting("waiting for the deployment spec update to be observed".into());
    };
    if generation > status.observed_generation.unwrap_or(0) {
        return Progress::Waiting("waiting for the deployment spec update to be observed".into());
    }
    let deadline = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
    if deadline {
        return Progress::Failed(format!("deployment {name} exceeded its progress deadline"));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    // As kubectl: only a set `spec.replicas` is compared (the API server always sets it).
    if let Some(want) = d.spec.as_ref().and_then(|s| s.replicas).filter(|w| updated < *w) {
        return Progress::Waiting(format!("{updated} out of {want} new replicas have been updated"));
    }
    if replicas > updated {
        return Progress::Waiting(format!("{} old replicas are pending termination", replicas - updated));
    }
    if available < updated {
        return Progress::Waiting(format!("{available} of {updated} updated replicas are available"));
    }
    Progress::Done(format!("deployment {name} successfully rolled out"))
}

/// A Job's state: succeeded, failed (with its condition's reason and message), or running.
pub fn job(j: &Job) -> Progress {
    let name = j.metadata.name.as_deref().unwrap_or("?");
    let Some(status) = &j.status else { return Progress::Waiting(format!("job {name} not started")) };
    let cond = |t: &str| status.conditions.iter().flatten().find(|c| c.type_ == t && c.status == "True");
    if let Some(c) = cond("Failed") {
        let why = [c.reason.as_deref(), c.message.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(": ");
        return Progress::Failed(format!("job {name} failed: {why}"));
    }
    let completions = j.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
    if cond("Complete").is_some() || status.succeeded.unwrap_or(0) >= completions {
        return Progress::Done(format!("job {name} completed"));
    }
    Progress::Waiting(format!(
        "job {name}: {} active, {} failed",
        status.active.unwrap_or(0),
        status.failed.unwrap_or(0)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(v: serde_json::Value) -> Deployment {
        serde_json::from_value(v).expect("deployment")
    }

    #[test]
    fn deployment_conditions_follow_kubectl() {
        let base = |status: serde_json::Value| {
            dep(
                serde_json::json!({"metadata": {"name": "web", "generation": 2}, "spec": {"replicas": 2, "selector": {}, "template": {}}, "status": status}),
            )
        };
        assert!(
            matches!(deployment(&base(serde_json::json!({"observedGeneration": 1}))), Progress::Waiting(m) if m.contains("observed"))
        );
        assert_eq!(
            deployment(&base(serde_json::json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1}))),
            Progress::Waiting("1 out of 2 new replicas have been updated".into())
        );
        assert_eq!(
            deployment(&base(serde_json::json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2}))),
            Progress::Waiting("1 old replicas are pending termination".into())
        );
        assert_eq!(
            deployment(&base(
                serde_json::json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1})
            )),
            Progress::Waiting("1 of 2 updated replicas are available".into())
        );
        assert!(matches!(
            deployment(&base(
                serde_json::json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2})
            )),
            Progress::Done(_)
        ));
        let stuck = base(serde_json::json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}));
        assert_eq!(deployment(&stuck), Progress::Failed("deployment web exceeded its progress deadline".into()));
        // The deadline is judged only once the controller observed the generation, as kubectl.
        let stale = dep(
            serde_json::json!({"metadata": {"name": "web", "generation": 3}, "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}}),
        );
        assert!(matches!(deployment(&stale), Progress::Waiting(m) if m.contains("observed")));
        // No spec.replicas: kubectl skips the updated count and judges old and available ones.
        let unset = dep(
            serde_json::json!({"metadata": {"name": "web", "generation": 1}, "spec": {"selector": {}, "template": {}},
            "status": {"observedGeneration": 1, "replicas": 0, "updatedReplicas": 0, "availableReplicas": 0}}),
        );
        assert!(matches!(deployment(&unset), Progress::Done(_)));
    }

    #[test]
    fn job_conditions() {
        let j = |status: serde_json::Value| -> Job {
            serde_json::from_value(
                serde_json::json!({"metadata": {"name": "migrate"}, "spec": {"template": {}}, "status": status}),
            )
            .expect("job")
        };
        assert!(matches!(job(&j(serde_json::json!({"active": 1}))), Progress::Waiting(_)));
        assert!(matches!(job(&j(serde_json::json!({"succeeded": 1}))), Progress::Done(_)));
        let failed = j(
            serde_json::json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}),
        );
        assert_eq!(
            job(&failed),
            Progress::Failed(
                "job migrate failed: BackoffLimitExceeded: Job has reached the specified backoff limit".into()
            )
        );
    }
}
