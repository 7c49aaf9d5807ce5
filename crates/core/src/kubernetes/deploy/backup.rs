//! The environment's pre-change backup on a cluster: the deploy room's [`BeforeChange`] hook
//! (the plan's `Backup` step), taken when the policy asks for it (`production`) exactly as on
//! Docker. Every PostgreSQL service of the stack (the backup room's `postgres_services`) whose
//! Deployment is running is dumped with `pg_dump -Fc` by a Job that runs the database's own image
//! and environment (its ConfigMap and Secret, so no credential is written here), into the
//! project's backup claim `slipway-<project>-backups`. The Job is awaited; a failed backup
//! stops the deploy before anything changed.

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use serde_json::json;

use super::super::metadata::{label_value, MANAGED_BY, PROJECT_LABEL};
use super::super::names::{dns_label, suffixed};
use super::super::render::Manifest;
use super::super::DEFAULT_VOLUME_SIZE;
use super::cluster::Cluster;
use crate::backup::{postgres_services, BackupError};
use crate::deploy::{BeforeChange, DeployError, DeployEvent, DesiredRelease, Plan};
use crate::events::{Event, Observer};

/// Dumps the stack's running PostgreSQL databases before a release changes anything.
pub struct ClusterBackup {
    cluster: Cluster,
    job_timeout: std::time::Duration,
}

impl ClusterBackup {
    /// Backups on `cluster`, each Job bounded by `job_timeout`.
    pub fn new(cluster: Cluster, job_timeout: std::time::Duration) -> Self {
        Self { cluster, job_timeout }
    }
}

/// The backup claim of a project.
pub fn claim_name(project: &str) -> String {
    suffixed(&format!("slipway-{}", dns_label(project)), "backups")
}

/// The claim and the Job that dump `service` for release `release`, from the container of the
/// database's running Deployment (image, env, envFrom): `pg_dump` of `$POSTGRES_DB` as
/// `$POSTGRES_USER` over the service's ClusterIP Service, into `/backups/<service>-r<N>-<when>.dump`.
pub fn backup_objects(project: &str, service: &str, release: u64, running: &Deployment) -> (Manifest, Manifest) {
    let labels = json!({ PROJECT_LABEL: label_value(project), "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/component": "backup" });
    let claim = claim_name(project);
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": claim, "labels": labels},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": DEFAULT_VOLUME_SIZE}}}});
    let container = running
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .cloned()
        .unwrap_or_default();
    let when = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let host = dns_label(service);
    let file = format!("/backups/{host}-r{release}-{when}.dump");
    let script = format!(
        "set -e; export PGPASSWORD=\"$POSTGRES_PASSWORD\"; u=\"${{POSTGRES_USER:-postgres}}\"; \
         pg_dump -h {host} -U \"$u\" -Fc \"${{POSTGRES_DB:-$u}}\" > {file}.part && mv {file}.part {file}; echo {file}"
    );
    let name = suffixed(&format!("{host}-backup"), &format!("r{release}"));
    let job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 86400, "template": {
            "metadata": {"labels": labels},
            "spec": {"restartPolicy": "Never", "containers": [{
                "name": "pg-dump", "image": container.image, "command": ["sh", "-c", script],
                "env": container.env, "envFrom": container.env_from,
                "volumeMounts": [{"name": "backups", "mountPath": "/backups"}]}],
            "volumes": [{"name": "backups", "persistentVolumeClaim": {"claimName": claim}}]}}}});
    let strip_nulls = |mut v: serde_json::Value| {
        if let Some(c) = v.pointer_mut("/spec/template/spec/containers/0").and_then(|c| c.as_object_mut()) {
            c.retain(|_, x| !x.is_null());
        }
        v
    };
    (
        Manifest::new("PersistentVolumeClaim".into(), claim, None, pvc),
        Manifest::new("Job".into(), name, Some(service.to_string()), strip_nulls(job)),
    )
}

fn say(observer: &dyn Observer, text: String) {
    observer.event(&Event::Deploy(DeployEvent::Message { text }));
}

#[async_trait]
impl BeforeChange for ClusterBackup {
    async fn before_change(
        &self,
        desired: &DesiredRelease,
        _plan: &Plan,
        observer: &dyn Observer,
    ) -> Result<(), DeployError> {
        // Databases are recognised by the image as written (`postgres:16`), not by its pin.
        let stack = desired.written_stack();
        let project = desired.project().to_string();
        let failed = |job: String, reason: String| DeployError::Backup {
            project: project.clone(),
            source: BackupError::Invalid(super::super::KubernetesError::BackupFailed { job, reason }.to_string()),
        };
        let deployments: Api<Deployment> = Api::namespaced(self.cluster.client().clone(), self.cluster.namespace());
        for service in postgres_services(&stack) {
            let name = dns_label(&service);
            let running = match deployments.get_opt(&name).await {
                Ok(Some(d)) if d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0) > 0 => d,
                Ok(_) => {
                    say(observer, format!("backup of {service}: not running yet, nothing to back up"));
                    continue;
                }
                Err(e) => return Err(failed(format!("of {service}"), format!("read Deployment {name}: {e}"))),
            };
            let (pvc, job) = backup_objects(&project, &service, desired.id.0, &running);
            for m in [&pvc, &job] {
                self.cluster.apply(m).await.map_err(|e| failed(job.name.clone(), e.to_string()))?;
            }
            say(observer, format!("backup of {service}: Job {} (claim {})", job.name, pvc.name));
            self.cluster
                .await_job(&job.name, &service, self.job_timeout, observer)
                .await
                .map_err(|e| failed(job.name.clone(), e.to_string()))?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "PostgreSQL databases (pg_dump Jobs into the claim slipway-<project>-backups in namespace {})",
            self.cluster.namespace()
        )
    }
}
