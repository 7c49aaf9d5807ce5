//! Jobs: a one-off service (a prestart migration: another service waits for it with
//! `service_completed_successfully`, or `x-slipway.oneoff: true`) becomes a Job that runs once
//! (`restartPolicy: Never`, `backoffLimit` 0, or N for `restart: on-failure:N`). A Job's pod
//! template cannot change, so its name carries a hash of its spec: a new image is a new Job, the
//! same spec applied again is the same, finished, Job.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use sha2::{Digest, Sha256};

use super::error::KubernetesError;
use super::metadata::Meta;
use super::names::suffixed;
use crate::stack::ServiceSpec;

/// The Job of a one-off service.
pub fn job(meta: &Meta, svc: &ServiceSpec, template: PodTemplateSpec) -> Result<Job, KubernetesError> {
    let backoff = svc
        .restart
        .as_deref()
        .and_then(|r| r.strip_prefix("on-failure:"))
        .and_then(|n| n.parse::<i32>().ok())
        .unwrap_or(0);
    let spec = JobSpec { backoff_limit: Some(backoff), template, ..Default::default() };
    let bytes = serde_json::to_vec(&spec).map_err(|source| KubernetesError::Serialise {
        kind: "Job".into(),
        name: svc.name.clone(),
        source,
    })?;
    let hash = hex::encode(Sha256::digest(&bytes));
    let mut labels = meta.labels(Some(&svc.name), None);
    labels.insert(crate::deploy::labels::ONEOFF.to_string(), "true".into());
    Ok(Job { metadata: meta.object(&suffixed(&svc.name, &hash[..10]), labels), spec: Some(spec), ..Default::default() })
}
