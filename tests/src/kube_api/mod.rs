//! A mock Kubernetes API server, the stand-in for a real one (no kube-apiserver can run on these
//! machines). It keeps objects and answers as the API server does for what slipway sends:
//! - **Validation**: a server-side apply must be `application/apply-patch+yaml` with a
//!   `fieldManager`, its `apiVersion`/`kind`/`name`/`namespace` must match the URL, and the body
//!   must deserialise as the k8s-openapi type of its kind (else 400/422 as the API server
//!   answers). Every applied body is kept (`applied`) so a test can run the independent offline
//!   checker (`kubernetes-validate --strict`) over them.
//! - **Versions**: one `resourceVersion` counter for every write; `metadata.generation` starts at 1
//!   and grows when `spec` changes; a PUT with a stale `resourceVersion` is a 409 Conflict; a
//!   create of an existing name is a 409 AlreadyExists; a Job's pod template is immutable (422).
//! - **Controllers** (`controllers.rs`): each read of a Deployment or Job advances its controller
//!   one step, setting status and conditions as the deployment and job controllers do.
//!
//! It is reached through `kube::Client::new` over a tower-test service ([`MockCluster::client`]),
//! or over plain HTTP on loopback ([`MockCluster::serve`], the `kube-mock-api` binary).

mod controllers;
mod select;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{json, Value};

/// What the mock holds and saw.
#[derive(Default)]
pub struct ApiState {
    /// `METHOD path?query` of every request, in order.
    pub requests: Vec<String>,
    /// Stored objects by their URL path.
    pub objects: BTreeMap<String, Value>,
    /// Every body received by a server-side apply, in order.
    pub applied: Vec<Value>,
    /// Images whose containers never become ready (a Deployment using one exceeds its progress
    /// deadline; a Job using one fails).
    pub failing_images: BTreeSet<String>,
    /// The log lines of a failing container.
    pub failing_logs: Vec<String>,
    /// Images whose containers are still starting as long as the test runs: a Deployment using
    /// one keeps progressing (within its deadline) and never completes.
    pub stalled_images: BTreeSet<String>,
    resource_version: u64,
    uid: u64,
    /// Controller steps taken per object since its spec last changed.
    ticks: BTreeMap<String, u32>,
}

impl ApiState {
    /// A stored object by path, e.g. `/apis/apps/v1/namespaces/shop/deployments/web`.
    pub fn object(&self, path: &str) -> Option<&Value> {
        self.objects.get(path)
    }

    /// Stored objects under a collection path (`.../secrets`).
    pub fn collection(&self, collection: &str) -> Vec<&Value> {
        let prefix = format!("{collection}/");
        self.objects
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
            .map(|(_, v)| v)
            .collect()
    }

    /// Put an object as if created earlier (a test's starting state), with server metadata.
    pub fn seed(&mut self, collection: &str, mut obj: Value) {
        let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        self.stamp(&mut obj, None);
        self.objects.insert(format!("{collection}/{name}"), obj);
    }

    fn next_rv(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// Server-set metadata: uid and creationTimestamp kept from `old`, a new resourceVersion,
    /// generation 1 or +1 when the spec changed.
    fn stamp(&mut self, obj: &mut Value, old: Option<&Value>) {
        let rv = self.next_rv();
        let changed = old.is_some_and(|o| obj_spec_changed(obj, o));
        let meta = &mut obj["metadata"];
        match old {
            Some(o) => {
                meta["uid"] = o["metadata"]["uid"].clone();
                meta["creationTimestamp"] = o["metadata"]["creationTimestamp"].clone();
                let g = o["metadata"]["generation"].as_i64().unwrap_or(1);
                meta["generation"] = json!(if changed { g + 1 } else { g });
            }
            None => {
                self.uid += 1;
                meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012}", self.uid));
                meta["creationTimestamp"] = json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
                meta["generation"] = json!(1);
            }
        }
        obj["metadata"]["resourceVersion"] = json!(rv);
    }
}

fn obj_spec_changed(new: &Value, old: &Value) -> bool {
    new.get("spec") != old.get("spec")
}

/// The mock API server.
#[derive(Clone, Default)]
pub struct MockCluster {
    /// Its state, for the test to set up and inspect.
    pub state: Arc<Mutex<ApiState>>,
}

impl MockCluster {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lock the state.
    pub fn state(&self) -> std::sync::MutexGuard<'_, ApiState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A `kube::Client` whose requests this mock answers (default namespace `namespace`).
    pub fn client(&self, namespace: &str) -> kube::Client {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let me = self.clone();
        tokio::spawn(async move {
            while let Some((req, respond)) = handle.next_request().await {
                let (parts, body) = req.into_parts();
                let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                respond.send_response(me.answer(&parts, &bytes));
            }
        });
        kube::Client::new(service, namespace)
    }

    /// Answer one request: status code, content type, body.
    pub fn respond(&self, parts: &http::request::Parts, bytes: &[u8]) -> (u16, &'static str, Vec<u8>) {
        let method = parts.method.as_str().to_string();
        let path = parts.uri.path().to_string();
        let query: BTreeMap<String, String> =
            url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
        let content_type =
            parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let mut s = self.state();
        s.requests.push(format!("{method} {}", parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("")));
        let body: Value =
            if bytes.is_empty() { Value::Null } else { serde_json::from_slice(bytes).unwrap_or(Value::Null) };
        let (code, v) = route(&mut s, &method, &path, &query, &content_type, body);
        match v {
            Value::String(text) if path.ends_with("/log") => (code, "text/plain", text.into_bytes()),
            v => (code, "application/json", serde_json::to_vec(&v).unwrap_or_default()),
        }
    }

    fn answer(&self, parts: &http::request::Parts, bytes: &[u8]) -> Response<Body> {
        let (code, content_type, body) = self.respond(parts, bytes);
        Response::builder()
            .status(code)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }

    /// Serve this mock over plain HTTP on `listener` (for clients outside this process, e.g. the
    /// Python tests through a kubeconfig), until the task is dropped.
    pub async fn serve(&self, listener: tokio::net::TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let me = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                    let me = me.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let (code, content_type, body) = me.respond(&parts, &bytes);
                        Response::builder()
                            .status(code)
                            .header(http::header::CONTENT_TYPE, content_type)
                            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    }
}

/// A `Status` object as the API server sends it with an error.
pub fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "reason": reason, "message": message, "code": code}),
    )
}

fn success() -> (u16, Value) {
    (200, json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}))
}

/// `(collection, name, subresource)` of a path: `/apis/apps/v1/namespaces/shop/deployments/web`
/// -> (`/apis/apps/v1/namespaces/shop/deployments`, `web`, None).
fn split(path: &str) -> (String, Option<String>, Option<String>) {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let ns = parts.iter().position(|p| *p == "namespaces");
    match ns {
        Some(i) if parts.len() >= i + 3 => {
            let collection = parts[..i + 3].join("/");
            (collection, parts.get(i + 3).map(|s| s.to_string()), parts.get(i + 4).map(|s| s.to_string()))
        }
        _ => (path.to_string(), None, None),
    }
}

fn route(
    s: &mut ApiState,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    content_type: &str,
    body: Value,
) -> (u16, Value) {
    let (collection, name, sub) = split(path);
    let key = name.as_ref().map(|n| format!("{collection}/{n}"));
    match (method, key, sub.as_deref()) {
        ("GET", Some(_), Some("log")) => {
            let name = name.unwrap_or_default();
            (200, Value::String(controllers::pod_log(s, &collection, &name)))
        }
        ("GET", None, _) => {
            controllers::reconcile_all(s, &collection);
            let items = select::matching(s.collection(&collection), query);
            let kind = select::list_kind(&collection);
            (
                200,
                json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": s.resource_version.to_string()}, "items": items}),
            )
        }
        ("GET", Some(key), None) => {
            controllers::reconcile(s, &key);
            match s.objects.get(&key) {
                Some(o) => (200, o.clone()),
                None => not_found(&collection, name.as_deref()),
            }
        }
        ("POST", None, _) => create(s, &collection, body),
        ("PUT", Some(key), None) => replace(s, &collection, &key, body),
        ("PATCH", Some(key), None) => apply(s, &collection, &key, query, content_type, body),
        ("DELETE", Some(key), None) => match s.objects.remove(&key) {
            Some(_) => {
                controllers::deleted(s, &collection, name.as_deref().unwrap_or_default());
                success()
            }
            None => not_found(&collection, name.as_deref()),
        },
        _ => status(405, "MethodNotAllowed", &format!("{method} {path} is not supported by the mock")),
    }
}

fn resource(collection: &str) -> String {
    collection.rsplit('/').next().unwrap_or_default().to_string()
}

fn not_found(collection: &str, name: Option<&str>) -> (u16, Value) {
    let r = resource(collection);
    status(404, "NotFound", &format!("{r} \"{}\" not found", name.unwrap_or_default()))
}

fn create(s: &mut ApiState, collection: &str, mut body: Value) -> (u16, Value) {
    if let Err(e) = select::check_typed(collection, &body) {
        return e;
    }
    let name = body["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let key = format!("{collection}/{name}");
    if s.objects.contains_key(&key) {
        return status(409, "AlreadyExists", &format!("{} \"{name}\" already exists", resource(collection)));
    }
    s.stamp(&mut body, None);
    s.objects.insert(key, body.clone());
    (201, body)
}

fn replace(s: &mut ApiState, collection: &str, key: &str, mut body: Value) -> (u16, Value) {
    if let Err(e) = select::check_typed(collection, &body) {
        return e;
    }
    let Some(old) = s.objects.get(key).cloned() else { return not_found(collection, key.rsplit('/').next()) };
    if body["metadata"]["resourceVersion"] != old["metadata"]["resourceVersion"] {
        let name = key.rsplit('/').next().unwrap_or_default();
        return status(
            409,
            "Conflict",
            &format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", resource(collection)),
        );
    }
    s.stamp(&mut body, Some(&old));
    s.objects.insert(key.to_string(), body.clone());
    (200, body)
}

fn apply(
    s: &mut ApiState,
    collection: &str,
    key: &str,
    query: &BTreeMap<String, String>,
    content_type: &str,
    mut body: Value,
) -> (u16, Value) {
    if content_type != "application/apply-patch+yaml" {
        return status(
            415,
            "UnsupportedMediaType",
            &format!("the mock takes server-side apply only, not {content_type}"),
        );
    }
    if query.get("fieldManager").is_none_or(|m| m.is_empty()) {
        return status(
            400,
            "BadRequest",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        );
    }
    let name = key.rsplit('/').next().unwrap_or_default();
    if body["metadata"]["name"].as_str() != Some(name) {
        return status(400, "BadRequest", "the name of the object does not match the name on the URL");
    }
    let ns = collection.split('/').skip_while(|p| *p != "namespaces").nth(1).unwrap_or_default();
    if body["metadata"]["namespace"].as_str().is_some_and(|n| n != ns) {
        return status(400, "BadRequest", "the namespace of the object does not match the namespace on the URL");
    }
    if let Err(e) = select::check_typed(collection, &body) {
        return e;
    }
    s.applied.push(body.clone());
    let old = s.objects.get(key).cloned();
    if let Some(o) = &old {
        if resource(collection) == "jobs" && o["spec"]["template"] != body["spec"]["template"] {
            return status(
                422,
                "Invalid",
                &format!("Job.batch \"{name}\" is invalid: spec.template: Invalid value: field is immutable"),
            );
        }
        body["status"] = o["status"].clone();
        if body["status"].is_null() {
            body.as_object_mut().map(|m| m.remove("status"));
        }
    }
    s.stamp(&mut body, old.as_ref());
    s.objects.insert(key.to_string(), body.clone());
    controllers::applied(s, collection, key);
    (if old.is_some() { 200 } else { 201 }, s.objects.get(key).cloned().unwrap_or(body))
}
