//! `KubernetesDeployer` (the `Deployer` for a namespace) against the mock API server of
//! `slipway_e2e::kube_api`: `kube::Client::new` over a tower-test service, with objects,
//! resourceVersions, generations and the deployment and job controllers' status conditions kept
//! as the API server keeps them, every applied body type-checked and then validated offline with
//! `kubernetes-validate --strict`. Images are pushed to a real registry (Debian's
//! docker-registry) so the records pin real digests. No real API server runs here: see
//! docs/kubernetes.md for what was and was not run against a cluster.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use slipway::compose::{load, LoadOptions};
use slipway::deploy::{BackupChoice, DeployEvent, DeployOptions, Deployer, ReleaseId, ReleaseOutcome, Step};
use slipway::events::Event;
use slipway::kubernetes::deploy::{Cluster, KubeDeployOptions, KubernetesDeployer};
use slipway::kubernetes::KubernetesError;
use slipway::registry::{Distribution, DistributionOptions};
use slipway::{Error, ImageRef, RecordingObserver};
use slipway_e2e::kube_api::MockCluster;
use slipway_e2e::registry::sample::{sample_image, Flavor};
use slipway_e2e::registry::TestRegistry;

const NS: &str = "/namespaces/shop";
const SECRETS: &str = "/api/v1/namespaces/shop/secrets";
const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/shop/leases/slipway-shop";
const WEB: &str = "/apis/apps/v1/namespaces/shop/deployments/web";
const TOKEN: &str = "s3cr3t-token-value";

/// A registry holding `shop/app:v1.0.0`, `shop/app:v2.0.0` and `postgres:v16.4.0`.
struct Images {
    _registry: TestRegistry,
    host: String,
}

impl Images {
    async fn push() -> Images {
        let registry = TestRegistry::builder().no_auth().start().await.expect("docker-registry starts");
        let host = registry.host();
        let client = Distribution::connect(&host, DistributionOptions::default()).await.unwrap();
        for tag in ["shop/app:v1.0.0", "shop/app:v2.0.0", "postgres:v16.4.0"] {
            let image = sample_image(Flavor::Oci, &[512], "amd64").unwrap();
            image.push(&client, &ImageRef::parse(&format!("{host}/{tag}")).unwrap()).await.unwrap();
        }
        Images { _registry: registry, host }
    }

    fn app(&self, version: &str) -> String {
        format!("{}/shop/app:{version}", self.host)
    }

    fn postgres(&self) -> String {
        format!("{}/postgres:v16.4.0", self.host)
    }
}

fn stack(app: &str, db: Option<&str>) -> slipway::stack::StackSpec {
    stack_of(app, app, db)
}

/// The shop: a migration Job (`migrate`), then `web`, and optionally a PostgreSQL `db`.
fn stack_of(migrate: &str, app: &str, db: Option<&str>) -> slipway::stack::StackSpec {
    let mut text = format!(
        "name: shop
services:
  migrate:
    image: {migrate}
    command: [migrate]
    environment: {{API_TOKEN: {TOKEN}}}
    x-slipway: {{oneoff: true}}
  web:
    image: {app}
    expose: [\"8080\"]
    environment: {{API_TOKEN: {TOKEN}}}
    depends_on:
      migrate: {{condition: service_completed_successfully}}
    healthcheck:
      test: [CMD, /app, check]
      interval: 2s
    x-slipway: {{health_timeout: 60s}}
"
    );
    if let Some(db) = db {
        text.push_str(&format!(
            "  db:
    image: {db}
    environment: {{POSTGRES_USER: shop, POSTGRES_DB: shop, POSTGRES_PASSWORD: {TOKEN}}}
    volumes: [pgdata:/var/lib/postgresql/data]
volumes:
  pgdata: {{}}
"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("compose.yml");
    std::fs::write(&f, text).unwrap();
    load(&LoadOptions::new([f]).environment(Default::default())).unwrap().stack
}

fn deployer(mock: &MockCluster) -> KubernetesDeployer {
    let cluster = Cluster::new(mock.client("shop"), "shop").poll(Duration::from_millis(5));
    KubernetesDeployer::new(cluster, KubeDeployOptions::default().job_timeout(Duration::from_secs(30)))
}

fn index(requests: &[String], needle: &str) -> usize {
    requests.iter().position(|r| r.contains(needle)).unwrap_or_else(|| panic!("no request {needle}: {requests:#?}"))
}

fn image_of(obj: &Value) -> String {
    obj["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string()
}

/// The records on the mock, by Secret name, decoded.
fn records(mock: &MockCluster) -> Vec<(String, Value)> {
    use base64::Engine;
    let s = mock.state();
    s.collection(SECRETS)
        .into_iter()
        .filter(|o| o["type"] == "slipway.dev/release.v1")
        .map(|o| {
            let raw =
                base64::engine::general_purpose::STANDARD.decode(o["data"]["release.json"].as_str().unwrap()).unwrap();
            (o["metadata"]["name"].as_str().unwrap().to_string(), serde_json::from_slice(&raw).unwrap())
        })
        .collect()
}

/// `kubernetes-validate --strict` (offline schemas) over every body the mock received by apply.
fn validate_applied(mock: &MockCluster) {
    let validator = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/kubernetes-validate");
    assert!(validator.is_file(), "{} is missing: run scripts/setup; this test does not skip", validator.display());
    let docs: Vec<String> = mock.state().applied.iter().map(|b| format!("---\n{}\n", b)).collect();
    assert!(!docs.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("applied.yaml");
    std::fs::write(&file, docs.concat()).unwrap();
    for version in ["1.30.0", "1.33.0"] {
        let out = std::process::Command::new(&validator)
            .args(["--strict", "--quiet", "-k", version])
            .arg(&file)
            .output()
            .expect("kubernetes-validate runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && !text.contains("ERROR"), "applied bodies @ {version}:\n{text}");
    }
}

#[tokio::test]
async fn a_rollout_that_completes_pins_digests_applies_the_job_first_and_records_the_release() {
    let images = Images::push().await;
    let mock = MockCluster::new();
    let observer = RecordingObserver::default();
    let out = deployer(&mock).apply(&stack(&images.app("v1.0.0"), None), &DeployOptions::default(), &observer).await;
    let release = out.expect("deploys").release.expect("a release");
    assert_eq!((release.id, &release.outcome, release.parent), (ReleaseId(1), &ReleaseOutcome::Succeeded, None));
    let pinned = &release.services["web"].pinned;
    assert!(
        pinned.starts_with(&format!("{}/shop/app@sha256:", images.host)),
        "pinned to the registry digest: {pinned}"
    );
    let s = mock.state();
    let r = &s.requests;
    let lease = index(r, &format!("POST /apis/coordination.k8s.io/v1{NS}/leases"));
    let service = index(r, &format!("PATCH /api/v1{NS}/services/web?"));
    let job = index(r, &format!("PATCH /apis/batch/v1{NS}/jobs/migrate-"));
    let job_wait = index(r, &format!("GET /apis/batch/v1{NS}/jobs/migrate-"));
    let web = index(r, &format!("PATCH /apis/apps/v1{NS}/deployments/web?"));
    assert!(lease < service && service < job && job < job_wait && job_wait < web, "{r:#?}");
    assert!(r[web].contains("fieldManager=slipway") && r[web].contains("force=true"), "server-side apply: {}", r[web]);
    assert!(r.last().unwrap().starts_with(&format!("DELETE {LEASE}")), "{r:#?}");
    let dep = s.object(WEB).expect("web Deployment");
    assert_eq!(&image_of(dep), pinned, "the cluster runs the pinned digest");
    assert_eq!(dep["metadata"]["labels"]["dev.slipway.release"], "1");
    assert_eq!(dep["status"]["conditions"][1]["reason"], "NewReplicaSetAvailable");
    drop(s);
    let recs = records(&mock);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].0, "slipway-shop-r1");
    assert_eq!(recs[0].1["services"]["web"]["pinned"], json!(pinned));
    let raw = serde_json::to_string(&recs[0].1).unwrap();
    assert!(!raw.contains(TOKEN), "no environment value in release.json: {raw}");
    let events = format!("{:?}", observer.events());
    assert!(events.contains("deployment web successfully rolled out"), "{events}");
    validate_applied(&mock);
}

#[tokio::test]
async fn a_rollout_past_its_deadline_re_applies_the_previous_release_and_names_the_pod() {
    let images = Images::push().await;
    let mock = MockCluster::new();
    let d = deployer(&mock);
    let o = RecordingObserver::default();
    let first = d.apply(&stack(&images.app("v1.0.0"), None), &DeployOptions::default(), &o).await;
    let v1 = first.expect("release 1").release.unwrap().services["web"].pinned.clone();
    // The migration of v1 is fine; v2's web pods never become ready.
    let v2 = stack_of(&images.app("v1.0.0"), &images.app("v2.0.0"), None);
    let pinned_v2 = slipway::deploy::registry_pins(&v2, None, &slipway::NoopObserver).await.unwrap()["web"].clone();
    {
        let mut s = mock.state();
        s.failing_images.insert(pinned_v2.clone());
        s.failing_logs = vec!["panic: config missing".into()];
    }
    let err = d.apply(&v2, &DeployOptions::default(), &RecordingObserver::default()).await.expect_err("fails");
    let text = err.to_string();
    let Error::Kubernetes(k) = &err else { panic!("{err}") };
    let KubernetesError::RolledBack { cause, to, restored } = k.as_ref() else { panic!("{err}") };
    assert_eq!((*to, *restored), (1, true), "{text}");
    assert!(
        matches!(cause.as_ref(), KubernetesError::WorkloadFailed { kind, name, .. } if kind == "Deployment" && name == "web"),
        "{text}"
    );
    for part in ["exceeded its progress deadline", "pod web-", "Readiness probe failed", "panic: config missing"] {
        assert!(text.contains(part), "error names {part:?}: {text}");
    }
    let s = mock.state();
    let dep = s.object(WEB).unwrap();
    assert_eq!(image_of(dep), v1, "release 1's image runs again");
    assert_eq!(dep["metadata"]["labels"]["dev.slipway.release"], "1");
    assert_eq!(dep["metadata"]["generation"], 3, "applied three times with three specs");
    assert_eq!(dep["status"]["observedGeneration"], 3);
    drop(s);
    let recs = records(&mock);
    let failed = &recs.iter().find(|(n, _)| n == "slipway-shop-r2").expect("release 2 recorded").1;
    assert_eq!(failed["outcome"]["status"], "failed");
    assert_eq!(failed["outcome"]["service"], "web");
}

#[tokio::test]
async fn a_failed_job_stops_the_release_before_any_deployment() {
    let images = Images::push().await;
    let mock = MockCluster::new();
    let stack = stack(&images.app("v1.0.0"), None);
    let pinned = slipway::deploy::registry_pins(&stack, None, &slipway::NoopObserver).await.unwrap()["migrate"].clone();
    mock.state().failing_images.insert(pinned);
    let err = deployer(&mock).apply(&stack, &DeployOptions::default(), &RecordingObserver::default()).await;
    let text = err.expect_err("fails").to_string();
    assert!(text.contains("BackoffLimitExceeded") && text.contains("Job migrate-"), "{text}");
    assert!(text.contains("Back-off restarting failed container"), "the pod's events: {text}");
    let s = mock.state();
    assert!(!s.requests.iter().any(|r| r.contains("/deployments/")), "no Deployment touched: {:#?}", s.requests);
    assert!(s.requests.last().unwrap().starts_with("DELETE /apis/coordination.k8s.io"), "the Lease is given back");
}

fn lease(holder: &str, renewed: chrono::DateTime<chrono::Utc>) -> Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "slipway-shop"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 900,
            "renewTime": renewed.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()}})
}

#[tokio::test]
async fn a_held_lease_refuses_at_once_waits_with_lock_wait_and_an_expired_one_is_taken_over() {
    let images = Images::push().await;
    let stack = stack(&images.app("v1.0.0"), None);
    let leases = "/apis/coordination.k8s.io/v1/namespaces/shop/leases";

    let mock = MockCluster::new();
    mock.state().seed(leases, lease("alice@ci", chrono::Utc::now()));
    let err = deployer(&mock).apply(&stack, &DeployOptions::default(), &RecordingObserver::default()).await;
    assert!(err.expect_err("refused").to_string().contains("alice@ci"));
    {
        let s = mock.state();
        assert_eq!(s.requests.len(), 2, "create (409), then read the holder: {:#?}", s.requests);
        assert!(!s.requests.iter().any(|r| r.starts_with("PATCH") || r.starts_with("DELETE")));
    }

    // --lock-wait: alice's deploy ends while we wait.
    let m = mock.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        m.state().objects.remove(LEASE);
    });
    let observer = RecordingObserver::default();
    let opts = DeployOptions::default().lock_wait(Duration::from_secs(10));
    deployer(&mock).apply(&stack, &opts, &observer).await.expect("deploys once the lease is free");
    let waited = observer
        .events()
        .iter()
        .any(|e| matches!(e, Event::Deploy(DeployEvent::LockWaiting { holder }) if holder == "alice@ci"));
    assert!(waited, "LockWaiting reported");

    // A lease whose holder stopped renewing an hour ago is taken over with its resourceVersion.
    mock.state().seed(leases, lease("bob@dead", chrono::Utc::now() - chrono::Duration::hours(1)));
    deployer(&mock).apply(&stack, &DeployOptions::default(), &RecordingObserver::default()).await.expect("takes over");
    assert!(mock.state().requests.iter().any(|r| r.starts_with(&format!("PUT {LEASE}"))));
}

#[tokio::test]
async fn rollback_to_a_named_release_re_applies_its_pinned_manifests_and_records_a_new_release() {
    let images = Images::push().await;
    let mock = MockCluster::new();
    let d = deployer(&mock);
    let o = RecordingObserver::default();
    let opts = DeployOptions::default().env("production");
    let r1 = d.apply(&stack(&images.app("v1.0.0"), None), &opts, &o).await.unwrap().release.unwrap();
    d.apply(&stack(&images.app("v2.0.0"), None), &opts, &o).await.unwrap();
    let back = d.rollback("shop", Some(ReleaseId(1)), &opts, &o).await.expect("rolls back").release.unwrap();
    assert_eq!((back.id, back.parent, back.rollback_of), (ReleaseId(3), Some(ReleaseId(2)), Some(ReleaseId(1))));
    assert_eq!(image_of(mock.state().object(WEB).unwrap()), r1.services["web"].pinned, "exactly release 1's digest");
    assert_eq!(mock.state().object(WEB).unwrap()["metadata"]["labels"]["dev.slipway.release"], "3");
    let history = d.history("shop").await.unwrap();
    assert_eq!(history.iter().map(|r| r.id.0).collect::<Vec<_>>(), [1, 2, 3]);
    let err = d.rollback("shop", Some(ReleaseId(9)), &opts, &o).await.expect_err("no release 9");
    assert!(err.to_string().contains("no recorded release 9"), "{err}");
    let status = d.status("shop").await.unwrap();
    assert_eq!(status.current.map(|r| r.id), Some(ReleaseId(3)));
    assert!(
        status.containers.iter().any(|c| c.service == "web" && c.running && c.health.as_deref() == Some("healthy")),
        "{:?}",
        status.containers
    );
}

#[tokio::test]
async fn retain_prunes_old_records_and_prune_deletes_old_jobs_but_keeps_the_current_release() {
    let images = Images::push().await;
    let mock = MockCluster::new();
    let d = deployer(&mock);
    let o = RecordingObserver::default();
    let opts = DeployOptions::default().retain(2);
    for v in ["v1.0.0", "v2.0.0", "v1.0.0"] {
        d.apply(&stack(&images.app(v), None), &opts, &o).await.unwrap();
    }
    let names: Vec<String> = records(&mock).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["slipway-shop-r2", "slipway-shop-r3"], "--retain 2 kept the last two records");
    let jobs = "/apis/batch/v1/namespaces/shop/jobs";
    assert_eq!(mock.state().collection(jobs).len(), 2, "a Job per distinct one-off spec");
    let deleted = d.prune("shop", 2).await.expect("prunes");
    assert_eq!(deleted.len(), 1, "release 2's Job: {deleted:?}");
    assert!(deleted[0].starts_with("migrate-"), "{deleted:?}");
    let left = mock
        .state()
        .collection(jobs)
        .iter()
        .map(|j| j["metadata"]["labels"]["dev.slipway.release"].clone())
        .collect::<Vec<_>>();
    assert_eq!(left, [json!("3")], "the current release's Job stays");
}

#[tokio::test]
async fn dry_run_is_the_plan_and_changes_nothing() {
    let images = Images::push().await;
    let mock = MockCluster::new();
    let opts = DeployOptions::default().env("production").retain(3);
    let plan = deployer(&mock).plan(&stack(&images.app("v1.0.0"), Some(&images.postgres())), &opts).await.unwrap();
    let s = mock.state();
    assert!(s.requests.iter().all(|r| r.starts_with("GET ")), "reads only: {:#?}", s.requests);
    assert!(s.objects.is_empty());
    let steps: Vec<String> = plan.steps.iter().map(Step::describe).collect();
    assert_eq!(steps[..3], ["hold the deploy lock of shop", "check the production policy", &steps[2]]);
    assert!(matches!(plan.steps[2], Step::Backup { .. }), "production takes the backup: {steps:#?}");
    let job = steps.iter().position(|s| s.starts_with("wait for Job migrate-")).expect("the Job is awaited");
    let web = steps.iter().position(|s| s == "wait for Deployment web to roll out").expect("web is awaited");
    assert!(job < web, "{steps:#?}");
    assert_eq!(steps[steps.len() - 2..], ["record release 1", "prune beyond the last 3 releases"]);
}

#[tokio::test]
async fn production_backs_up_the_running_database_with_a_job_before_any_change() {
    let images = Images::push().await;
    let mock = MockCluster::new();
    let d = deployer(&mock);
    let opts = DeployOptions::default().env("production");
    let o = RecordingObserver::default();
    d.apply(&stack(&images.app("v1.0.0"), Some(&images.postgres())), &opts, &o).await.expect("release 1");
    assert!(format!("{:?}", o.events()).contains("backup of db: not running yet"), "nothing to back up at first");
    let before = mock.state().requests.len();
    d.apply(&stack(&images.app("v2.0.0"), Some(&images.postgres())), &opts, &o).await.expect("release 2");
    {
        let s = mock.state();
        let r = &s.requests[before..];
        let backup = index(r, &format!("PATCH /apis/batch/v1{NS}/jobs/db-backup-r2?"));
        let first_change = index(r, &format!("PATCH /api/v1{NS}/"));
        assert!(
            r[first_change].contains("persistentvolumeclaims/slipway-shop-backups"),
            "the backup claim first: {r:#?}"
        );
        let release_change = r.iter().position(|q| q.starts_with("PATCH") && !q.contains("backup")).unwrap();
        assert!(backup < release_change, "the backup Job runs before the release changes anything: {r:#?}");
        let job = s.object(&format!("/apis/batch/v1{NS}/jobs/db-backup-r2")).unwrap();
        let db = s.object(&format!("/apis/apps/v1{NS}/deployments/db")).unwrap();
        let (jc, dc) =
            (&job["spec"]["template"]["spec"]["containers"][0], &db["spec"]["template"]["spec"]["containers"][0]);
        assert_eq!(jc["envFrom"], dc["envFrom"], "the database's own ConfigMap and Secret");
        assert_eq!(jc["image"], dc["image"], "pg_dump of the running server's version");
        assert!(jc["command"][2].as_str().unwrap().contains("pg_dump -h db"), "{jc}");
        assert!(!job.to_string().contains(TOKEN), "no credential in the Job");
        assert_eq!(job["status"]["conditions"][1]["type"], "Complete");
    }
    validate_applied(&mock);

    // --no-backup (the policy allows skipping it): no backup Job.
    let skip = opts.clone().backup(BackupChoice::Skip);
    d.apply(&stack(&images.app("v1.0.0"), Some(&images.postgres())), &skip, &o).await.expect("release 3");
    assert!(mock.state().object(&format!("/apis/batch/v1{NS}/jobs/db-backup-r3")).is_none());

    // A failing backup stops release 4 before anything of it is applied, and records nothing.
    let db_image = image_of(mock.state().object(&format!("/apis/apps/v1{NS}/deployments/db")).unwrap());
    mock.state().failing_images.insert(db_image);
    let before = mock.state().requests.len();
    let err = d.apply(&stack(&images.app("v2.0.0"), Some(&images.postgres())), &opts, &o).await.expect_err("stops");
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    let s = mock.state();
    let patches: Vec<&String> = s.requests[before..].iter().filter(|r| r.starts_with("PATCH")).collect();
    assert!(patches.iter().all(|p| p.contains("backup")), "only the backup was applied: {patches:#?}");
    assert!(s.object(&format!("{SECRETS}/slipway-shop-r4")).is_none());
}

#[tokio::test]
async fn the_mock_refuses_what_the_api_server_refuses() {
    use slipway::kubernetes::Manifest;
    let mock = MockCluster::new();
    let cluster = Cluster::new(mock.client("shop"), "shop");
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": "two", "selector": {}, "template": {}}});
    let err = cluster.apply(&Manifest::new("Deployment".into(), "web".into(), None, bad)).await.expect_err("400");
    assert!(format!("{err:?}").contains("cannot be handled as a Deployment"), "{err:?}");
    let wrong_kind = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}});
    let err = cluster.apply(&Manifest::new("Deployment".into(), "web".into(), None, wrong_kind)).await;
    assert!(err.is_err(), "a Service body on the deployments URL is refused");
    assert!(mock.state().objects.is_empty(), "nothing stored");
}

#[tokio::test]
async fn the_lease_is_renewed_while_held_and_deleted_on_release() {
    use slipway::kubernetes::deploy::DeployLease;
    let mock = MockCluster::new();
    let cluster = Cluster::new(mock.client("shop"), "shop");
    let o = RecordingObserver::default();
    let lease =
        DeployLease::take(&cluster, "shop", "me@here", Duration::from_secs(1), Duration::ZERO, &o).await.unwrap();
    let first = mock.state().object(LEASE).unwrap()["metadata"]["resourceVersion"].clone();
    tokio::time::sleep(Duration::from_millis(700)).await;
    {
        let s = mock.state();
        let renewals = s.requests.iter().filter(|r| r.starts_with(&format!("PUT {LEASE}"))).count();
        assert!(renewals >= 1, "renewed every quarter of the lease: {:#?}", s.requests);
        assert_ne!(s.object(LEASE).unwrap()["metadata"]["resourceVersion"], first, "a new resourceVersion");
    }
    lease.release().await.unwrap();
    assert!(mock.state().object(LEASE).is_none(), "deleted on release");
}

#[tokio::test]
async fn a_cancelled_deploy_changes_nothing_and_gives_the_lease_back() {
    let images = Images::push().await;
    let mock = MockCluster::new();
    let token = slipway::deploy::CancellationToken::new();
    token.cancel();
    let opts = DeployOptions::default().cancel(token);
    let err = deployer(&mock).apply(&stack(&images.app("v1.0.0"), None), &opts, &RecordingObserver::default()).await;
    assert!(err.expect_err("cancelled").to_string().contains("cancel"));
    let s = mock.state();
    assert!(!s.requests.iter().any(|r| r.starts_with("PATCH")), "nothing applied: {:#?}", s.requests);
    assert!(s.object(LEASE).is_none(), "the Lease is given back");
}

/// Wait (bounded) until the mock saw `n` reads of web's Deployment since the test began: its
/// rollout is being awaited.
async fn until_awaited(mock: &MockCluster, after: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let reads = mock.state().requests.iter().skip(after).filter(|r| r.starts_with(&format!("GET {WEB}"))).count();
        if reads >= 2 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "web's rollout was never awaited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_rollout_cancelled_or_whose_lease_is_lost_re_applies_the_previous_release_and_says_why() {
    let images = Images::push().await;
    let mock = MockCluster::new();
    let d = std::sync::Arc::new(deployer(&mock));
    let opts = || DeployOptions::default().lease(Duration::from_secs(2));
    let first = d.apply(&stack(&images.app("v1.0.0"), None), &opts(), &RecordingObserver::default()).await;
    let v1 = first.expect("release 1").release.unwrap().services["web"].pinned.clone();
    // v2's web never finishes rolling out while the test waits (it keeps progressing).
    let v2 = stack_of(&images.app("v1.0.0"), &images.app("v2.0.0"), None);
    let pinned_v2 = slipway::deploy::registry_pins(&v2, None, &slipway::NoopObserver).await.unwrap()["web"].clone();
    mock.state().stalled_images.insert(pinned_v2);

    for lose_lease in [false, true] {
        let token = slipway::deploy::CancellationToken::new();
        let seen = mock.state().requests.len();
        let run = {
            let (d, v2, o) = (d.clone(), v2.clone(), opts().cancel(token.clone()));
            tokio::spawn(async move { d.apply(&v2, &o, &RecordingObserver::default()).await })
        };
        until_awaited(&mock, seen).await;
        if lose_lease {
            mock.state().objects.remove(LEASE); // as if another deploy had taken it over
        } else {
            token.cancel();
        }
        let err = tokio::time::timeout(Duration::from_secs(30), run).await.unwrap().unwrap().expect_err("stopped");
        let text = err.to_string();
        let Error::Kubernetes(k) = &err else { panic!("{err}") };
        let KubernetesError::RolledBack { cause, to, restored } = k.as_ref() else { panic!("{err}") };
        assert_eq!((*to, *restored), (1, true), "{text}");
        match cause.as_ref() {
            KubernetesError::LeaseLost { during } if lose_lease => assert!(during.contains("web"), "{text}"),
            KubernetesError::Cancelled { during } if !lose_lease => assert!(during.contains("web"), "{text}"),
            other => panic!("lose_lease={lose_lease}: {other}"),
        }
        assert_eq!(image_of(mock.state().object(WEB).unwrap()), v1, "release 1's image runs again: {text}");
        let recs = records(&mock);
        let (_, last) = recs
            .iter()
            .max_by_key(|(n, _)| n.trim_start_matches("slipway-shop-r").parse::<u32>().unwrap_or(0))
            .unwrap();
        let outcome = &last["outcome"];
        if lose_lease {
            assert_eq!(outcome["status"], "failed", "{outcome}");
            assert!(outcome["reason"].as_str().unwrap_or_default().contains("could not be renewed"), "{outcome}");
        } else {
            assert_eq!(outcome["status"], "cancelled", "{outcome}");
        }
    }
}

/// Run the `slipway` CLI with `KUBECONFIG`; (exit code, stdout, stderr).
fn cli(kubeconfig: &Path, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(slipway_e2e::cli::slipway_bin())
        .current_dir(dir)
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .output()
        .expect("slipway runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_deploys_plans_and_reads_back_through_a_kubeconfig() {
    let mock = MockCluster::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn({
        let mock = mock.clone();
        async move { mock.serve(listener).await }
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, format!("apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n  cluster:\n    server: {url}\ncontexts:\n- name: mock\n  context: {{cluster: mock, user: mock, namespace: shop}}\ncurrent-context: mock\nusers:\n- name: mock\n  user: {{}}\n")).unwrap();
    let digest = format!("sha256:{}", "a".repeat(64));
    let compose = format!(
        "name: shop\nservices:\n  web:\n    image: registry.example.com/shop/app@{digest}\n    expose: [\"8080\"]\n"
    );
    std::fs::write(dir.path().join("compose.yml"), compose).unwrap();
    let (kc, d) = (kubeconfig.clone(), dir.path().to_path_buf());
    let run = move |args: Vec<&'static str>| {
        let (kc, d) = (kc.clone(), d.clone());
        tokio::task::spawn_blocking(move || cli(&kc, &d, &args))
    };
    let k = ["--target", "kubernetes", "--context", "mock"];

    let (code, out, err) = run([&["deploy"][..], &k, &["--dry-run", "--json"]].concat()).await.unwrap();
    assert_eq!(code, 0, "{err}");
    let plan: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(plan["target"], "kubernetes");
    assert!(plan["plan"]["steps"].as_array().unwrap().iter().any(|s| s["step"] == "await_rollout"), "{out}");
    assert!(mock.state().objects.is_empty(), "--dry-run changed nothing");

    let (code, out, err) = run([&["deploy"][..], &k, &["--json", "--namespace", "shop"]].concat()).await.unwrap();
    assert_eq!(code, 0, "{err}");
    let done: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(done["release"]["id"], 1, "{out}");

    let (code, out, _) = run([&["history"][..], &k, &["-p", "shop", "--json"]].concat()).await.unwrap();
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1, "{out}");
    let (code, out, _) = run([&["status"][..], &k, &["-p", "shop", "--json"]].concat()).await.unwrap();
    assert_eq!(code, 0);
    let st: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!((st["current"]["id"].clone(), st["workloads"][0]["name"].clone()), (json!(1), json!("web")), "{out}");

    let (code, _, err) = run([&["rollback"][..], &k, &["-p", "shop"]].concat()).await.unwrap();
    assert_eq!(code, 2, "no earlier release is bad input: {err}");
    assert!(err.contains("no recorded release before the current one"), "{err}");
    server.abort();
}
