//! `KubernetesDeployer` against a mock API server: `kube::Client::new` over a tower-test
//! service, answering with recorded response shapes of the Kubernetes API. The tests assert the
//! requests made (server-side apply with field manager `slipway`, Jobs before Deployments, the
//! re-apply of the previous release, records, the Lease) and the decisions taken. No real API
//! server runs here: see docs/kubernetes.md for what was and was not run against a cluster.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{json, Value};
use slipway::compose::{load, LoadOptions};
use slipway::deploy::DeployOptions;
use slipway::kubernetes::deploy::{Cluster, KubeDeployOptions, KubernetesDeployer};
use slipway::kubernetes::KubernetesError;
use slipway::{Error, RecordingObserver};

const STACK: &str = "name: shop
services:
  migrate:
    image: registry.example.com/shop/app:v2.0.0
    command: [migrate]
    x-slipway: {oneoff: true}
  web:
    image: registry.example.com/shop/app:v2.0.0
    expose: [\"8080\"]
    depends_on:
      migrate: {condition: service_completed_successfully}
    healthcheck:
      test: [CMD, /app, check]
      interval: 2s
    x-slipway: {health_timeout: 60s}
";

/// What the mock cluster answers: the state of the test's scenario.
#[derive(Default)]
struct Scenario {
    /// `METHOD path?query` of every request, in order.
    requests: Vec<String>,
    /// Bodies of POSTed Secrets (release records).
    records: Vec<Value>,
    /// Records the cluster already holds.
    existing_records: Vec<Value>,
    /// The Job fails.
    job_fails: bool,
    /// Rollouts of Deployments applied with this release label exceed their deadline.
    stuck_release: Option<String>,
    /// The release label of the last applied web Deployment.
    web_release: String,
    /// Another holder's unexpired Lease.
    lease_holder: Option<String>,
    /// Finished one-off Jobs on the cluster: (name, release label).
    old_jobs: Vec<(String, String)>,
}

fn ok(v: Value) -> Response<Body> {
    Response::builder().status(200).body(Body::from(serde_json::to_vec(&v).unwrap())).unwrap()
}

fn status(code: u16, reason: &str) -> Response<Body> {
    let v = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": reason, "code": code, "message": reason});
    Response::builder().status(code).body(Body::from(serde_json::to_vec(&v).unwrap())).unwrap()
}

fn answer(s: &mut Scenario, method: &str, path: &str, body: Value) -> Response<Body> {
    let list =
        |kind: &str, items: Vec<Value>| ok(json!({"apiVersion": "v1", "kind": kind, "metadata": {}, "items": items}));
    match (method, path) {
        ("POST", p) if p.contains("/leases") => match &s.lease_holder {
            Some(_) => status(409, "AlreadyExists"),
            None => ok(body),
        },
        ("GET", p) if p.contains("/leases/") => {
            let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            ok(json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "slipway-shop", "resourceVersion": "7"},
                "spec": {"holderIdentity": s.lease_holder, "leaseDurationSeconds": 900, "renewTime": now}}))
        }
        ("DELETE", p) if p.contains("/leases/") => {
            ok(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}))
        }
        ("GET", p) if p.contains("/secrets?") => list("SecretList", s.existing_records.clone()),
        ("POST", p) if p.contains("/secrets") => {
            s.records.push(body.clone());
            ok(body)
        }
        ("PATCH", p) => {
            if p.contains("/deployments/web") {
                s.web_release =
                    body["metadata"]["labels"]["dev.slipway.release"].as_str().unwrap_or_default().to_string();
            }
            ok(body)
        }
        ("GET", p) if p.contains("/jobs?") => {
            let items = s.old_jobs.iter().map(|(n, r)| json!({"metadata": {"name": n, "labels": {"dev.slipway.release": r}}, "spec": {"template": {}}, "status": {"succeeded": 1}})).collect();
            list("JobList", items)
        }
        ("DELETE", p) if p.contains("/secrets/") || p.contains("/jobs/") => {
            ok(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}))
        }
        ("GET", p) if p.contains("/jobs/") => {
            let st = if s.job_fails {
                json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]})
            } else {
                json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
            };
            ok(
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"}, "spec": {"template": {}}, "status": st}),
            )
        }
        ("GET", p) if p.contains("/deployments/web") => {
            let stuck = s.stuck_release.as_deref() == Some(s.web_release.as_str());
            let st = if stuck {
                json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1,
                    "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]})
            } else {
                json!({"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1})
            };
            ok(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "generation": 2},
                "spec": {"replicas": 1, "selector": {}, "template": {}}, "status": st}))
        }
        ("GET", p) if p.contains("/pods?") => list(
            "PodList",
            vec![json!({"metadata": {"name": "web-7d9f-x2x"},
            "status": {"conditions": [{"type": "Ready", "status": "False"}]}})],
        ),
        ("GET", p) if p.contains("/events?") => list(
            "EventList",
            vec![json!({"metadata": {"name": "e1"}, "involvedObject": {},
            "reason": "Unhealthy", "message": "Readiness probe failed: connection refused"})],
        ),
        ("GET", p) if p.contains("/log") => {
            Response::builder().status(200).body(Body::from(b"panic: config missing\n".to_vec())).unwrap()
        }
        _ => status(404, "NotFound"),
    }
}

/// A deployer on a mock cluster, and the scenario it answers from.
fn mock(s: Scenario) -> (KubernetesDeployer, Arc<Mutex<Scenario>>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let state = Arc::new(Mutex::new(s));
    let st = state.clone();
    tokio::spawn(async move {
        while let Some((req, respond)) = handle.next_request().await {
            let method = req.method().to_string();
            let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
            let bytes = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let mut s = st.lock().unwrap();
            s.requests.push(format!("{method} {path}"));
            respond.send_response(answer(&mut s, &method, &path, body));
        }
    });
    let client = kube::Client::new(service, "shop");
    let cluster = Cluster::new(client, "shop").poll(Duration::from_millis(5));
    (KubernetesDeployer::new(cluster, KubeDeployOptions::default().job_timeout(Duration::from_secs(30))), state)
}

fn stack() -> slipway::stack::StackSpec {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("compose.yml");
    std::fs::write(&f, STACK).unwrap();
    load(&LoadOptions::new([f]).environment(Default::default())).unwrap().stack
}

fn index(requests: &[String], needle: &str) -> usize {
    requests.iter().position(|r| r.contains(needle)).unwrap_or_else(|| panic!("no request {needle}: {requests:#?}"))
}

#[tokio::test]
async fn a_rollout_that_completes_applies_the_job_first_and_records_the_release() {
    let (deployer, state) = mock(Scenario::default());
    let observer = RecordingObserver::default();
    let release = deployer.deploy(&stack(), &DeployOptions::default(), &observer).await.expect("deploys");
    assert_eq!((release.id, release.outcome.as_str(), release.parent), (1, "succeeded", None));
    let s = state.lock().unwrap();
    let r = &s.requests;
    let lease = index(r, "POST /apis/coordination.k8s.io/v1/namespaces/shop/leases");
    let job = index(r, "PATCH /apis/batch/v1/namespaces/shop/jobs/migrate-");
    let job_wait = index(r, "GET /apis/batch/v1/namespaces/shop/jobs/migrate-");
    let web = index(r, "PATCH /apis/apps/v1/namespaces/shop/deployments/web?");
    let service = index(r, "PATCH /api/v1/namespaces/shop/services/web?");
    assert!(lease < service && service < job && job < job_wait && job_wait < web, "{r:#?}");
    assert!(r[web].contains("fieldManager=slipway") && r[web].contains("force=true"), "server-side apply: {}", r[web]);
    assert!(
        r.last().unwrap().starts_with("DELETE /apis/coordination.k8s.io/v1/namespaces/shop/leases/slipway-shop"),
        "{r:#?}"
    );
    assert_eq!(s.records.len(), 1);
    assert_eq!(s.records[0]["metadata"]["name"], "slipway-shop-r1");
    assert_eq!(s.web_release, "1", "objects carry the release label");
    drop(s);
    let events = format!("{:?}", observer.events());
    assert!(events.contains("deployment web successfully rolled out"), "{events}");
}

fn record(id: u64, manifests: &str) -> Value {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let release = json!({"id": id, "project": "shop", "version": null, "images": {}, "who": "ci@runner", "when": "2026-12-01T00:00:00Z", "outcome": "succeeded", "parent": null});
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("slipway-shop-r{id}")},
        "data": {"release.json": b64(&release.to_string()), "manifests.yaml": b64(manifests)}})
}

#[tokio::test]
async fn a_rollout_past_its_deadline_re_applies_the_previous_release_and_names_the_pod() {
    let previous = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    dev.slipway.service: web\nspec:\n  progressDeadlineSeconds: 60\n";
    let (deployer, state) = mock(Scenario {
        existing_records: vec![record(1, previous)],
        stuck_release: Some("2".into()),
        ..Default::default()
    });
    let err =
        deployer.deploy(&stack(), &DeployOptions::default(), &RecordingObserver::default()).await.expect_err("fails");
    let text = err.to_string();
    let Error::Kubernetes(k) = &err else { panic!("{err}") };
    let KubernetesError::RolledBack { cause, to, restored } = k.as_ref() else { panic!("{err}") };
    assert_eq!((*to, *restored), (1, true), "{text}");
    assert!(
        matches!(cause.as_ref(), KubernetesError::WorkloadFailed { kind, name, .. } if kind == "Deployment" && name == "web"),
        "{text}"
    );
    for part in
        ["exceeded its progress deadline", "pod web-7d9f-x2x", "Readiness probe failed", "panic: config missing"]
    {
        assert!(text.contains(part), "error names {part:?}: {text}");
    }
    let s = state.lock().unwrap();
    let patches =
        s.requests.iter().filter(|r| r.starts_with("PATCH /apis/apps/v1/namespaces/shop/deployments/web")).count();
    assert_eq!(patches, 2, "the new release, then the previous one again: {:#?}", s.requests);
    assert_eq!(s.web_release, "1", "the previous release is what runs");
    assert_eq!(s.records.len(), 1, "the failed release is recorded");
    assert_eq!(s.records[0]["metadata"]["name"], "slipway-shop-r2");
}

#[tokio::test]
async fn a_failed_job_stops_the_release_before_any_deployment() {
    let (deployer, state) = mock(Scenario { job_fails: true, ..Default::default() });
    let err =
        deployer.deploy(&stack(), &DeployOptions::default(), &RecordingObserver::default()).await.expect_err("fails");
    let text = err.to_string();
    assert!(text.contains("BackoffLimitExceeded") && text.contains("Job migrate-"), "{text}");
    let s = state.lock().unwrap();
    assert!(!s.requests.iter().any(|r| r.contains("/deployments/")), "no Deployment touched: {:#?}", s.requests);
    assert!(s.requests.last().unwrap().starts_with("DELETE /apis/coordination.k8s.io"), "the Lease is given back");
}

#[tokio::test]
async fn a_held_lease_refuses_the_deploy_and_changes_nothing() {
    let (deployer, state) = mock(Scenario { lease_holder: Some("alice@ci".into()), ..Default::default() });
    let err =
        deployer.deploy(&stack(), &DeployOptions::default(), &RecordingObserver::default()).await.expect_err("refused");
    assert!(err.to_string().contains("alice@ci"), "{err}");
    let s = state.lock().unwrap();
    assert_eq!(s.requests.len(), 2, "create (409), then read the holder: {:#?}", s.requests);
    assert!(!s.requests.iter().any(|r| r.starts_with("PATCH") || r.starts_with("DELETE")));
}

#[tokio::test]
async fn rollback_to_a_named_release_re_applies_its_manifests_and_records_a_new_release() {
    let v1 = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    dev.slipway.service: web\nspec:\n  progressDeadlineSeconds: 60\n";
    let (deployer, state) =
        mock(Scenario { existing_records: vec![record(1, v1), record(2, v1)], ..Default::default() });
    let release = deployer.rollback("shop", Some(1), &RecordingObserver::default()).await.expect("rolls back");
    assert_eq!((release.id, release.parent), (3, Some(2)));
    {
        let s = state.lock().unwrap();
        assert_eq!(s.web_release, "3", "release 1's Deployment applied as release 3");
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.records[0]["metadata"]["name"], "slipway-shop-r3");
    }
    let err = deployer.rollback("shop", Some(9), &RecordingObserver::default()).await.expect_err("no release 9");
    assert!(err.to_string().contains("no recorded release 9"), "{err}");
}

#[tokio::test]
async fn prune_deletes_records_beyond_retention_and_old_jobs_but_keeps_the_current_release() {
    let v1 = "---\n";
    let (deployer, state) = mock(Scenario {
        existing_records: (1..=4).map(|i| record(i, v1)).collect(),
        old_jobs: vec![("migrate-aaa".into(), "1".into()), ("migrate-bbb".into(), "4".into())],
        ..Default::default()
    });
    let deleted = deployer.prune("shop", 2).await.expect("prunes");
    assert_eq!(deleted, ["slipway-shop-r1", "slipway-shop-r2", "migrate-aaa"]);
    let s = state.lock().unwrap();
    let deletes: Vec<&String> = s.requests.iter().filter(|r| r.starts_with("DELETE")).collect();
    assert_eq!(deletes.len(), 3, "{deletes:#?}");
    assert!(deletes[2].contains("/jobs/migrate-aaa"), "{deletes:#?}");
}
