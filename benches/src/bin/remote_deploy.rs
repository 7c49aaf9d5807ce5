//! `cargo run -p slipway-benches --bin remote_deploy [-- ROUNDS]`: figures for the engine room.
//!
//! The same deploys (the shop stack: first deploy with a prestart one-off, an upgrade, a no-op
//! redeploy) on the local engine and on a `RemoteHost` over `ssh://` (dockerd + sshd in their own
//! network namespace), ROUNDS times each (default 3). Prints the median time of each phase, the
//! ssh / local ratio, and the SSH connections sshd accepted per deploy command (each phase is one
//! command: one `Connection`, hence one master connection) and the SSH sessions multiplexed over
//! it (one per HTTP connection to the engine, one per tunneled probe connection).

use std::time::{Duration, Instant};

use slipway::deploy::{DeployOptions, Deployer, DockerHost};
use slipway::engine::{ConnectOptions, Connection};
use slipway::NoopObserver;
use slipway_e2e::remote_host::{self, RemoteHost};
use slipway_e2e::{images, names, project::ProjectGuard, stacks};

const PHASES: [&str; 3] = ["first deploy", "upgrade", "no-op redeploy"];

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One round: the three phases, each through a fresh connection; (times, (master connections,
/// sessions) per phase).
async fn round(
    connect: &ConnectOptions,
    project: &str,
    demo: &str,
    busybox: &str,
    connections: impl Fn() -> (usize, usize),
) -> anyhow::Result<(Vec<Duration>, Vec<(usize, usize)>)> {
    let opts = DeployOptions::default().min_running(Duration::from_millis(500));
    let (mut times, mut conns) = (Vec::new(), Vec::new());
    for (i, version) in ["v1", "v2", "v2"].iter().enumerate() {
        let before = connections();
        let t = Instant::now();
        let host = DockerHost::connect(&Connection::resolve(connect)?).await?;
        host.apply(&stacks::shop(project, demo, busybox, version), &opts, &NoopObserver).await?;
        drop(host);
        times.push(t.elapsed());
        let after = connections();
        conns.push((after.0 - before.0, after.1 - before.1));
        eprintln!("  {}: {:.2}s", PHASES[i], times[i].as_secs_f64());
    }
    Ok((times, conns))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(3);
    let (demo, busybox) = (images::demo_image().await?, images::busybox_base().await?);
    let remote = tokio::task::spawn_blocking(|| RemoteHost::start(false)).await??;
    let result = run(&remote, rounds, &demo, &busybox).await;
    remote_host::teardown(remote.slot());
    result
}

async fn run(remote: &RemoteHost, rounds: usize, demo: &str, busybox: &str) -> anyhow::Result<()> {
    for image in [demo, busybox] {
        remote.load_image(image)?;
    }
    let local = ConnectOptions::host(Some("unix:///var/run/docker.sock"));
    let ssh = ConnectOptions::host(Some(&remote.ssh_url())).ssh_config(Some(remote.ssh_config()));
    // The same namespaced engine through its unix socket: separates the cost of SSH from the cost
    // of a second engine on this machine.
    let direct = ConnectOptions::host(Some(&remote.socket()));
    let (mut local_t, mut ssh_t, mut direct_t) = (vec![Vec::new(); 3], vec![Vec::new(); 3], vec![Vec::new(); 3]);
    let mut ssh_conns = Vec::new();
    for r in 0..rounds {
        let project = names::unique("bench-remote");
        let _local_guard = ProjectGuard::new(&project);
        eprintln!("round {}/{rounds}: local", r + 1);
        let (t, _) = round(&local, &project, demo, busybox, || (0, 0)).await?;
        t.into_iter().enumerate().for_each(|(i, d)| local_t[i].push(d));
        let _remote_guard = remote.project_guard(&project);
        eprintln!("round {}/{rounds}: the remote engine's socket", r + 1);
        let (t, _) = round(&direct, &format!("{project}-d"), demo, busybox, || (0, 0)).await?;
        t.into_iter().enumerate().for_each(|(i, d)| direct_t[i].push(d));
        let _direct_guard = remote.project_guard(&format!("{project}-d"));
        eprintln!("round {}/{rounds}: ssh", r + 1);
        let counts = || (remote.accepted_connections(), remote.sessions_started());
        let (t, c) = round(&ssh, &project, demo, busybox, counts).await?;
        t.into_iter().enumerate().for_each(|(i, d)| ssh_t[i].push(d));
        ssh_conns.extend(c);
    }
    println!("remote_deploy: the shop stack, {rounds} rounds, median per phase (each phase is one command)");
    println!("{:<16} {:>9} {:>9} {:>9} {:>10} {:>10}", "phase", "local", "ssh", "socket", "ssh/local", "ssh/socket");
    let (mut total_l, mut total_s, mut total_d) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let line = |name: &str, l: Duration, s: Duration, d: Duration| {
        let (l, s, d) = (l.as_secs_f64(), s.as_secs_f64(), d.as_secs_f64());
        println!("{name:<16} {l:>8.2}s {s:>8.2}s {d:>8.2}s {:>9.2}x {:>9.2}x", s / l, s / d);
    };
    for i in 0..3 {
        let (l, s, d) = (median(&mut local_t[i]), median(&mut ssh_t[i]), median(&mut direct_t[i]));
        (total_l, total_s, total_d) = (total_l + l, total_s + s, total_d + d);
        line(PHASES[i], l, s, d);
    }
    line("all three", total_l, total_s, total_d);
    println!("(local: this machine's engine; ssh: the namespaced engine over ssh://; socket: the same namespaced engine through its unix socket)");
    let masters: Vec<usize> = ssh_conns.iter().map(|c| c.0).collect();
    let sessions: Vec<usize> = ssh_conns.iter().map(|c| c.1).collect();
    println!(
        "SSH connections accepted by sshd per deploy command: {masters:?} (min {}, max {})",
        masters.iter().min().unwrap_or(&0),
        masters.iter().max().unwrap_or(&0)
    );
    println!("SSH sessions (dial-stdio children and probe tunnels) per command, in phase order: {sessions:?}");
    Ok(())
}
