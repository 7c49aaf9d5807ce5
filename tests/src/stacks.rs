//! Stacks for the deploy tests, built as `StackSpec`s: the compose issue's stack (app and worker
//! from the demo image, a prestart migration, a database and a cache as busybox stand-ins),
//! with short health intervals.

use std::collections::BTreeMap;
use std::time::Duration;

use slipway::stack::*;

/// A service on the project's default network.
pub fn service(name: &str, image: &str) -> ServiceSpec {
    let mut s = ServiceSpec::default();
    s.name = name.into();
    s.image = Some(image.into());
    s.networks.insert("default".into(), ServiceNetwork::default());
    s
}

fn depends(s: &mut ServiceSpec, on: &str, condition: DependencyCondition) {
    let mut d: Dependency = serde_json::from_value(serde_json::json!({
        "condition": "service_started", "required": true, "restart": false
    }))
    .expect("dependency");
    d.condition = condition;
    s.depends_on.insert(on.into(), d);
}

fn x_slipway(s: &mut ServiceSpec, v: serde_json::Value) {
    s.extensions.insert("x-slipway".into(), v);
}

/// A busybox process that idles and stops on SIGTERM.
fn idler(name: &str, busybox: &str) -> ServiceSpec {
    let mut s = service(name, busybox);
    s.command = Some(vec!["sh".into(), "-c".into(), "trap 'exit 0' TERM; while true; do sleep 0.2; done".into()]);
    x_slipway(&mut s, serde_json::json!({"min_running": "500ms"}));
    s
}

/// The shop stack: `app` (demo serve, healthcheck), `worker` (demo worker), `prestart` (demo
/// migrate), `db` (busybox with a named volume), `cache` (busybox). `version` goes to APP_VERSION.
pub fn shop(project: &str, demo: &str, busybox: &str, version: &str) -> StackSpec {
    let mut app = service("app", demo);
    app.environment.insert("APP_VERSION".into(), Some(version.into()));
    app.healthcheck = Some(
        serde_json::from_value(serde_json::json!({
            "test": ["CMD", "/demo-app", "check", "http://127.0.0.1:8080/health"],
            "interval": "300ms", "timeout": "2s", "retries": 3, "start_period": null, "start_interval": null
        }))
        .expect("healthcheck"),
    );
    x_slipway(&mut app, serde_json::json!({"health_timeout": "8s"}));
    app.stop_grace_period = Some(Duration::from_secs(3));
    depends(&mut app, "prestart", DependencyCondition::ServiceCompletedSuccessfully);
    depends(&mut app, "db", DependencyCondition::ServiceHealthy);
    depends(&mut app, "cache", DependencyCondition::ServiceStarted);

    let mut worker = service("worker", demo);
    worker.command = Some(vec!["worker".into()]);
    worker.environment.insert("APP_VERSION".into(), Some(version.into()));
    // The worker is gated by a health-room probe: its "ready" log line.
    x_slipway(
        &mut worker,
        serde_json::json!({"probes": ["log://{container}?pattern=worker ready"], "health_timeout": "10s"}),
    );
    depends(&mut worker, "db", DependencyCondition::ServiceStarted);

    let mut prestart = service("prestart", demo);
    prestart.command = Some(vec!["migrate".into()]);
    prestart.environment.insert("APP_VERSION".into(), Some(version.into()));
    depends(&mut prestart, "db", DependencyCondition::ServiceStarted);

    let mut db = idler("db", busybox);
    db.volumes.push(
        serde_json::from_value(serde_json::json!({
            "kind": "volume", "source": "data", "target": "/data", "read_only": false
        }))
        .expect("mount"),
    );
    let cache = idler("cache", busybox);

    let mut stack = StackSpec::default();
    stack.name = project.into();
    for s in [app, worker, prestart, db, cache] {
        stack.services.insert(s.name.clone(), s);
    }
    let mut net = NetworkSpec::default();
    net.name = format!("{project}_default");
    stack.networks.insert("default".into(), net);
    let mut vol = VolumeSpec::default();
    vol.name = format!("{project}_data");
    stack.volumes.insert("data".into(), vol);
    stack
}

/// Set an environment variable of one service.
pub fn set_env(stack: &mut StackSpec, service: &str, key: &str, value: &str) {
    if let Some(s) = stack.services.get_mut(service) {
        s.environment.insert(key.into(), Some(value.into()));
    }
}

/// Labels by key, for assertions.
pub type Labels = BTreeMap<String, String>;
