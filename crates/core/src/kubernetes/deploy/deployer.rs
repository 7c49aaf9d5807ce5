//! `KubernetesDeployer`: one release across all services of a stack on one namespace. The
//! environment's policy (pins) is checked first, as on Docker; the project's Lease is taken;
//! Secrets, ConfigMaps, PVCs and Services are applied, then each workload in dependency order
//! (a Job is applied and awaited, a Deployment applied and its rollout awaited), then the
//! routing objects. A failure re-applies the previous release's manifests and awaits them. Every
//! release, good or failed, is recorded as a Secret.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams};

use super::super::error::KubernetesError;
use super::super::metadata::{label_value, PROJECT_LABEL, RELEASE_LABEL};
use super::super::render::{render, Manifest, RenderOptions};
use super::cluster::Cluster;
use super::lock::DeployLease;
use super::records::{self, KubeRelease, Record};
use crate::deploy::{check_policy, DeployEvent, DeployOptions};
use crate::events::{Event, Observer};
use crate::stack::StackSpec;

/// Bounds of a Kubernetes deploy.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KubeDeployOptions {
    /// How long one Job may run (default 10 min).
    pub job_timeout: Duration,
    /// Added to a Deployment's `progressDeadlineSeconds` to bound its wait (default 30 s).
    pub rollout_margin: Duration,
    /// Lease validity (default 15 min).
    pub lease_ttl: Duration,
}

impl Default for KubeDeployOptions {
    fn default() -> Self {
        KubeDeployOptions {
            job_timeout: Duration::from_secs(600),
            rollout_margin: Duration::from_secs(30),
            lease_ttl: Duration::from_secs(900),
        }
    }
}

impl KubeDeployOptions {
    /// Set the Job bound.
    pub fn job_timeout(mut self, d: Duration) -> Self {
        self.job_timeout = d;
        self
    }
    /// Set the rollout margin.
    pub fn rollout_margin(mut self, d: Duration) -> Self {
        self.rollout_margin = d;
        self
    }
}

/// A Deployment's state for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct WorkloadStatus {
    /// The Deployment.
    pub name: String,
    /// Desired replicas.
    pub replicas: i32,
    /// Ready replicas.
    pub ready: i32,
    /// Updated replicas.
    pub updated: i32,
    /// The release label on it.
    pub release: Option<String>,
}

/// Deploys stacks to one namespace.
pub struct KubernetesDeployer {
    cluster: Cluster,
    opts: KubeDeployOptions,
}

fn message(observer: &dyn Observer, text: String) {
    observer.event(&Event::Deploy(DeployEvent::Message { text }));
}

/// A YAML stream (as rendered) back into manifests.
pub fn parse_stream(project: &str, text: &str) -> Result<Vec<Manifest>, KubernetesError> {
    use serde::Deserialize;
    let bad = |reason: String| KubernetesError::BadRecord { project: project.to_string(), reason };
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let body = serde_json::Value::deserialize(doc).map_err(|e| bad(e.to_string()))?;
        if body.is_null() {
            continue;
        }
        let kind = body["kind"].as_str().ok_or_else(|| bad("an object without kind".into()))?.to_string();
        let name = body["metadata"]["name"].as_str().ok_or_else(|| bad("an object without name".into()))?.to_string();
        let service = body["metadata"]["labels"][crate::deploy::labels::SERVICE].as_str().map(String::from);
        out.push(Manifest::new(kind, name, service, body));
    }
    Ok(out)
}

impl KubernetesDeployer {
    /// A deployer for one namespace.
    pub fn new(cluster: Cluster, opts: KubeDeployOptions) -> Self {
        KubernetesDeployer { cluster, opts }
    }

    /// Apply manifests in order and await each workload.
    async fn run(&self, manifests: &[Manifest], release: u64, observer: &dyn Observer) -> Result<(), KubernetesError> {
        let rank = |k: &str| match k {
            "Job" | "Deployment" | "StatefulSet" => 1,
            "Ingress" | "IngressRoute" => 2,
            _ => 0,
        };
        for pass in 0..3 {
            for m in manifests.iter().filter(|m| rank(&m.kind) == pass) {
                let mut m = m.clone();
                m.body["metadata"]["labels"][RELEASE_LABEL] = serde_json::Value::String(release.to_string());
                message(observer, format!("apply {} {}", m.kind, m.name));
                self.cluster.apply(&m).await?;
                match m.kind.as_str() {
                    "Job" => {
                        let service = m.service.clone().unwrap_or_else(|| m.name.clone());
                        self.cluster.await_job(&m.name, &service, self.opts.job_timeout, observer).await?
                    }
                    "Deployment" => {
                        let deadline = m.body["spec"]["progressDeadlineSeconds"].as_u64().unwrap_or(600);
                        let bound = Duration::from_secs(deadline) + self.opts.rollout_margin;
                        self.cluster.await_deployment(&m.name, bound, observer).await?
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Deploy a stack: policy, render, lock, apply and await, undo on failure, record.
    pub async fn deploy(
        &self,
        stack: &StackSpec,
        opts: &DeployOptions,
        observer: &dyn Observer,
    ) -> crate::Result<KubeRelease> {
        check_policy(stack, &opts.env, opts.policy.as_ref())?;
        let ropts = RenderOptions::new().namespace(self.cluster.namespace()).environment(std::env::vars().collect());
        let rendered = render(stack, &ropts)?;
        let images = stack.services.iter().filter_map(|(n, s)| s.image.clone().map(|i| (n.clone(), i))).collect();
        let manifests = rendered.to_yaml();
        self.locked(&stack.name, opts.version.clone(), images, rendered.objects, manifests, observer).await
    }

    async fn locked(
        &self,
        project: &str,
        version: Option<String>,
        images: BTreeMap<String, String>,
        objects: Vec<Manifest>,
        manifests: String,
        observer: &dyn Observer,
    ) -> crate::Result<KubeRelease> {
        let lease = DeployLease::take(&self.cluster, project, &crate::deploy::who(), self.opts.lease_ttl).await?;
        let result = self.release(project, version, images, objects, manifests, observer).await;
        let released = lease.release().await;
        let release = result?;
        released?;
        Ok(release)
    }

    async fn release(
        &self,
        project: &str,
        version: Option<String>,
        images: BTreeMap<String, String>,
        objects: Vec<Manifest>,
        manifests: String,
        observer: &dyn Observer,
    ) -> crate::Result<KubeRelease> {
        let history = records::list(&self.cluster, project).await?;
        let id = history.last().map_or(1, |r| r.release.id + 1);
        let previous = history.iter().rev().find(|r| r.release.outcome == "succeeded").cloned();
        let mut release = KubeRelease {
            id,
            project: project.to_string(),
            version,
            images,
            who: crate::deploy::who(),
            when: chrono::Utc::now().to_rfc3339(),
            outcome: "succeeded".into(),
            parent: previous.as_ref().map(|p| p.release.id),
        };
        message(observer, format!("release {id} of {project}: {} object(s)", objects.len()));
        let outcome = self.run(&objects, id, observer).await;
        let Err(cause) = outcome else {
            records::write(&self.cluster, &Record { release: release.clone(), manifests }).await?;
            return Ok(release);
        };
        release.outcome = format!("failed: {cause}");
        records::write(&self.cluster, &Record { release: release.clone(), manifests }).await?;
        let Some(prev) = previous else { return Err(cause.into()) };
        message(observer, format!("release {id} failed; applying release {} again", prev.release.id));
        let prev_objects = parse_stream(project, &prev.manifests)?;
        let restored = self.run(&prev_objects, prev.release.id, observer).await.is_ok();
        Err(KubernetesError::RolledBack { cause: Box::new(cause), to: prev.release.id, restored }.into())
    }

    /// Apply a recorded release again (`to`, else the last successful one before the current).
    pub async fn rollback(
        &self,
        project: &str,
        to: Option<u64>,
        observer: &dyn Observer,
    ) -> crate::Result<KubeRelease> {
        let history = records::list(&self.cluster, project).await?;
        let ok: Vec<&Record> = history.iter().filter(|r| r.release.outcome == "succeeded").collect();
        let target = match to {
            Some(id) => ok.iter().find(|r| r.release.id == id).copied(),
            None => ok.len().checked_sub(2).map(|i| ok[i]),
        };
        let Some(target) = target else {
            let what = to.map_or("before the current one".to_string(), |id| format!("{id} that succeeded"));
            return Err(KubernetesError::NoRelease { project: project.to_string(), what }.into());
        };
        let objects = parse_stream(project, &target.manifests)?;
        let version = target.release.version.clone();
        self.locked(project, version, target.release.images.clone(), objects, target.manifests.clone(), observer).await
    }

    /// The project's releases, oldest first.
    pub async fn history(&self, project: &str) -> crate::Result<Vec<KubeRelease>> {
        Ok(records::list(&self.cluster, project).await?.into_iter().map(|r| r.release).collect())
    }

    /// Delete release records beyond the last `retain` (the last successful one is always kept)
    /// and the finished Jobs of older releases. Returns the names deleted.
    pub async fn prune(&self, project: &str, retain: usize) -> crate::Result<Vec<String>> {
        use k8s_openapi::api::batch::v1::Job;
        use k8s_openapi::api::core::v1::Secret;
        use kube::api::DeleteParams;
        let api_err = |action: String| move |source| KubernetesError::Api { action, source: Box::new(source) };
        let history = records::list(&self.cluster, project).await?;
        let current = history.iter().rev().find(|r| r.release.outcome == "succeeded").map(|r| r.release.id);
        let keep_from = history.len().saturating_sub(retain.max(1));
        let mut deleted = Vec::new();
        let secrets: Api<Secret> = Api::namespaced(self.cluster.client().clone(), self.cluster.namespace());
        for r in history.iter().take(keep_from).filter(|r| Some(r.release.id) != current) {
            let name = records::record_name(project, r.release.id);
            secrets.delete(&name, &DeleteParams::default()).await.map_err(api_err(format!("delete {name}")))?;
            deleted.push(name);
        }
        let jobs: Api<Job> = Api::namespaced(self.cluster.client().clone(), self.cluster.namespace());
        let selector = format!("{PROJECT_LABEL}={},{}=true", label_value(project), crate::deploy::labels::ONEOFF);
        let list = jobs.list(&ListParams::default().labels(&selector)).await.map_err(api_err("list Jobs".into()))?;
        for j in list.items {
            let release =
                j.metadata.labels.as_ref().and_then(|l| l.get(RELEASE_LABEL)).and_then(|v| v.parse::<u64>().ok());
            let finished = j.status.as_ref().is_some_and(|s| s.active.unwrap_or(0) == 0);
            let (Some(name), Some(release), Some(current)) = (j.metadata.name, release, current) else { continue };
            if release < current && finished {
                jobs.delete(&name, &DeleteParams::background()).await.map_err(api_err(format!("delete Job {name}")))?;
                deleted.push(name);
            }
        }
        Ok(deleted)
    }

    /// The project's Deployments with their replica counts.
    pub async fn status(&self, project: &str) -> crate::Result<Vec<WorkloadStatus>> {
        let api: Api<Deployment> = Api::namespaced(self.cluster.client().clone(), self.cluster.namespace());
        let selector = format!("{PROJECT_LABEL}={}", label_value(project));
        let list = api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|source| KubernetesError::Api { action: "list Deployments".into(), source: Box::new(source) })?;
        Ok(list
            .items
            .iter()
            .map(|d| {
                let s = d.status.clone().unwrap_or_default();
                WorkloadStatus {
                    name: d.metadata.name.clone().unwrap_or_default(),
                    replicas: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                    ready: s.ready_replicas.unwrap_or(0),
                    updated: s.updated_replicas.unwrap_or(0),
                    release: d.metadata.labels.as_ref().and_then(|l| l.get(RELEASE_LABEL).cloned()),
                }
            })
            .collect())
    }
}
