//! Backups over `ssh://` against a real second host (`RemoteHost`): a PostgreSQL backup kept in
//! the host's `slipway-backups` volume and downloaded (`slipway backup --download DIR`), then
//! verified and restored from the host (`host:NAME.json`), all through the CLI.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;
use slipway::engine::{ConnectOptions, Connection};
use slipway_e2e::postgres_image::postgres_image;
use slipway_e2e::remote_host::RemoteHost;
use slipway_e2e::{images, names};

async fn psql(docker: &Docker, id: &str, sql: &str) -> anyhow::Result<String> {
    let cmd = vec!["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-U", "shop", "-d", "shopdb", "-c", sql];
    let exec = docker
        .create_exec(
            id,
            CreateExecOptions {
                cmd: Some(cmd),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let mut out = String::new();
    if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await? {
        while let Some(chunk) = output.next().await {
            out.push_str(&chunk?.to_string());
        }
    }
    let code = docker.inspect_exec(&exec.id).await?.exit_code.unwrap_or(-1);
    anyhow::ensure!(code == 0, "psql exited {code}: {out}");
    Ok(out.trim().to_string())
}

fn slipway_bin() -> PathBuf {
    let root = images::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "-q", "-p", "slipway-cli", "--bin", "slipway"])
        .status()
        .expect("cargo build");
    assert!(status.success());
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    target.join("debug").join("slipway")
}

/// `slipway ARGS -H ssh://...` with the host's ssh_config; stdout, asserting success.
fn slipway(remote: &RemoteHost, args: &[&str]) -> String {
    let out = Command::new(slipway_bin())
        .args(args)
        .args(["-H", &remote.ssh_url()])
        .env("SLIPWAY_SSH_CONFIG", remote.ssh_config())
        .output()
        .expect("run slipway");
    assert!(out.status.success(), "slipway {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_is_kept_on_the_host_downloaded_verified_and_restored() -> anyhow::Result<()> {
    let remote = RemoteHost::shared().await?;
    let image = postgres_image().await?;
    remote.load_image(&image)?;
    let project = names::unique("remote-backup");
    let _guard = remote.project_guard(&project);
    let options = ConnectOptions::host(Some(&remote.ssh_url())).ssh_config(Some(remote.ssh_config()));
    let docker = slipway::engine::connect(&Connection::resolve(&options)?).await?;
    let body = ContainerCreateBody {
        image: Some(image),
        env: Some(vec!["POSTGRES_USER=shop".into(), "POSTGRES_PASSWORD=pw-remote".into(), "POSTGRES_DB=shopdb".into()]),
        labels: Some(
            [
                ("com.docker.compose.project".to_string(), project.clone()),
                ("com.docker.compose.service".to_string(), "db".to_string()),
            ]
            .into(),
        ),
        ..Default::default()
    };
    let name = format!("{project}-db-1");
    let id = docker.create_container(Some(CreateContainerOptionsBuilder::new().name(&name).build()), body).await?.id;
    docker.start_container(&id, None).await?;
    slipway::wait::wait_until("the database", Duration::from_secs(60), Duration::from_millis(300), || {
        let (docker, id) = (docker.clone(), id.clone());
        async move { psql(&docker, &id, "SELECT 1").await.ok() }
    })
    .await?;
    psql(
        &docker,
        &id,
        "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'anchor'), (2, 'cleat');",
    )
    .await?;

    // Back up: kept in the host's volume, and a copy downloaded here.
    let download = tempfile::tempdir()?;
    let dl = download.path().to_str().expect("utf-8 path");
    let out = slipway(remote, &["backup", "-p", &project, "--service", "db", "--download", dl, "--json"]);
    let line: serde_json::Value = serde_json::from_str(out.lines().next().unwrap_or_default())?;
    let host_name = line["host"].as_str().expect("a host: name").to_string();
    assert!(host_name.starts_with("host:") && host_name.ends_with(".json"), "{line}");
    let local = PathBuf::from(line["manifest_path"].as_str().expect("the downloaded manifest"));
    assert!(local.starts_with(download.path()) && local.exists(), "{line}");
    let file = line["file"].as_str().unwrap_or_default();
    assert!(std::fs::read(download.path().join(file))?.starts_with(b"PGDMP"), "the downloaded dump");
    let volume = format!("slipway-backups.{}", host_name.trim_start_matches("host:").trim_end_matches(".json"));
    assert!(remote.docker(&["volume", "inspect", &volume]).is_ok(), "the backup's volume is on the host");

    // Change the data, then verify and restore from the host's copy.
    psql(&docker, &id, "DELETE FROM items; INSERT INTO items VALUES (9, 'changed');").await?;
    slipway(remote, &["backup", "verify", &host_name]);
    slipway(remote, &["restore", "-p", &project, "--into", "db", &host_name]);
    assert_eq!(psql(&docker, &id, "SELECT string_agg(name, ',' ORDER BY id) FROM items").await?, "anchor,cleat");

    // List and prune work on the host's backups: a second backup, keep one, the older goes.
    let second = slipway(remote, &["backup", "-p", &project, "--service", "db", "--json"]);
    let second: serde_json::Value = serde_json::from_str(second.lines().next().unwrap_or_default())?;
    assert!(second.get("manifest_path").is_none(), "without --download nothing is kept here: {second}");
    let listed = |remote: &RemoteHost| -> anyhow::Result<Vec<String>> {
        let out = slipway(remote, &["backup", "list", "-p", &project, "--json"]);
        out.lines()
            .map(|l| Ok(serde_json::from_str::<serde_json::Value>(l)?["host"].as_str().unwrap_or_default().to_string()))
            .collect()
    };
    let second_name = second["host"].as_str().unwrap_or_default().to_string();
    assert_eq!(listed(remote)?, vec![host_name.clone(), second_name.clone()], "oldest first");
    let pruned = slipway(remote, &["backup", "prune", "-p", &project, "--keep", "1", "--json"]);
    assert_eq!(pruned.trim(), serde_json::json!({"removed": host_name}).to_string());
    assert_eq!(listed(remote)?, vec![second_name], "the newest is kept");
    assert!(remote.docker(&["volume", "inspect", &volume]).is_err(), "the pruned backup's volume is gone");
    Ok(())
}
