//! `Cluster`: one namespace of one cluster through kube-rs. Server-side apply of rendered
//! manifests (field manager `slipway`), bounded waits for Deployments and Jobs on the pure
//! conditions of `rollout.rs` with progress events, and the diagnosis of a failed workload (its
//! first unready pod, that pod's last events and log lines).

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event as K8sEvent, Pod};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, LogParams, Patch, PatchParams};
use kube::Client;

use super::super::error::KubernetesError;
use super::super::metadata::MANAGED_BY;
use super::super::render::Manifest;
use super::rollout::{self, Progress};
use crate::deploy::DeployEvent;
use crate::events::{Event, Observer};

/// What a failed workload looked like.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// The first pod that is not ready.
    pub pod: Option<String>,
    /// Its last events (`reason: message`).
    pub events: Vec<String>,
    /// Its last log lines.
    pub logs: Vec<String>,
}

/// One namespace of a cluster.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    namespace: String,
    poll: Duration,
}

impl Cluster {
    /// A namespace reached through `client` (from a kubeconfig context, or a test's mock).
    pub fn new(client: Client, namespace: impl Into<String>) -> Self {
        Cluster { client, namespace: namespace.into(), poll: Duration::from_secs(2) }
    }

    /// A namespace of the cluster of a kubeconfig context (`None`: the current context; the
    /// namespace defaults to the context's, else `default`). Reads `KUBECONFIG` or ~/.kube/config.
    pub async fn connect(context: Option<&str>, namespace: Option<&str>) -> Result<Self, KubernetesError> {
        let opts = kube::config::KubeConfigOptions { context: context.map(String::from), ..Default::default() };
        let what = context.map_or("the current context".to_string(), |c| format!("context {c}"));
        let config = kube::Config::from_kubeconfig(&opts)
            .await
            .map_err(|e| KubernetesError::Connect { context: what.clone(), reason: e.to_string() })?;
        let ns = namespace.map(String::from).unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(|source| KubernetesError::Api {
            action: format!("connect to {what}"),
            source: Box::new(source),
        })?;
        Ok(Cluster::new(client, ns))
    }

    /// Poll interval of the waits (default 2 s).
    pub fn poll(mut self, every: Duration) -> Self {
        self.poll = every;
        self
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Server-side apply one manifest (force: slipway owns the fields it renders).
    pub async fn apply(&self, m: &Manifest) -> Result<(), KubernetesError> {
        let api_version = m.body["apiVersion"].as_str().unwrap_or("v1");
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &m.kind));
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &self.namespace, &ar);
        let mut body = m.body.clone();
        body["metadata"]["namespace"] = serde_json::Value::String(self.namespace.clone());
        let params = PatchParams::apply(MANAGED_BY).force();
        api.patch(&m.name, &params, &Patch::Apply(&body)).await.map_err(|source| KubernetesError::Api {
            action: format!("apply {} {}", m.kind, m.name),
            source: Box::new(source),
        })?;
        Ok(())
    }

    /// Wait until a Deployment has rolled out (kubectl's conditions), at most `bound`.
    pub async fn await_deployment(
        &self,
        name: &str,
        bound: Duration,
        observer: &dyn Observer,
    ) -> Result<(), KubernetesError> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        self.await_progress(&api, "Deployment", name, name, bound, observer, rollout::deployment).await
    }

    /// Wait until a Job has succeeded, at most `bound`; its failure is an error.
    pub async fn await_job(
        &self,
        name: &str,
        service: &str,
        bound: Duration,
        observer: &dyn Observer,
    ) -> Result<(), KubernetesError> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        self.await_progress(&api, "Job", name, service, bound, observer, rollout::job).await
    }

    /// Poll `name` until `condition` says done or failed, the whole wait bounded by `bound`;
    /// each new waiting message is a progress event; a failure carries the diagnosis.
    #[allow(clippy::too_many_arguments)]
    async fn await_progress<K>(
        &self,
        api: &Api<K>,
        kind: &str,
        name: &str,
        service: &str,
        bound: Duration,
        observer: &dyn Observer,
        condition: fn(&K) -> Progress,
    ) -> Result<(), KubernetesError>
    where
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let wait = async {
            let mut last = String::new();
            loop {
                let obj = match api.get(name).await {
                    Ok(o) => o,
                    Err(source) => {
                        return Err(Err(KubernetesError::Api {
                            action: format!("read {kind} {name}"),
                            source: Box::new(source),
                        }))
                    }
                };
                match condition(&obj) {
                    Progress::Done(msg) => {
                        message(observer, msg);
                        return Ok(());
                    }
                    Progress::Failed(reason) => return Err(Ok(reason)),
                    Progress::Waiting(msg) if msg != last => {
                        message(observer, format!("{} {name}: {msg}", kind.to_ascii_lowercase()));
                        last = msg;
                    }
                    Progress::Waiting(_) => {}
                }
                tokio::time::sleep(self.poll).await;
            }
        };
        let reason = match tokio::time::timeout(bound, wait).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(Ok(reason))) => reason,
            Ok(Err(Err(e))) => return Err(e),
            Err(_) => format!("not done after {}", humantime::format_duration(bound)),
        };
        Err(self.failed(kind, name, service, reason).await)
    }

    async fn failed(&self, kind: &str, name: &str, service: &str, reason: String) -> KubernetesError {
        // A Job's own pods (the job controller's `job-name` label), else the service's pods.
        let selector = if kind == "Job" {
            format!("job-name={name}")
        } else {
            format!("app.kubernetes.io/name={}", super::super::metadata::label_value(service))
        };
        let diagnosis = self.diagnose_pods(&selector).await;
        KubernetesError::WorkloadFailed { kind: kind.into(), name: name.into(), reason, diagnosis: Box::new(diagnosis) }
    }

    /// The first unready pod of a service, its last 5 events and last 20 log lines (best effort:
    /// what cannot be read is left out).
    pub async fn diagnose(&self, service: &str) -> Diagnosis {
        self.diagnose_pods(&format!("app.kubernetes.io/name={}", super::super::metadata::label_value(service))).await
    }

    /// The first unready pod of `selector` that is not a finished one-off's (best effort).
    async fn diagnose_pods(&self, selector: &str) -> Diagnosis {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let Ok(mut list) = pods.list(&ListParams::default().labels(selector)).await else {
            return Diagnosis::default();
        };
        let jobs = selector.starts_with("job-name=");
        list.items.retain(|p| {
            let finished = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded");
            let of_job = p.metadata.labels.as_ref().is_some_and(|l| l.contains_key("job-name"));
            !finished && (jobs || !of_job)
        });
        let ready = |p: &Pod| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        };
        let Some(pod) = list.items.iter().find(|p| !ready(p)).and_then(|p| p.metadata.name.clone()) else {
            return Diagnosis::default();
        };
        let events: Api<K8sEvent> = Api::namespaced(self.client.clone(), &self.namespace);
        let fields = format!("involvedObject.name={pod}");
        let mut evs: Vec<String> = match events.list(&ListParams::default().fields(&fields)).await {
            Ok(l) => l
                .items
                .iter()
                .map(|e| format!("{}: {}", e.reason.as_deref().unwrap_or(""), e.message.as_deref().unwrap_or("")))
                .collect(),
            Err(_) => Vec::new(),
        };
        let keep = evs.len().saturating_sub(5);
        evs.drain(..keep);
        let logs = match pods.logs(&pod, &LogParams { tail_lines: Some(20), ..Default::default() }).await {
            Ok(text) => text.lines().map(String::from).collect(),
            Err(_) => Vec::new(),
        };
        Diagnosis { pod: Some(pod), events: evs, logs }
    }
}

fn message(observer: &dyn Observer, text: String) {
    observer.event(&Event::Deploy(DeployEvent::Message { text }));
}
