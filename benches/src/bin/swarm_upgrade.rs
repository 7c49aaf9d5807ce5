//! `cargo run -p slipway-benches --bin swarm_upgrade`: figures for the swarm room.
//!
//! A real three-node Swarm (`TestSwarm`: namespaced engines, manager over `ssh://`, images from
//! a registry on the bridge). One service, 2 replicas, host-mode port (no IPVS here, so no
//! routing mesh), `endpoint_mode: dnsrr`, a healthcheck. Under load (4 clients; a request tries
//! the nodes' addresses in turn, as a balancer that retries refused connections, and is lost
//! when none answers 200), it times an upgrade by `slipway deploy` (Swarm target) and one by
//! `docker service update --image` on the same service, and counts the requests lost in each.
//! Bounded: each upgrade at most 180 s; only the namespaces' addresses are targets.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slipway::deploy::{DeployOptions, Deployer};
use slipway::NoopObserver;
use slipway_e2e::swarm::TestSwarm;
use slipway_e2e::{images, names};

fn stack(dir: &std::path::Path, project: &str, image: &str, port: u16) -> anyhow::Result<slipway::stack::StackSpec> {
    let yaml = format!(
        r#"
name: {project}
services:
  app:
    image: {image}
    ports: [{{target: 8080, published: {port}, mode: host}}]
    healthcheck: {{test: ["CMD", "/demo-app", "check", "http://127.0.0.1:8080/health"], interval: 500ms, timeout: 2s, retries: 3}}
    stop_grace_period: 3s
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
      placement: {{max_replicas_per_node: 1}}
"#
    );
    let path = dir.join("compose.yaml");
    std::fs::write(&path, yaml)?;
    let mut opts = slipway::compose::LoadOptions::default();
    opts.files = vec![path];
    opts.working_dir = Some(dir.to_path_buf());
    Ok(slipway::compose::load(&opts)?.stack)
}

struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    lost: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn start_load(addrs: Vec<String>, port: u16) -> Load {
    let (stop, ok, lost) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(2)).pool_max_idle_per_host(0).build().expect("client");
    let tasks = (0..4)
        .map(|i| {
            let (stop, ok, lost, client, addrs) =
                (stop.clone(), ok.clone(), lost.clone(), client.clone(), addrs.clone());
            tokio::spawn(async move {
                let mut n = i;
                while !stop.load(Ordering::Relaxed) {
                    let mut served = false;
                    for k in 0..addrs.len() {
                        let url = format!("http://{}:{port}/version", addrs[(n + k) % addrs.len()]);
                        if let Ok(r) = client.get(&url).send().await {
                            if r.status().is_success() {
                                served = true;
                                break;
                            }
                        }
                    }
                    n += 1;
                    if served {
                        ok.fetch_add(1, Ordering::Relaxed)
                    } else {
                        lost.fetch_add(1, Ordering::Relaxed)
                    };
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();
    Load { stop, ok, lost, tasks }
}

impl Load {
    async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        (self.ok.load(Ordering::Relaxed), self.lost.load(Ordering::Relaxed))
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let swarm = TestSwarm::shared().await?;
    let mut tags = Vec::new();
    for v in ["v1", "v2", "v3"] {
        tags.push(swarm.push(&images::demo_image_version(v).await?, &format!("swarm/bench:{v}"))?);
    }
    let m = &swarm.manager;
    // The bridge registry needs auth and the nodes have no login: both sides send credentials.
    let deployer = swarm.deployer(Duration::from_secs(180)).await?;
    let dir = tempfile::tempdir()?;
    let project = names::unique("swarmbench");
    let port = 19000 + (std::process::id() % 1000) as u16;
    let opts = DeployOptions::default().min_running(Duration::from_secs(2));
    deployer.apply(&stack(dir.path(), &project, &tags[0], port)?, &opts, &NoopObserver).await?;
    let addrs: Vec<String> = swarm.hosts().map(|h| h.addr()).collect();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let load = start_load(addrs.clone(), port);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t = Instant::now();
    let upgraded = tokio::time::timeout(
        Duration::from_secs(200),
        deployer.apply(&stack(dir.path(), &project, &tags[1], port)?, &opts, &NoopObserver),
    )
    .await;
    let slipway_time = t.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ok, lost) = load.finish().await;
    println!(
        "slipway deploy --target swarm (v1 -> v2): {:.1} s, {lost} lost of {} requests ({})",
        slipway_time.as_secs_f64(),
        ok + lost,
        match upgraded {
            Ok(Ok(_)) => "succeeded".to_string(),
            Ok(Err(e)) => format!("failed: {e}"),
            Err(_) => "timed out".into(),
        }
    );

    // The same service, by the docker CLI (it waits for convergence; its own update defaults).
    let image = tags[2].clone();
    let service = format!("{project}_app");
    let socket = m.socket();
    let load = start_load(addrs, port);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t = Instant::now();
    let cli = tokio::time::timeout(
        Duration::from_secs(200),
        tokio::process::Command::new("docker")
            .args(["-H", &socket, "service", "update", "--quiet", "--detach=false", "--with-registry-auth"])
            .args(["--image", &image, &service])
            .output(),
    )
    .await;
    let cli_time = t.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ok, lost) = load.finish().await;
    let status = match cli {
        Ok(Ok(o)) if o.status.success() => "succeeded".to_string(),
        Ok(Ok(o)) => format!("failed: {}", String::from_utf8_lossy(&o.stderr).trim()),
        Ok(Err(e)) => format!("failed: {e}"),
        Err(_) => "timed out".into(),
    };
    println!(
        "docker service update --image (v2 -> v3): {:.1} s, {lost} lost of {} requests ({status})",
        cli_time.as_secs_f64(),
        ok + lost
    );
    println!("(slipway's spec: start-first, failure_action rollback, monitor 2 s; the CLI keeps the spec's update_config and only changes the image)");
    let _ = tokio::process::Command::new("docker").args(["-H", &socket, "service", "rm", &service]).output().await;
    Ok(())
}
