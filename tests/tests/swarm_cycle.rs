//! The Swarm target against a real three-node Swarm (`TestSwarm`: one manager, two workers, each
//! an engine in its own network namespace; the manager reached over `ssh://`; images from a
//! registry on the bridge): deploy with a one-off job and a secret, replicas on more than one
//! node, an upgrade with a rotated secret, a failing upgrade that Swarm rolls back and slipway
//! reports as failed with the old version serving, history, rollback, prune. Host-mode ports
//! and `endpoint_mode: dnsrr`: this kernel has no IPVS (no VIPs, no routing mesh). The registry
//! needs auth and no node is logged in: every pull works only through `with_registry_auth`.
//! Planted values (an environment variable, the secret's content, the registry password) are
//! grepped for in `docker service inspect`, the records and the `--json` output.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use slipway::deploy::{DeployEvent, DeployOptions, Deployer, ReleaseId, ReleaseOutcome};
use slipway::swarm::SwarmDeployer;
use slipway::{Event, RecordingObserver};
use slipway_e2e::swarm::TestSwarm;
use slipway_e2e::{images, names};

struct Fixture {
    swarm: &'static TestSwarm,
    deployer: SwarmDeployer,
    dir: tempfile::TempDir,
    project: String,
    port: u16,
    busybox: String,
}

impl Fixture {
    fn stack(&self, image: &str, token: &str, fail_health: bool) -> anyhow::Result<slipway::stack::StackSpec> {
        std::fs::write(self.dir.path().join("token.txt"), token)?;
        let fail = if fail_health { "FAIL_HEALTH: \"1\"" } else { "KEEP: \"1\"" };
        let yaml = format!(
            r#"
name: {project}
x-slipway: {{target: swarm}}
services:
  migrate:
    image: {image}
    command: ["migrate"]
  app:
    image: {image}
    environment:
      {fail}
      DB_PASSWORD: "{planted}"
    ports: [{{target: 8080, published: {port}, mode: host}}]
    healthcheck: {{test: ["CMD", "/demo-app", "check", "http://127.0.0.1:8080/health"], interval: 500ms, timeout: 2s, retries: 3}}
    stop_grace_period: 3s
    depends_on: {{migrate: {{condition: service_completed_successfully}}}}
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
      placement: {{max_replicas_per_node: 1}}
  holder:
    image: {busybox}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    secrets: [{{source: token, target: api_token}}]
    stop_grace_period: 2s
    deploy: {{endpoint_mode: dnsrr}}
secrets:
  token: {{file: ./token.txt}}
"#,
            project = self.project,
            port = self.port,
            busybox = self.busybox,
            planted = PLANTED_ENV,
        );
        let path = self.dir.path().join("compose.yaml");
        std::fs::write(&path, yaml)?;
        let mut opts = slipway::compose::LoadOptions::default();
        opts.files = vec![path];
        opts.working_dir = Some(self.dir.path().to_path_buf());
        Ok(slipway::compose::load(&opts)?.stack)
    }

    /// The `/version` answers of the app on every node that runs one of its tasks.
    async fn versions(&self) -> anyhow::Result<Vec<(String, String)>> {
        let st = self.deployer.swarm_status(&self.project).await?;
        let app = st.services.iter().find(|s| s.service == "app").expect("app service");
        let mut out = Vec::new();
        for t in app.tasks.iter().filter(|t| t.state == "running") {
            let addr = t.node_addr.clone().expect("node address");
            let url = format!("http://{addr}:{}/version", self.port);
            let body = reqwest::Client::new().get(&url).timeout(Duration::from_secs(5)).send().await?.text().await?;
            out.push((t.node.clone(), body.trim().to_string()));
        }
        Ok(out)
    }

    /// What the holder's current task reads from its secret (through the harness's own socket).
    async fn secret_seen(&self) -> anyhow::Result<String> {
        let st = self.deployer.swarm_status(&self.project).await?;
        let holder = st.services.iter().find(|s| s.service == "holder").expect("holder service");
        let [task] = holder.tasks.as_slice() else { anyhow::bail!("one holder task wanted: {:?}", holder.tasks) };
        let filter = format!("label=com.docker.swarm.task.id={}", task.id);
        for h in self.swarm.hosts() {
            let ids = h.docker(&["ps", "-q", "--filter", &filter])?;
            if let Some(id) = ids.split_whitespace().next() {
                return Ok(h.docker(&["exec", id, "cat", "/run/secrets/api_token"])?.trim().to_string());
            }
        }
        anyhow::bail!("the holder task's container runs nowhere")
    }

    fn secret_names(&self) -> anyhow::Result<BTreeSet<String>> {
        let out = self.swarm.manager.docker(&["secret", "ls", "--format", "{{.Name}}"])?;
        Ok(out.lines().filter(|l| l.starts_with(&self.project)).map(str::to_string).collect())
    }
}

/// An environment value that must appear in no record and no `--json` output.
const PLANTED_ENV: &str = "planted-env-value-7f3a";

/// The decoded data of every release record of `project` on the Swarm.
fn records_text(m: &slipway_e2e::remote_host::RemoteHost, project: &str) -> anyhow::Result<String> {
    let ids = m.docker(&["config", "ls", "--filter", &format!("label=dev.slipway.project={project}"), "-q"])?;
    let mut text = String::new();
    for id in ids.split_whitespace() {
        let data = m.docker(&["config", "inspect", id, "--format", "{{json .Spec.Data}}"])?;
        let raw = base64::engine::general_purpose::STANDARD.decode(data.trim().trim_matches('"'))?;
        text.push_str(&String::from_utf8_lossy(&raw));
    }
    Ok(text)
}

fn opts(tag: &str) -> DeployOptions {
    DeployOptions::default().min_running(Duration::from_secs(2)).version(Some(tag.into()))
}

fn one_offs(obs: &RecordingObserver) -> Vec<(String, i64)> {
    obs.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Deploy(DeployEvent::OneOffDone { service, exit_code, .. }) => Some((service, exit_code)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_cycle_on_a_three_node_swarm() -> anyhow::Result<()> {
    let swarm = TestSwarm::shared().await?;
    assert_eq!(swarm.node_ids()?.len(), 3);
    let busybox = swarm.push(&images::busybox_base().await?, "swarm/busybox:1")?;
    let mut tags = Vec::new();
    for v in ["v1", "v2", "v3"] {
        tags.push(swarm.push(&images::demo_image_version(v).await?, &format!("swarm/demo:{v}"))?);
    }
    let m = &swarm.manager;
    let deployer = swarm.deployer(Duration::from_secs(120)).await?;
    let fx = Fixture {
        swarm,
        deployer,
        dir: tempfile::tempdir()?,
        project: names::unique("swarm"),
        port: 18000 + (std::process::id() % 1000) as u16,
        busybox,
    };

    // 1. Deploy: the migration runs as a job first, the secret is mounted, two replicas on two nodes.
    let obs = RecordingObserver::default();
    let stack = fx.stack(&tags[0], "token-one", false)?;
    assert!(slipway::swarm::wants_swarm(&stack));
    let out = fx.deployer.apply(&stack, &opts("v1"), &obs).await?;
    assert_eq!(out.release.as_ref().map(|r| r.id), Some(ReleaseId(1)));
    assert_eq!(one_offs(&obs), vec![("migrate".to_string(), 0)]);
    let v = fx.versions().await?;
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v.iter().all(|(_, body)| body.contains("v1")), "{v:?}");
    assert_ne!(v[0].0, v[1].0, "the replicas run on different nodes");
    assert_eq!(fx.secret_seen().await?, "token-one");
    let first_secrets = fx.secret_names()?;
    assert_eq!(first_secrets.len(), 1);
    // Records live on the Swarm and hold no secret: not the secret's content, not an environment
    // value (names and a hash only), not the registry password; nor does the service's spec hold
    // the secret or the credentials, nor the release returned to the caller.
    let records = records_text(m, &fx.project)?;
    assert!(records.contains("DB_PASSWORD"), "the variable's name is kept");
    for planted in ["token-one", PLANTED_ENV, slipway_e2e::registry::TEST_PASSWORD] {
        assert!(!records.contains(planted), "{planted} in a record");
        let inspect =
            m.docker(&["service", "inspect", &format!("{}_app", fx.project), &format!("{}_holder", fx.project)])?;
        assert!(planted == PLANTED_ENV || !inspect.contains(planted), "{planted} in docker service inspect");
    }
    let returned = serde_json::to_string(&out.release)?;
    assert!(!returned.contains(PLANTED_ENV) && !returned.contains("token-one"), "{returned}");

    // 2. Upgrade with a rotated secret: a new secret object, every app task on v2.
    let out =
        fx.deployer.apply(&fx.stack(&tags[1], "token-two", false)?, &opts("v2"), &RecordingObserver::default()).await?;
    assert_eq!(out.release.as_ref().map(|r| r.id), Some(ReleaseId(2)));
    let v = fx.versions().await?;
    assert!(v.len() == 2 && v.iter().all(|(_, b)| b.contains("v2")), "{v:?}");
    assert_eq!(fx.secret_seen().await?, "token-two");
    let second_secrets = fx.secret_names()?;
    assert_eq!(second_secrets.len(), 2, "the rotated secret is a new object: {second_secrets:?}");

    // 3. A failing upgrade (health never passes): Swarm rolls back, slipway says failed (exit 1),
    //    names the service and the task's error; v2 keeps serving; the holder's change is undone.
    let err = fx
        .deployer
        .apply(&fx.stack(&tags[2], "token-three", true)?, &opts("v3"), &RecordingObserver::default())
        .await
        .expect_err("the unhealthy upgrade must fail");
    assert_eq!(err.kind().exit_code(), 1);
    let msg = err.to_string();
    assert!(msg.contains("service app") && msg.contains("rollback"), "{msg}");
    let v = fx.versions().await?;
    assert!(v.len() == 2 && v.iter().all(|(_, b)| b.contains("v2")), "{v:?}");
    assert_eq!(fx.secret_seen().await?, "token-two", "{msg}");

    // 4. History on the Swarm.
    let h = fx.deployer.history(&fx.project).await?;
    let ids: Vec<u64> = h.iter().map(|r| r.id.0).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert!(h[0].outcome.is_success() && h[1].outcome.is_success());
    assert!(matches!(&h[2].outcome, ReleaseOutcome::Failed { service, .. } if service == "app"), "{:?}", h[2].outcome);

    // 5. Rollback to release 1: the recorded specs again (v1, token-one), recorded as release 4.
    let out = fx.deployer.rollback(&fx.project, Some(ReleaseId(1)), &opts("v1"), &RecordingObserver::default()).await?;
    let r = out.release.expect("a release");
    assert_eq!((r.id, r.rollback_of), (ReleaseId(4), Some(ReleaseId(1))));
    let v = fx.versions().await?;
    assert!(v.len() == 2 && v.iter().all(|(_, b)| b.contains("v1")), "{v:?}");
    assert_eq!(fx.secret_seen().await?, "token-one");
    let env = m.docker(&[
        "service",
        "inspect",
        &format!("{}_app", fx.project),
        "--format",
        "{{json .Spec.TaskTemplate.ContainerSpec.Env}}",
    ])?;
    assert!(env.contains(&format!("DB_PASSWORD={PLANTED_ENV}")), "the rollback put the values back: {env}");
    assert!(!records_text(m, &fx.project)?.contains(PLANTED_ENV));

    // 6. Prune keeps the last two records and the objects they use.
    let report = fx.deployer.prune(&fx.project, 2).await?;
    assert_eq!(report.releases, vec!["1".to_string(), "2".to_string()]);
    let ids: Vec<u64> = fx.deployer.history(&fx.project).await?.iter().map(|r| r.id.0).collect();
    assert_eq!(ids, vec![3, 4]);
    let left = fx.secret_names()?;
    assert!(left.is_superset(&first_secrets), "release 4's secret stays: {left:?}");
    assert!(
        !left.iter().any(|s| second_secrets.contains(s) && !first_secrets.contains(s)),
        "token-two's secret went: {left:?}"
    );
    Ok(())
}

/// Build the CLI (cargo skips it when fresh) and return its path.
fn slipway_bin() -> std::path::PathBuf {
    let root = images::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(&root)
        .args(["build", "-q", "-p", "slipway-cli", "--bin", "slipway"])
        .status()
        .expect("cargo build");
    assert!(status.success());
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| root.join("target"));
    target.join("debug").join("slipway")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_deploys_to_the_swarm_by_x_slipway_and_fails_with_exit_1() -> anyhow::Result<()> {
    let swarm = TestSwarm::shared().await?;
    let v1 = swarm.push(&images::demo_image_version("v1").await?, "swarm/cli:v1")?;
    let v2 = swarm.push(&images::demo_image_version("v2").await?, "swarm/cli:v2")?;
    let (dir, project) = (tempfile::tempdir()?, names::unique("swarmcli"));
    let port = 17000 + (std::process::id() % 1000) as u16;
    let file = dir.path().join("compose.yaml");
    let write = |image: &str, fail: bool, keep: &str| {
        let env = if fail { "FAIL_HEALTH: \"1\"".to_string() } else { format!("KEEP: \"{keep}\"") };
        std::fs::write(
            &file,
            format!(
                "name: {project}\nx-slipway: {{target: swarm}}\nservices:\n  app:\n    image: {image}\n    environment:\n      {env}\n    \
                 ports: [{{target: 8080, published: {port}, mode: host}}]\n    \
                 healthcheck: {{test: [\"CMD\", \"/demo-app\", \"check\", \"http://127.0.0.1:8080/health\"], interval: 500ms, timeout: 2s, retries: 3}}\n    \
                 deploy: {{endpoint_mode: dnsrr}}\n"
            ),
        )
    };
    let bin = slipway_bin();
    let m = &swarm.manager;
    let run = |args: &[&str]| {
        std::process::Command::new(&bin)
            .args(args)
            .args(["-H", &m.ssh_url()])
            .env("SLIPWAY_SSH_CONFIG", m.ssh_config())
            .env("DOCKER_CONFIG", swarm.docker_config())
            .env_remove("DOCKER_HOST")
            .output()
    };
    let f = file.to_str().expect("utf-8 path");

    // x-slipway picks the Swarm target; no --target flag.
    write(&v1, false, "1")?;
    let out = run(&["deploy", "-f", f, "--with-registry-auth", "--dry-run", "--json"])?;
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("\"update_service\"") && !plan.contains("start_replica"), "{plan}");
    let out = run(&["deploy", "-f", f, "--with-registry-auth", "--json"])?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = String::from_utf8_lossy(&out.stdout);
    let deployed: serde_json::Value = serde_json::from_str(shown.trim())?;
    assert_eq!(deployed["release"]["id"], 1, "{shown}");
    for planted in ["KEEP\":\"1", slipway_e2e::registry::TEST_PASSWORD] {
        assert!(!shown.contains(planted), "{planted} in --json: {shown}");
    }
    let out = run(&["status", "-f", f, "--json"])?;
    let st: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let task = &st["services"][0]["tasks"][0];
    assert_eq!(task["health"], "healthy", "{st}");
    assert!(task["node"].as_str().is_some_and(|n| !n.is_empty()) && task["node_addr"].is_string(), "{st}");

    // An unhealthy upgrade: exit code 1, the service named; v1 still answers.
    write(&v2, true, "1")?;
    let out = run(&["deploy", "-f", f, "--with-registry-auth"])?;
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("service app"), "{}", String::from_utf8_lossy(&out.stderr));
    // Wherever the Swarm runs the v1 task now (its rollback may place it on another node than
    // before), it answers; a task just restarted may need a moment to listen (bounded).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let body = loop {
        let out = run(&["status", "-f", f, "--json"])?;
        let st: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let running = st["services"][0]["tasks"].as_array().cloned().unwrap_or_default();
        let node =
            running.iter().find(|t| t["state"] == "running").and_then(|t| t["node_addr"].as_str().map(str::to_string));
        let answer = match node {
            Some(node) => reqwest::Client::new()
                .get(format!("http://{node}:{port}/version"))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .ok(),
            None => None,
        };
        if let Some(r) = answer {
            break r.text().await?;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "no running app task answers: {st}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(body.contains("v1"), "{body}");

    // history / prune with --target swarm and -p (no compose file needed).
    let out = run(&["history", "--target", "swarm", "-p", &project, "--json"])?;
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["outcome"]["status"], "failed");
    write(&v2, false, "2")?;
    let out = run(&["deploy", "-f", f, "--with-registry-auth"])?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["prune", "--target", "swarm", "-p", &project, "--retain", "1"])?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["history", "--target", "swarm", "-p", &project, "--json"])?;
    let left: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["id"], 3);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_swarm_lock_is_a_renewed_lease_taken_over_once_expired() -> anyhow::Result<()> {
    let swarm = TestSwarm::shared().await?;
    let docker = swarm.deployer(Duration::from_secs(60)).await?.docker().clone();
    let project = names::unique("swarmlock");
    let (never, obs) = (slipway::deploy::CancellationToken::new(), RecordingObserver::default());
    let lease = Duration::from_secs(4);

    // Held: a second taker is refused, the error names the holder and the lease's expiry.
    let held = slipway::swarm::SwarmLock::acquire(&docker, &project, Duration::ZERO, lease, &never, &obs).await?;
    let first = slipway::swarm::SwarmLock::lease_of(&docker, &project).await?.expect("a lease");
    let err = slipway::swarm::SwarmLock::acquire(&docker, &project, Duration::ZERO, lease, &never, &obs)
        .await
        .expect_err("held");
    let msg = err.to_string();
    assert!(msg.contains(&first.holder) && msg.contains("lease runs until"), "{msg}");
    // Renewed every quarter lease: after more than a lease it is still held, with a later expiry.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let renewed = slipway::swarm::SwarmLock::lease_of(&docker, &project).await?.expect("still held");
    assert!(renewed.expires > first.expires, "{first:?} -> {renewed:?}");
    assert!(slipway::swarm::SwarmLock::acquire(&docker, &project, Duration::ZERO, lease, &never, &obs).await.is_err());
    // A holder that died (dropped: no more renewals) loses it one lease (+ margin) later.
    drop(held);
    let taken =
        slipway::swarm::SwarmLock::acquire(&docker, &project, Duration::from_secs(15), lease, &never, &obs).await?;
    assert!(
        obs.events().iter().any(|e| matches!(e, Event::Deploy(DeployEvent::StaleLock { .. }))),
        "the takeover is reported"
    );
    taken.release().await?;
    assert!(slipway::swarm::SwarmLock::lease_of(&docker, &project).await?.is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_backs_up_the_swarm_database_before_it_changes() -> anyhow::Result<()> {
    let swarm = TestSwarm::shared().await?;
    let db = swarm.push(&slipway_e2e::postgres_image::postgres_image().await?, "swarm/postgres:v15.0.0")?;
    let deployer = swarm.deployer(Duration::from_secs(150)).await?;
    let (dir, project) = (tempfile::tempdir()?, names::unique("swarmbackup"));
    let stack = |marker: &str| -> anyhow::Result<slipway::stack::StackSpec> {
        let path = dir.path().join("compose.yaml");
        std::fs::write(
            &path,
            format!(
                "name: {project}\nservices:\n  db:\n    image: {db}\n    environment: {{POSTGRES_USER: shop, POSTGRES_PASSWORD: pw-not-in-logs, POSTGRES_DB: shopdb, MARKER: \"{marker}\"}}\n    \
                 healthcheck: {{test: [\"CMD\", \"pg_isready\", \"-q\", \"-h\", \"/var/run/postgresql\"], interval: 500ms, retries: 120}}\n    \
                 deploy: {{endpoint_mode: dnsrr, placement: {{constraints: [node.role == manager]}}}}\n"
            ),
        )?;
        let mut opts = slipway::compose::LoadOptions::default();
        opts.files = vec![path];
        opts.working_dir = Some(dir.path().to_path_buf());
        Ok(slipway::compose::load(&opts)?.stack)
    };
    let staging = DeployOptions::default().env("staging").min_running(Duration::from_secs(1));
    deployer.apply(&stack("one")?, &staging, &RecordingObserver::default()).await?;

    // Production: the plan shows the backup, and the running database is dumped before the update.
    let backups = tempfile::tempdir()?;
    let production = DeployOptions::default()
        .env("production")
        .min_running(Duration::from_secs(1))
        .backup_dir(Some(backups.path().into()));
    let plan = deployer.plan(&stack("two")?, &production).await?;
    assert!(plan.steps.iter().any(|s| s.describe().starts_with("back up:")), "{:?}", plan.steps);
    let out = deployer.apply(&stack("two")?, &production, &RecordingObserver::default()).await?;
    let release = out.release.expect("a release").id.to_string();
    let kept = slipway::backup::BackupStore::new(backups.path()).list().await?;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1.service.as_deref(), Some("db"));
    assert_eq!(kept[0].1.release.as_deref(), Some(release.as_str()));
    Ok(())
}

/// A one-service stack whose `slow` version never becomes healthy while the test waits (it starts
/// listening after a minute, inside the healthcheck's start period), so its update is in flight.
fn halting_stack(
    dir: &std::path::Path,
    project: &str,
    image: &str,
    port: u16,
    slow: bool,
) -> anyhow::Result<slipway::stack::StackSpec> {
    let delay = if slow { "60000" } else { "0" };
    let yaml = format!(
        r#"
name: {project}
services:
  app:
    image: {image}
    environment: {{STARTUP_DELAY_MS: "{delay}"}}
    ports: [{{target: 8080, published: {port}, mode: host}}]
    healthcheck: {{test: ["CMD", "/demo-app", "check", "http://127.0.0.1:8080/health"], interval: 500ms, timeout: 2s, retries: 3, start_period: 90s}}
    stop_grace_period: 2s
    deploy: {{endpoint_mode: dnsrr, update_config: {{order: stop-first}}}}
"#
    );
    let path = dir.join("compose.yaml");
    std::fs::write(&path, yaml)?;
    let mut opts = slipway::compose::LoadOptions::default();
    opts.files = vec![path];
    opts.working_dir = Some(dir.to_path_buf());
    Ok(slipway::compose::load(&opts)?.stack)
}

/// Wait (bounded) until the manager reports `service` mid-update.
async fn until_updating(m: &slipway_e2e::remote_host::RemoteHost, service: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let state = m.docker(&[
            "service",
            "inspect",
            service,
            "--format",
            "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
        ])?;
        if state.trim() == "updating" {
            return Ok(());
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "{service} never started updating ({state:?})");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The image the Swarm runs for `service` now.
fn spec_image(m: &slipway_e2e::remote_host::RemoteHost, service: &str) -> anyhow::Result<String> {
    Ok(m.docker(&["service", "inspect", service, "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}"])?
        .trim()
        .to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_swarm_deploy_and_one_that_lost_its_lease_are_undone_and_recorded() -> anyhow::Result<()> {
    let swarm = TestSwarm::shared().await?;
    let m = &swarm.manager;
    let (v1, v2) = (
        swarm.push(&images::demo_image_version("v1").await?, "swarm/demo:v1")?,
        swarm.push(&images::demo_image_version("v2").await?, "swarm/demo:v2")?,
    );
    let deployer = std::sync::Arc::new(swarm.deployer(Duration::from_secs(120)).await?);
    let (dir, project) = (tempfile::tempdir()?, names::unique("swarmhalt"));
    let port = 19000 + (std::process::id() % 1000) as u16;
    let service = format!("{project}_app");
    let opts = || DeployOptions::default().min_running(Duration::from_secs(1)).lease(Duration::from_secs(4));
    deployer
        .apply(&halting_stack(dir.path(), &project, &v1, port, false)?, &opts(), &RecordingObserver::default())
        .await?;
    let serving = spec_image(m, &service)?;
    assert!(serving.contains("demo:v1"), "{serving}");

    // 1. Cancelled while the update is in flight: undone, recorded as cancelled, lock released.
    let cancel = slipway::deploy::CancellationToken::new();
    let stack = halting_stack(dir.path(), &project, &v2, port, true)?;
    let run = {
        let (d, s, o) = (deployer.clone(), stack.clone(), opts().cancel(cancel.clone()));
        tokio::spawn(async move { d.apply(&s, &o, &RecordingObserver::default()).await })
    };
    until_updating(m, &service).await?;
    cancel.cancel();
    let err = tokio::time::timeout(Duration::from_secs(120), run).await??.expect_err("cancelled");
    let msg = err.to_string();
    assert!(msg.contains("cancelled during `update service`") && msg.contains("service app"), "{msg}");
    assert!(msg.contains("the previous release was put back in service"), "{msg}");
    assert_eq!(spec_image(m, &service)?, serving, "the old spec is back");
    let history = deployer.history(&project).await?;
    assert!(
        matches!(&history.last().expect("recorded").outcome, ReleaseOutcome::Cancelled { service, .. } if service == "app"),
        "{history:?}"
    );
    assert!(slipway::swarm::SwarmLock::lease_of(deployer.docker(), &project).await?.is_none(), "the lock is released");

    // 2. The lock taken away mid-update (its config removed, as a takeover would): the deploy
    //    stops within a renewal, undoes, and records why.
    let run = {
        let (d, s, o) = (deployer.clone(), stack.clone(), opts());
        tokio::spawn(async move { d.apply(&s, &o, &RecordingObserver::default()).await })
    };
    until_updating(m, &service).await?;
    m.docker(&["config", "rm", &format!("{project}_slipway-lock")])?;
    let err = tokio::time::timeout(Duration::from_secs(120), run).await??.expect_err("lease lost");
    let msg = err.to_string();
    assert!(msg.contains("lease could not be renewed") && msg.contains("service app"), "{msg}");
    assert_eq!(spec_image(m, &service)?, serving, "the old spec is back");
    let last = deployer.history(&project).await?.pop().expect("recorded");
    assert!(
        matches!(&last.outcome, ReleaseOutcome::Failed { reason, .. } if reason.contains("lease could not be renewed")),
        "{last:?}"
    );
    // The old version answers on its node.
    let st = deployer.swarm_status(&project).await?;
    let task = st.services[0].tasks.iter().find(|t| t.state == "running").expect("a running task");
    let url = format!("http://{}:{port}/version", task.node_addr.clone().expect("node address"));
    let body = reqwest::Client::new().get(&url).timeout(Duration::from_secs(5)).send().await?.text().await?;
    assert!(body.contains("v1"), "{body}");
    Ok(())
}
