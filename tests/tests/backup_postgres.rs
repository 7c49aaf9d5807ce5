//! Backups against a real PostgreSQL container (packed from this machine's PostgreSQL 15):
//! back up, change the data, restore, find the original; verify passes on a good backup and
//! fails, saying why, on a corrupted file or a manifest that disagrees with the restored rows.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures::StreamExt;
use slipway::backup::{self, BackupError, BackupStore, RestoreTarget};
use slipway::NoopObserver;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::containers::TestContainer;
use slipway_e2e::postgres_image::postgres_image;
use slipway_e2e::{docker, names};

const PASSWORD: &str = "s3cret-Pa55word";

/// `psql -At` inside the container; the output, trimmed.
async fn psql(docker: &Docker, id: &str, sql: &str) -> anyhow::Result<String> {
    let exec = docker
        .create_exec(
            id,
            CreateExecOptions {
                cmd: Some(vec!["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-U", "shop", "-d", "shopdb", "-c", sql]),
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

/// A running database service `db` of a fresh project, with a table of three rows.
async fn start_db(cleanup: &Cleanup) -> (Docker, String, String) {
    let docker = docker::connect().await.unwrap();
    let image = postgres_image().await.unwrap();
    let project = names::unique("backup");
    let running = TestContainer::new(image, format!("{project}-db-1"))
        .env("POSTGRES_USER", "shop")
        .env("POSTGRES_PASSWORD", PASSWORD)
        .env("POSTGRES_DB", "shopdb")
        .label("com.docker.compose.project", project.clone())
        .label("com.docker.compose.service", "db")
        .start(&docker, cleanup)
        .await
        .unwrap();
    slipway::wait::wait_until("the database", Duration::from_secs(60), Duration::from_millis(300), || {
        let (docker, id) = (docker.clone(), running.id.clone());
        async move { psql(&docker, &id, "SELECT 1").await.ok() }
    })
    .await
    .unwrap();
    psql(
        &docker,
        &running.id,
        "CREATE TABLE items (id int PRIMARY KEY, name text); CREATE TABLE empty (x int); \
         INSERT INTO items VALUES (1, 'anchor'), (2, 'bollard'), (3, 'cleat');",
    )
    .await
    .unwrap();
    (docker, project, running.id)
}

#[tokio::test]
async fn backup_then_change_then_restore_brings_the_original_back() {
    let cleanup = Cleanup::new();
    let (docker, project, id) = start_db(&cleanup).await;
    let dir = tempfile::tempdir().unwrap();
    let store = BackupStore::new(dir.path());

    // No --service: the running PostgreSQL service is found by its image.
    let done = backup::backup_databases(&docker, &store, &project, &[], Some("r1"), &NoopObserver).await.unwrap();
    assert_eq!(done.len(), 1);
    let (manifest, manifest_path) = &done[0];
    assert_eq!(manifest.service.as_deref(), Some("db"));
    assert_eq!(manifest.database.as_deref(), Some("shopdb"));
    assert_eq!(manifest.tables, BTreeMap::from([("public.empty".to_string(), 0), ("public.items".to_string(), 3)]));
    assert!(manifest.server_version.as_deref().unwrap_or_default().starts_with("15"), "{manifest:?}");
    assert!(manifest.file.starts_with(&format!("{project}_db_r1_")), "{}", manifest.file);
    let data = dir.path().join(&manifest.file);
    let bytes = std::fs::read(&data).unwrap();
    assert_eq!(bytes.len() as u64, manifest.size);
    assert_eq!(&bytes[..5], b"PGDMP", "a pg_dump custom-format archive");
    assert_eq!(slipway::Digest::sha256(&bytes).to_string(), manifest.sha256);
    let manifest_text = std::fs::read_to_string(manifest_path).unwrap();
    assert!(!manifest_text.contains(PASSWORD), "the manifest must not hold the password");

    psql(
        &docker,
        &id,
        "DELETE FROM items WHERE id = 1; UPDATE items SET name = 'changed'; INSERT INTO items VALUES (9, 'new');",
    )
    .await
    .unwrap();
    assert_eq!(
        psql(&docker, &id, "SELECT string_agg(name, ',' ORDER BY id) FROM items").await.unwrap(),
        "changed,changed,new"
    );

    let target = RestoreTarget::Service { project: project.clone(), service: "db".into() };
    let report = backup::restore_postgres(&docker, manifest_path, &target, &NoopObserver).await.unwrap();
    assert_eq!(report.tables.get("public.items"), Some(&3));
    assert_eq!(
        psql(&docker, &id, "SELECT string_agg(name, ',' ORDER BY id) FROM items").await.unwrap(),
        "anchor,bollard,cleat"
    );
}

#[tokio::test]
async fn verify_passes_on_a_good_backup_and_fails_on_corruption_or_a_mismatch() {
    let cleanup = Cleanup::new();
    let (docker, project, _id) = start_db(&cleanup).await;
    let dir = tempfile::tempdir().unwrap();
    let store = BackupStore::new(dir.path());
    let done =
        backup::backup_databases(&docker, &store, &project, &["db".to_string()], None, &NoopObserver).await.unwrap();
    let (manifest, manifest_path) = done.into_iter().next().unwrap();

    let report = backup::verify_postgres(&docker, &manifest_path, &NoopObserver).await.unwrap();
    assert_eq!(report.tables, manifest.tables);

    // A manifest whose row counts disagree with what the dump restores.
    let mut wrong = manifest.clone();
    wrong.tables.insert("public.items".into(), 4);
    std::fs::write(&manifest_path, serde_json::to_vec(&wrong).unwrap()).unwrap();
    match backup::verify_postgres(&docker, &manifest_path, &NoopObserver).await {
        Err(BackupError::VerifyMismatch { differences, .. }) => {
            assert!(differences.contains("public.items: manifest 4, restored 3"), "{differences}")
        }
        other => panic!("expected a row-count mismatch, got {other:?}"),
    }
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();

    // One flipped byte in the dump: refused before anything is restored.
    let data = dir.path().join(&manifest.file);
    let mut bytes = std::fs::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();
    match backup::verify_postgres(&docker, &manifest_path, &NoopObserver).await {
        Err(e @ BackupError::Corrupted { .. }) => assert!(e.to_string().contains("corrupted"), "{e}"),
        other => panic!("expected a corrupted backup, got {other:?}"),
    }
    // No scratch container is left behind.
    let left = docker
        .list_containers(Some(bollard::query_parameters::ListContainersOptionsBuilder::new().all(true).build()))
        .await
        .unwrap();
    assert!(!left
        .iter()
        .flat_map(|c| c.names.clone().unwrap_or_default())
        .any(|n| n.contains(&format!("slipway-scratch-{project}"))));
}

#[tokio::test]
async fn a_missing_service_is_a_clear_error() {
    let docker = docker::connect().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = BackupStore::new(dir.path());
    let project = names::unique("backup");
    match backup::backup_databases(&docker, &store, &project, &["db".to_string()], None, &NoopObserver).await {
        Err(BackupError::NoContainer { service, .. }) => assert_eq!(service, "db"),
        other => panic!("expected NoContainer, got {other:?}"),
    }
    assert_eq!(std::fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(0), 0, "nothing written");
}
