//! `cargo run --release -p slipway-benches --bin remote_deploy [-- ROUNDS]`: figures for the
//! engine room.
//!
//! The same deploys (the shop stack: first deploy with a prestart one-off, an upgrade, a no-op
//! redeploy) on the local engine and on a `RemoteHost` (dockerd + sshd in their own network
//! namespace): through its own unix socket (no SSH: how fast the second engine itself is), over
//! `ssh://`, over `ssh://HOST/SOCKET` (forwarded through the master) and the same with the master
//! kept between commands; ROUNDS times each (default 3). Prints the median time of each phase and
//! the ratios, the SSH connections sshd accepted per deploy command (each phase is one command:
//! one `Connection`, hence one master connection) and the sessions multiplexed over it, where the
//! time goes step by step, and the goal's figures: ssh / local (the goal), socket / local (the
//! second engine against the local one) and ssh / socket (SSH's own cost).

use std::time::{Duration, Instant};

use slipway::deploy::{DeployOptions, Deployer, DockerHost};
use slipway::engine::{ConnectOptions, Connection};
use slipway_e2e::remote_host::{self, RemoteHost};
use slipway_e2e::{images, names, project::ProjectGuard, stacks};

const PHASES: [&str; 3] = ["first deploy", "upgrade", "no-op redeploy"];

/// Where a deploy's time goes: each step's time (`StepDone`), keyed by its description with the
/// project's name taken out, and the time before the first step (lock, resolve, plan).
#[derive(Default)]
struct StepTimes {
    started: std::sync::Mutex<Option<Instant>>,
    steps: std::sync::Mutex<Vec<(String, Duration)>>,
    project: String,
}

impl StepTimes {
    fn new(project: &str) -> Self {
        StepTimes {
            started: std::sync::Mutex::new(Some(Instant::now())),
            project: project.into(),
            ..Default::default()
        }
    }
    fn take(&self) -> Vec<(String, Duration)> {
        std::mem::take(&mut *self.steps.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl slipway::Observer for StepTimes {
    fn event(&self, event: &slipway::Event) {
        use slipway::deploy::DeployEvent;
        let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            slipway::Event::Deploy(DeployEvent::StepStarted { index: 1, .. }) => {
                if let Some(t) = self.started.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    steps.push(("(before the first step: lock, resolve, plan)".into(), t.elapsed()));
                }
            }
            slipway::Event::Deploy(DeployEvent::StepDone { description, millis, .. }) => {
                let key = description.replace(&self.project, "P");
                steps.push((key, Duration::from_millis(*millis)));
            }
            _ => {}
        }
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Step times of one target: per phase, per step description, every round's time.
type Steps = Vec<std::collections::BTreeMap<String, Vec<Duration>>>;

/// One round: the three phases, each through a fresh connection; (times, (master connections,
/// sessions) per phase); each phase's step times go into `steps`.
async fn round(
    connect: &ConnectOptions,
    project: &str,
    demo: &str,
    busybox: &str,
    connections: impl Fn() -> (usize, usize),
    steps: &mut Steps,
) -> anyhow::Result<(Vec<Duration>, Vec<(usize, usize)>)> {
    let opts = DeployOptions::default().min_running(Duration::from_millis(500));
    let (mut times, mut conns) = (Vec::new(), Vec::new());
    steps.resize_with(PHASES.len(), Default::default);
    for (i, version) in ["v1", "v2", "v2"].iter().enumerate() {
        let before = connections();
        let t = Instant::now();
        let timeline = StepTimes::new(project);
        let host = DockerHost::connect(&Connection::resolve(connect)?).await?;
        host.apply(&stacks::shop(project, demo, busybox, version), &opts, &timeline).await?;
        drop(host);
        times.push(t.elapsed());
        for (step, took) in timeline.take() {
            steps[i].entry(step).or_default().push(took);
        }
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

/// One way of reaching an engine, and what was measured through it.
struct Target {
    /// Column name.
    name: &'static str,
    connect: ConnectOptions,
    /// The project suffix (each target deploys its own project).
    suffix: &'static str,
    /// Over SSH: sshd's counts are read per command.
    ssh: bool,
    times: Vec<Vec<Duration>>,
    conns: Vec<(usize, usize)>,
    steps: Steps,
}

impl Target {
    fn new(name: &'static str, connect: ConnectOptions, suffix: &'static str, ssh: bool) -> Self {
        Target { name, connect, suffix, ssh, times: vec![Vec::new(); 3], conns: Vec::new(), steps: Vec::new() }
    }
    fn median(&mut self, phase: usize) -> Duration {
        median(&mut self.times[phase])
    }
    fn all_three(&mut self) -> Duration {
        (0..3).map(|i| self.median(i)).sum()
    }
}

const LOCAL: usize = 0;
const SOCKET: usize = 1;
const SSH: usize = 2;
const FWD: usize = 3;
const KEPT: usize = 4;

async fn run(remote: &RemoteHost, rounds: usize, demo: &str, busybox: &str) -> anyhow::Result<()> {
    for image in [demo, busybox] {
        remote.load_image(image)?;
    }
    let ssh = ConnectOptions::host(Some(&remote.ssh_url())).ssh_config(Some(remote.ssh_config()));
    // ssh:// naming the remote socket: forwarded through the master, no remote docker CLI.
    let fwd = ConnectOptions::host(Some(&remote.ssh_url_with_socket())).ssh_config(Some(remote.ssh_config()));
    let mut targets = [
        Target::new("local", ConnectOptions::host(Some("unix:///var/run/docker.sock")), "", false),
        // The same namespaced engine through its unix socket: separates the cost of SSH from the
        // cost of a second engine on this machine.
        Target::new("socket", ConnectOptions::host(Some(&remote.socket())), "-d", false),
        Target::new("ssh", ssh, "-s", true),
        Target::new("ssh+fwd", fwd.clone(), "-f", true),
        // ... and its master kept between commands (`--ssh-persist`): no handshake per command.
        Target::new("ssh+kept", fwd.ssh_persist(Some(Duration::from_secs(60))), "-k", true),
    ];
    let counts = || (remote.accepted_connections(), remote.sessions_started());
    for r in 0..rounds {
        let base = names::unique("bench-remote");
        let _local_guard = ProjectGuard::new(&base);
        // Each round starts at the next target: a load that changes over the run (a shared
        // machine) then weighs on every target alike rather than on the last ones.
        let n = targets.len();
        for k in 0..n {
            let t = &mut targets[(k + r) % n];
            let project = format!("{base}{}", t.suffix);
            let _remote_guard = remote.project_guard(&project);
            eprintln!("round {}/{rounds}: {}", r + 1, t.name);
            let count = |ssh: bool| move || if ssh { counts() } else { (0, 0) };
            let (times, conns) = round(&t.connect, &project, demo, busybox, count(t.ssh), &mut t.steps).await?;
            times.into_iter().enumerate().for_each(|(i, d)| t.times[i].push(d));
            if t.ssh {
                t.conns.extend(conns);
            }
            if t.connect.ssh_persist.is_some() {
                // End the kept master: each round starts from none, as the first command of a CI job.
                let connection = Connection::resolve(&t.connect)?;
                slipway::engine::connect(&connection).await?;
                connection.close_ssh_master();
            }
        }
    }
    let mut latency = Vec::new();
    for t in &targets {
        latency.push(request_latency(&t.connect).await?);
    }
    report(&mut targets, rounds);
    println!("\none engine request (GET /_ping, 50 in a row on one pooled connection, median), and connecting:");
    for (t, (ping, connect)) in targets.iter().zip(&latency) {
        println!(
            "  {:<9} {:>6.2} ms per request, {:>7.1} ms to connect (resolve, ssh handshake, version)",
            t.name,
            ping.as_secs_f64() * 1e3,
            connect.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// The median time of one engine request through `connect` (after the connection is made), and
/// the time to connect.
async fn request_latency(connect: &ConnectOptions) -> anyhow::Result<(Duration, Duration)> {
    let t = Instant::now();
    let connection = Connection::resolve(connect)?;
    let docker = slipway::engine::connect(&connection).await?;
    let connecting = t.elapsed();
    let mut each = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        docker.ping().await?;
        each.push(t.elapsed());
    }
    if connect.ssh_persist.is_some() {
        connection.close_ssh_master();
    }
    Ok((median(&mut each), connecting))
}

fn report(targets: &mut [Target; 5], rounds: usize) {
    println!("remote_deploy: the shop stack, {rounds} rounds, median per phase (each phase is one command)");
    println!(
        "{:<16} {:>8} {:>8} {:>8} {:>8} {:>8} {:>12} {:>10} {:>10} {:>11} {:>11}",
        "phase",
        "local",
        "socket",
        "ssh",
        "ssh+fwd",
        "ssh+kept",
        "socket/local",
        "ssh/local",
        "fwd/local",
        "kept/local",
        "fwd/socket"
    );
    let line = |name: &str, t: [Duration; 5]| {
        let [l, d, s, f, k] = t.map(|d| d.as_secs_f64());
        println!(
            "{name:<16} {l:>7.2}s {d:>7.2}s {s:>7.2}s {f:>7.2}s {k:>7.2}s {:>11.2}x {:>9.2}x {:>9.2}x {:>10.2}x {:>10.2}x",
            d / l,
            s / l,
            f / l,
            k / l,
            f / d
        );
    };
    for (i, phase) in PHASES.iter().enumerate() {
        let t: [Duration; 5] = std::array::from_fn(|k| targets[k].median(i));
        line(phase, t);
    }
    let totals: [Duration; 5] = std::array::from_fn(|k| targets[k].all_three());
    line("all three", totals);
    println!(
        "(local: this machine's engine; socket: the second, namespaced engine (tests/src/remote_host.rs) through its \
         own unix socket, no SSH; ssh: that engine over ssh:// (a remote `docker system dial-stdio` per connection); \
         ssh+fwd: ssh:// naming the remote socket, forwarded through the master; ssh+kept: the same with the master \
         kept between commands (--ssh-persist 60s))"
    );
    for k in [SSH, FWD, KEPT] {
        let masters: Vec<usize> = targets[k].conns.iter().map(|c| c.0).collect();
        let sessions: Vec<usize> = targets[k].conns.iter().map(|c| c.1).collect();
        println!(
            "{}: SSH connections accepted by sshd per command {masters:?}, sessions per command {sessions:?}",
            targets[k].name
        );
    }
    steps_compared(targets);
    let secs = |d: Duration| d.as_secs_f64();
    let (l, d, f) = (secs(totals[LOCAL]), secs(totals[SOCKET]), secs(totals[FWD]));
    let one_master = targets[FWD].conns.iter().all(|c| c.0 == 1);
    println!("\ngoal (issue #14): a deploy over SSH at most 1.3x the same deploy on the local engine, one master connection.");
    println!("  ssh+fwd / local engine:          {:.2}x  <- the goal's figure", f / l);
    println!("  second engine / local engine:    {:.2}x  (socket / local: no SSH involved)", d / l);
    println!(
        "  SSH's own cost:                  {:.2}x  (ssh+fwd / socket: the same engine with and without SSH)",
        f / d
    );
    println!("  one master connection per command (ssh+fwd): {one_master}");
    if d / l > 1.1 {
        println!(
            "  The second engine alone is {:.2}x the local one on this machine, so ssh+fwd / local mixes SSH's cost \
             with a slower engine: on a real remote host of the local engine's speed, the figure is SSH's own cost.",
            d / l
        );
    }
}

/// Per step, the median over rounds (first deploy and upgrade) on the local engine, the second
/// engine's socket and ssh+fwd; the steps where the second engine differs most first.
fn steps_compared(targets: &mut [Target; 5]) {
    println!("\nwhere the time goes (median per step over rounds; steps differing by 50 ms or more, largest first):");
    println!("{:<8} {:<60} {:>8} {:>8} {:>8}", "phase", "step", "local", "socket", "ssh+fwd");
    let mut rows = Vec::new();
    for (i, phase) in PHASES.iter().enumerate().take(2) {
        let keys: std::collections::BTreeSet<String> =
            targets.iter().flat_map(|t| t.steps.get(i).into_iter().flat_map(|m| m.keys().cloned())).collect();
        for key in keys {
            let m: [Option<Duration>; 3] = [LOCAL, SOCKET, FWD]
                .map(|k| targets[k].steps.get_mut(i).and_then(|s| s.get_mut(&key)).map(|v| median(v)));
            let (l, d) = (m[0].unwrap_or_default(), m[1].unwrap_or_default());
            let diff = d.as_secs_f64() - l.as_secs_f64();
            if diff.abs() >= 0.05 || m[2].unwrap_or_default().abs_diff(l) >= Duration::from_millis(50) {
                rows.push((diff, phase, key, m));
            }
        }
    }
    rows.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    let show = |d: Option<Duration>| d.map(|d| format!("{:.2}s", d.as_secs_f64())).unwrap_or_else(|| "-".into());
    for (_, phase, key, m) in rows.into_iter().take(15) {
        let phase = phase.split(' ').next().unwrap_or_default();
        let key: String = key.chars().take(60).collect();
        println!("{phase:<8} {key:<60} {:>8} {:>8} {:>8}", show(m[0]), show(m[1]), show(m[2]));
    }
}
