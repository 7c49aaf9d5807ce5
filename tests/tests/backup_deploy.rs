//! Backups as part of deploys: a production deploy dumps the running database before it changes
//! anything, and a deploy whose backup fails stops with nothing changed.

use std::time::Duration;

use bollard::query_parameters::TagImageOptionsBuilder;
use slipway::backup::BackupStore;
use slipway::deploy::{DeployOptions, Deployer, DockerHost};
use slipway::stack::{HealthcheckSpec, StackSpec};
use slipway::NoopObserver;
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::postgres_image::postgres_image;
use slipway_e2e::{docker, images, names, project::ProjectGuard, stacks};

/// Tag `image` as `<project>/<name>:<tag>` (a vX.Y.Z pin production accepts).
async fn pin(docker: &bollard::Docker, cleanup: &Cleanup, image: &str, project: &str, name: &str, tag: &str) -> String {
    let repo = format!("{project}/{name}");
    docker.tag_image(image, Some(TagImageOptionsBuilder::new().repo(&repo).tag(tag).build())).await.unwrap();
    let pinned = format!("{repo}:{tag}");
    cleanup.image(&pinned);
    pinned
}

fn stack(project: &str, db_image: &str, app_image: &str, app_version: &str) -> StackSpec {
    let mut db = stacks::service("db", db_image);
    for (k, v) in [("POSTGRES_USER", "shop"), ("POSTGRES_PASSWORD", "pw-not-in-logs"), ("POSTGRES_DB", "shopdb")] {
        db.environment.insert(k.into(), Some(v.into()));
    }
    let mut hc: HealthcheckSpec = serde_json::from_value(serde_json::json!({
        "test": ["CMD", "pg_isready", "-q", "-h", "/var/run/postgresql"],
        "interval": null, "timeout": null, "retries": null, "start_period": null, "start_interval": null
    }))
    .unwrap();
    hc.interval = Some(Duration::from_millis(500));
    hc.retries = Some(120);
    db.healthcheck = Some(hc);
    let mut app = stacks::service("app", app_image);
    app.command = Some(vec!["serve".into()]);
    app.environment.insert("APP_VERSION".into(), Some(app_version.into()));
    app.extensions.insert("x-slipway".into(), serde_json::json!({"min_running": "500ms"}));
    let mut s = StackSpec::default();
    s.name = project.to_string();
    s.services.insert("db".into(), db);
    s.services.insert("app".into(), app);
    let mut net = slipway::stack::NetworkSpec::default();
    net.name = format!("{project}_default");
    s.networks.insert("default".into(), net);
    s
}

fn production(dir: &std::path::Path) -> DeployOptions {
    // The core takes production's backup itself (issue 12: policy in core); only where it goes is given.
    DeployOptions::default().env("production").min_running(Duration::from_millis(500)).backup_dir(Some(dir.into()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_deploy_backs_up_first_and_a_failed_backup_changes_nothing() {
    let cleanup = Cleanup::new();
    let docker = docker::connect().await.unwrap();
    let project = names::unique("backup");
    let _guard = ProjectGuard::new(&project);
    let db_image = pin(&docker, &cleanup, &postgres_image().await.unwrap(), &project, "postgres", "v15.0.0").await;
    let app_image = pin(&docker, &cleanup, &images::demo_image().await.unwrap(), &project, "app", "v1.0.0").await;
    let host = DockerHost::new(docker.clone());

    // First release (staging: no backup asked), then some data.
    let opts = DeployOptions::default().env("staging").min_running(Duration::from_millis(500));
    host.apply(&stack(&project, &db_image, &app_image, "one"), &opts, &NoopObserver).await.unwrap();
    let db = host.status(&project).await.unwrap().containers.into_iter().find(|c| c.service == "db").unwrap();
    let psql = [
        "psql",
        "-X",
        "-At",
        "-U",
        "shop",
        "-d",
        "shopdb",
        "-c",
        "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2);",
    ];
    let exec = docker
        .create_exec(&db.name, bollard::exec::CreateExecOptions { cmd: Some(psql.to_vec()), ..Default::default() })
        .await
        .unwrap();
    docker
        .start_exec(&exec.id, Some(bollard::exec::StartExecOptions { detach: true, ..Default::default() }))
        .await
        .unwrap();
    slipway::wait::wait_until("the insert", Duration::from_secs(10), Duration::from_millis(100), || {
        let docker = docker.clone();
        let id = exec.id.clone();
        async move { docker.inspect_exec(&id).await.ok().filter(|e| e.running == Some(false)).map(|_| ()) }
    })
    .await
    .unwrap();

    // Production upgrade: the database is dumped before anything changes.
    let dir = tempfile::tempdir().unwrap();
    let out = host
        .apply(&stack(&project, &db_image, &app_image, "two"), &production(dir.path()), &NoopObserver)
        .await
        .unwrap();
    let release = out.release.expect("a release was recorded").id.to_string();
    let backups = BackupStore::new(dir.path()).list().await.unwrap();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let manifest = &backups[0].1;
    assert_eq!(manifest.service.as_deref(), Some("db"));
    assert_eq!(manifest.release.as_deref(), Some(release.as_str()));
    assert_eq!(manifest.tables.get("public.t"), Some(&2));

    // No directory asked for (remote room): the backup is also kept in the engine host's backup
    // volume, so a throwaway CI runner loses nothing; it comes back with `fetch_from_host`.
    let local = tempfile::tempdir().unwrap();
    std::env::set_var("SLIPWAY_BACKUP_DIR", local.path()); // the default directory, this binary's one test
    let events = slipway::RecordingObserver::new();
    let opts = DeployOptions::default().env("production").min_running(Duration::from_millis(500));
    let out = host.apply(&stack(&project, &db_image, &app_image, "four"), &opts, &events).await.unwrap();
    std::env::remove_var("SLIPWAY_BACKUP_DIR");
    let release = out.release.expect("a release was recorded").id.to_string();
    let said = serde_json::to_string(&events.events()).unwrap();
    let name = said
        .split("backup kept on the engine's host as ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no host copy reported: {said}"))
        .to_string();
    assert!(name.starts_with("host:"), "{name}");
    let fetched = tempfile::tempdir().unwrap();
    let path = slipway::backup::host_store::fetch_from_host(&docker, &name, fetched.path()).await.unwrap();
    let (manifest, _) = BackupStore::load(&path).await.unwrap();
    assert_eq!(manifest.service.as_deref(), Some("db"));
    assert_eq!(manifest.release.as_deref(), Some(release.as_str()));
    assert_eq!(manifest.tables.get("public.t"), Some(&2));
    // Listed among the host's backups of the project; removed again (the engine stays tidy).
    let kept = slipway::backup::host_store::list_on_host(&docker, Some(&project)).await.unwrap();
    assert!(kept.iter().any(|b| b.name == name), "{kept:?}");
    for b in kept {
        docker.remove_volume(&b.volume, None::<bollard::query_parameters::RemoveVolumeOptions>).await.unwrap();
    }

    // A backup that cannot be written (the store is a file): the deploy stops, nothing changes.
    let before = host.status(&project).await.unwrap();
    let history_before = host.history(&project).await.unwrap().len();
    let not_a_dir = dir.path().join("a-file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let err = host
        .apply(&stack(&project, &db_image, &app_image, "three"), &production(&not_a_dir), &NoopObserver)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("backup"), "{err}");
    let after = host.status(&project).await.unwrap();
    let ids = |s: &slipway::deploy::Status| {
        let mut v: Vec<(String, String)> =
            s.containers.iter().map(|c| (c.name.clone(), format!("{:?}", c.role))).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&before), ids(&after), "no container changed");
    assert_eq!(host.history(&project).await.unwrap().len(), history_before, "no release recorded");
}
