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
    // ssh:// naming the remote socket: forwarded through the master, no remote docker CLI.
    let fwd = ConnectOptions::host(Some(&remote.ssh_url_with_socket())).ssh_config(Some(remote.ssh_config()));
    let (mut local_t, mut ssh_t, mut direct_t) = (vec![Vec::new(); 3], vec![Vec::new(); 3], vec![Vec::new(); 3]);
    // ... and its master kept between commands (opt-in `ControlPersist`): no handshake per command.
    let kept = fwd.clone().ssh_persist(Some(Duration::from_secs(60)));
    let (mut fwd_t, mut kept_t) = (vec![Vec::new(); 3], vec![Vec::new(); 3]);
    let (mut ssh_conns, mut fwd_conns, mut kept_conns) = (Vec::new(), Vec::new(), Vec::new());
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
        let _fwd_guard = remote.project_guard(&format!("{project}-f"));
        eprintln!("round {}/{rounds}: ssh with the socket forwarded", r + 1);
        let (t, c) = round(&fwd, &format!("{project}-f"), demo, busybox, counts).await?;
        t.into_iter().enumerate().for_each(|(i, d)| fwd_t[i].push(d));
        fwd_conns.extend(c);
        let _kept_guard = remote.project_guard(&format!("{project}-k"));
        eprintln!("round {}/{rounds}: ssh with the socket forwarded and the master kept", r + 1);
        let (t, c) = round(&kept, &format!("{project}-k"), demo, busybox, counts).await?;
        t.into_iter().enumerate().for_each(|(i, d)| kept_t[i].push(d));
        kept_conns.extend(c);
        // End the kept master: each round starts from none, as the first command of a CI job.
        let connection = Connection::resolve(&kept)?;
        slipway::engine::connect(&connection).await?;
        connection.close_ssh_master();
    }
    println!("remote_deploy: the shop stack, {rounds} rounds, median per phase (each phase is one command)");
    println!(
        "{:<16} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10} {:>11} {:>11}",
        "phase", "local", "ssh", "ssh+fwd", "ssh+kept", "socket", "ssh/local", "fwd/local", "kept/local", "fwd/socket"
    );
    let mut totals = [Duration::ZERO; 5];
    let line = |name: &str, t: [Duration; 5]| {
        let [l, s, f, k, d] = t.map(|d| d.as_secs_f64());
        println!(
            "{name:<16} {l:>7.2}s {s:>7.2}s {f:>7.2}s {k:>7.2}s {d:>7.2}s {:>9.2}x {:>9.2}x {:>10.2}x {:>10.2}x",
            s / l,
            f / l,
            k / l,
            f / d
        );
    };
    for i in 0..3 {
        let t = [
            median(&mut local_t[i]),
            median(&mut ssh_t[i]),
            median(&mut fwd_t[i]),
            median(&mut kept_t[i]),
            median(&mut direct_t[i]),
        ];
        (0..5).for_each(|k| totals[k] += t[k]);
        line(PHASES[i], t);
    }
    line("all three", totals);
    println!(
        "(local: this machine's engine; ssh: the namespaced engine over ssh:// (a remote `docker system dial-stdio` per \
         connection); ssh+fwd: ssh:// naming the remote socket, forwarded through the master; ssh+kept: the same with \
         the master kept between commands (SLIPWAY_SSH_PERSIST); socket: the same namespaced engine through its unix \
         socket)"
    );
    let masters: Vec<usize> = ssh_conns.iter().map(|c| c.0).collect();
    let sessions: Vec<usize> = ssh_conns.iter().map(|c| c.1).collect();
    println!(
        "SSH connections accepted by sshd per deploy command: {masters:?} (min {}, max {})",
        masters.iter().min().unwrap_or(&0),
        masters.iter().max().unwrap_or(&0)
    );
    println!("SSH sessions (dial-stdio children and probe tunnels) per command, in phase order: {sessions:?}");
    let fwd_masters: Vec<usize> = fwd_conns.iter().map(|c| c.0).collect();
    let fwd_sessions: Vec<usize> = fwd_conns.iter().map(|c| c.1).collect();
    println!("ssh+fwd: SSH connections per command {fwd_masters:?}, sessions per command {fwd_sessions:?}");
    let kept_masters: Vec<usize> = kept_conns.iter().map(|c| c.0).collect();
    println!("ssh+kept: SSH connections per command {kept_masters:?} (the first command of each round connects)");
    Ok(())
}
