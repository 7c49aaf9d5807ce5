//! zero_downtime: the same bounded load through Traefik v3 while a web service (the demo app in
//! containers) goes through three upgrades, a failed upgrade and a rollback: once switched by
//! slipway's route room (file provider, API-confirmed switch, drain, then SIGTERM), once by
//! `docker compose up -d --wait` with Traefik's Docker provider. Prints total and failed
//! requests (from `hey`), the responses' versions over time (from a small in-process sampler)
//! and per deploy the time from "new container healthy" to "old one out of the rotation".
//!
//! Run: `CARGO_TARGET_DIR=... cargo run -p slipway-benches --bin zero_downtime`
//! Needs: Docker, `hey` (Debian), Compose v2 as a CLI plugin, Traefik in `.venv` (scripts/setup).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use slipway::route::traefik::TraefikRouter;
use slipway::route::{backend_for_container, container_labels, Backend, RouteSpec, TrafficRouter};
use slipway::stack::ServiceSpec;
use slipway::NoopObserver;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::containers::{Running, TestContainer};
use slipway_e2e::load::{Load, Sample};
use slipway_e2e::traefik::TestTraefik;
use slipway_e2e::{docker, images, names};
use tokio::time::{sleep_until, Instant};

/// Load: `hey` with 10 workers at 30 requests/s each (300/s) for 30 s.
const WORKERS: u32 = 10;
const PER_WORKER_QPS: u32 = 30;
const LOAD: Duration = Duration::from_secs(30);
/// The deploys and when they start (seconds into the load).
const DEPLOYS: [(&str, &str, bool, u64); 5] = [
    ("upgrade", "v2", true, 3),
    ("upgrade", "v3", true, 8),
    ("failed upgrade", "v4-broken", false, 13),
    ("upgrade", "v4", true, 18),
    ("rollback", "v3", true, 24),
];

/// One deploy's figures.
struct DeployFigure {
    what: String,
    outcome: String,
}

/// One run's figures.
struct RunFigures {
    name: &'static str,
    hey: HeySummary,
    samples: Vec<Sample>,
    deploys: Vec<DeployFigure>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let docker = docker::connect().await?;
    let image = images::demo_image().await?;
    let slipway = run_slipway(&docker, &image).await.context("slipway run")?;
    let compose = run_compose(&image).await.context("docker compose run")?;
    println!("zero_downtime: {WORKERS} connections x {PER_WORKER_QPS} req/s for {LOAD:?} through Traefik, per run");
    for run in [&slipway, &compose] {
        println!("\n== {}", run.name);
        println!("requests (hey): total {} failed {}  {}", run.hey.total, run.hey.failed(), run.hey.breakdown());
        let sampled_failed = run.samples.iter().filter(|s| !s.ok()).count();
        println!("requests (sampler): total {} failed {sampled_failed}", run.samples.len());
        for d in &run.deploys {
            println!("  {:<28} {}", d.what, d.outcome);
        }
    }
    println!("\nversions over time (sampler, per second; x = failed):");
    println!("{:>4}  {:<40} {}", "t", slipway.name, compose.name);
    for second in 0..LOAD.as_secs() {
        println!("{second:>3}s  {:<40} {}", bucket(&slipway.samples, second), bucket(&compose.samples, second));
    }
    Ok(())
}

/// The demo web service as users label it for Traefik.
fn web_service(network: &str) -> ServiceSpec {
    let mut svc = ServiceSpec::default();
    svc.name = "web".into();
    for (k, v) in [
        ("traefik.enable", "true"),
        ("traefik.http.routers.web.rule", "PathPrefix(`/`)"),
        ("traefik.http.routers.web.entrypoints", "web"),
        ("traefik.http.services.web.loadbalancer.server.port", "8080"),
        ("traefik.http.services.web.loadbalancer.healthcheck.path", "/health"),
        ("traefik.http.services.web.loadbalancer.healthcheck.interval", "1s"),
        ("traefik.http.services.web.loadbalancer.healthcheck.timeout", "1s"),
        ("traefik.docker.network", network),
    ] {
        svc.labels.insert(k.into(), v.into());
    }
    svc.extensions.insert("x-slipway".into(), serde_json::json!({"route": {"drain": "1s"}}));
    svc
}

async fn run_slipway(docker: &bollard::Docker, image: &str) -> anyhow::Result<RunFigures> {
    let cleanup = Cleanup::new();
    let network = names::unique("route");
    docker
        .create_network(bollard::models::NetworkCreateRequest { name: network.clone(), ..Default::default() })
        .await?;
    cleanup.network(&network);
    let traefik = TestTraefik::start().await?;
    let svc = web_service(&network);
    let route = RouteSpec::from_service(&network, &svc)?.context("routed")?;
    let router = TraefikRouter::new(traefik.dynamic_dir(), &traefik.api_url())?.health_timeout(Duration::from_secs(3));
    let start_container = |version: &'static str, healthy: bool| {
        let mut c = TestContainer::new(image, names::unique("route")).env("APP_VERSION", version).network(&network);
        if !healthy {
            c = c.env("FAIL_HEALTH", "1");
        }
        for (k, v) in container_labels(&route, &svc.labels) {
            c = c.label(k, v);
        }
        c.start(docker, &cleanup)
    };
    let probe = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(1)).build()?;
    let mut old = start_container("v1", true).await?;
    let mut old_backend = backend_for_container(docker, &old.id, &route).await?;
    wait_healthy(&probe, &old_backend, Duration::from_secs(10)).await?;
    router.add_backend(&route, &old_backend, &NoopObserver).await?;

    let url = format!("{}/version", traefik.web_url());
    let (hey, sampler, start) = start_load(&url, traefik.client()?)?;
    let mut deploys = Vec::new();
    for (what, version, healthy, at) in DEPLOYS {
        sleep_until(start + Duration::from_secs(at)).await;
        let what = format!("{what} -> {version}");
        let new = start_container(version, healthy).await?;
        let new_backend = backend_for_container(docker, &new.id, &route).await?;
        let started = Instant::now();
        if let Err(e) = wait_healthy(&probe, &new_backend, Duration::from_secs(3)).await {
            stop(docker, &new).await;
            deploys.push(DeployFigure {
                what,
                outcome: format!("new never healthy ({e}); never routed, old kept serving"),
            });
            continue;
        }
        let healthy_after = started.elapsed();
        let report = router
            .switch(&route, std::slice::from_ref(&new_backend), std::slice::from_ref(&old_backend), &NoopObserver)
            .await?;
        stop(docker, &old).await;
        deploys.push(DeployFigure {
            what,
            outcome: format!(
                "healthy after {} ms; healthy -> old out of rotation {} ms (new live confirmed {} ms, old out confirmed {} ms), drained {} ms",
                healthy_after.as_millis(),
                (report.to_live + report.to_out).as_millis(),
                report.to_live.as_millis(),
                report.to_out.as_millis(),
                report.drained.as_millis()
            ),
        });
        (old, old_backend) = (new, new_backend);
    }
    let hey = finish_hey(hey).await?;
    let samples = sampler.stop().await;
    Ok(RunFigures { name: "slipway (file provider, confirmed switch)", hey, samples, deploys })
}

async fn run_compose(image: &str) -> anyhow::Result<RunFigures> {
    let project = names::unique("route");
    let dir = tempfile::Builder::new().prefix("slipway-t-route-compose-").tempdir()?;
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
    slipway::wait::wait_until("traefik to route v1", Duration::from_secs(30), Duration::from_millis(100), || {
        let req = client.get(&url).send();
        async move { req.await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
    })
    .await?;
    let (hey, sampler, start) = start_load(&url, client.clone())?;
    let mut deploys = Vec::new();
    for (what, version, healthy, at) in DEPLOYS {
        sleep_until(start + Duration::from_secs(at)).await;
        let t = Instant::now();
        let status = up(version, healthy).await?;
        deploys.push(DeployFigure {
            what: format!("{what} -> {version}"),
            outcome: format!(
                "`up -d --wait` {} after {} ms (it stops the old container before starting the new one)",
                if status.success() { "succeeded" } else { "FAILED" },
                t.elapsed().as_millis()
            ),
        });
    }
    let hey = finish_hey(hey).await?;
    let samples = sampler.stop().await;
    drop(down);
    Ok(RunFigures { name: "docker compose up -d --wait (Docker provider)", hey, samples, deploys })
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

async fn wait_healthy(client: &reqwest::Client, backend: &Backend, timeout: Duration) -> anyhow::Result<()> {
    let url = format!("{backend}/health");
    slipway::wait::wait_until("health", timeout, Duration::from_millis(50), || {
        let req = client.get(&url).send();
        async move { req.await.ok().filter(|r| r.status().is_success()).map(|_| ()) }
    })
    .await?;
    Ok(())
}

/// SIGTERM (the demo app drains), bounded wait for the exit.
async fn stop(docker: &bollard::Docker, c: &Running) {
    if c.signal(docker, "SIGTERM").await.is_ok() && c.wait_exit(docker, Duration::from_secs(15)).await.is_err() {
        let _ = c.signal(docker, "SIGKILL").await;
    }
}

fn start_load(url: &str, client: reqwest::Client) -> anyhow::Result<(tokio::process::Child, Load, Instant)> {
    let hey = tokio::process::Command::new("hey")
        .args(["-z", &format!("{}s", LOAD.as_secs()), "-c", &WORKERS.to_string(), "-q", &PER_WORKER_QPS.to_string()])
        .args(["-t", "10", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting hey (apt-get install hey)")?;
    let sampler = Load::start(client, url, 20, 2, LOAD);
    Ok((hey, sampler, Instant::now()))
}

/// What `hey` reported.
#[derive(Default)]
struct HeySummary {
    total: u64,
    by_status: BTreeMap<u16, u64>,
    errors: u64,
}

impl HeySummary {
    fn failed(&self) -> u64 {
        self.errors + self.by_status.iter().filter(|(s, _)| !(200..300).contains(*s)).map(|(_, n)| n).sum::<u64>()
    }
    fn breakdown(&self) -> String {
        let mut parts: Vec<String> = self.by_status.iter().map(|(s, n)| format!("[{s}] {n}")).collect();
        parts.push(format!("[transport errors] {}", self.errors));
        parts.join(", ")
    }
}

async fn finish_hey(hey: tokio::process::Child) -> anyhow::Result<HeySummary> {
    let out = tokio::time::timeout(LOAD + Duration::from_secs(30), hey.wait_with_output()).await??;
    let text = String::from_utf8_lossy(&out.stdout);
    let status = regex::Regex::new(r"\[(\d{3})\]\s+(\d+) responses")?;
    let error = regex::Regex::new(r"(?m)^\s+\[(\d+)\]\s+\D")?;
    let mut summary = HeySummary::default();
    for c in status.captures_iter(&text) {
        summary.by_status.insert(c[1].parse()?, c[2].parse()?);
    }
    if let Some(errors) = text.split("Error distribution:").nth(1) {
        summary.errors = error.captures_iter(errors).map(|c| c[1].parse::<u64>().unwrap_or(0)).sum();
    }
    summary.total = summary.by_status.values().sum::<u64>() + summary.errors;
    anyhow::ensure!(summary.total > 0, "hey printed no results:\n{text}");
    Ok(summary)
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
