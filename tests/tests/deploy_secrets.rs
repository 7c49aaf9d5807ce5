//! No secret at rest in the open (issue 12, point 5): a secret planted in an `env_file` (and one
//! interpolated from the operator's environment) is deployed, upgraded and rolled back through
//! the real CLI on the real engine. Neither value appears in any CLI output (text and `--json`,
//! stdout and stderr, debug logs on), in the labels of the project's containers, record volumes
//! and images, in the records, or in the engine's events; the values file in the record volume
//! is root-only; the rolled-back container runs with the exact first environment.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use bollard::query_parameters::{ListContainersOptions, ListVolumesOptions};
use slipway::deploy::{Deployer, DockerHost};
use slipway_e2e::cli::slipway_bin;
use slipway_e2e::{docker, images, names, project::ProjectGuard};

fn compose(project: &str, demo: &str) -> String {
    format!(
        r#"name: {project}
services:
  app:
    image: {demo}
    env_file: [secrets.env]
    environment:
      APP_VERSION: ${{IMAGE_TAG}}
      API_TOKEN: ${{SLIPWAY_TEST_API_TOKEN}}
    healthcheck:
      test: ["CMD", "/demo-app", "check", "http://127.0.0.1:8080/health"]
      interval: 300ms
      timeout: 2s
      retries: 3
    x-slipway:
      health_timeout: 8s
"#
    )
}

/// Everything one CLI run printed, stdout and stderr, with debug logs on.
struct Run {
    code: i32,
    text: String,
}

fn run(bin: &Path, dir: &Path, token: &str, args: &[&str]) -> Run {
    let out = std::process::Command::new(bin)
        .current_dir(dir)
        .env("SLIPWAY_LOG", "debug")
        .env("SLIPWAY_TEST_API_TOKEN", token)
        .args(args)
        .output()
        .unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Run { code: out.status.code().unwrap_or(-1), text }
}

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} shows a secret value:\n{text}");
    }
}

async fn app_env(host: &DockerHost, project: &str) -> HashMap<String, String> {
    let status = host.status(project).await.unwrap();
    let apps: Vec<_> = status.containers.iter().filter(|c| c.service == "app" && c.running).collect();
    assert_eq!(apps.len(), 1, "{:#?}", status.containers);
    let inspect = host.docker().inspect_container(&apps[0].name, None).await.unwrap();
    inspect
        .config
        .unwrap()
        .env
        .unwrap()
        .into_iter()
        .filter_map(|e| e.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_never_show_and_rollback_restores_them() {
    let demo = images::demo_image().await.unwrap();
    let project = names::unique("secrets");
    let _guard = ProjectGuard::new(&project);
    let docker = docker::connect().await.unwrap();
    let host = DockerHost::new(docker.clone());
    let bin = slipway_bin();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), compose(&project, &demo)).unwrap();
    let nonce = names::unique("s");
    let (file_v1, file_v2) = (format!("pw1-{nonce}-x9"), format!("pw2-{nonce}-y7"));
    let (token_v1, token_v2) = (format!("tok1-{nonce}-q3"), format!("tok2-{nonce}-r5"));
    let secrets = [file_v1.as_str(), file_v2.as_str(), token_v1.as_str(), token_v2.as_str()];
    let since = chrono::Utc::now().timestamp() - 1;
    let mut outputs = Vec::new();

    // Release 1, then release 2 with other values, then a rollback to release 1.
    std::fs::write(dir.path().join("secrets.env"), format!("DB_PASSWORD={file_v1}\n")).unwrap();
    let first = run(&bin, dir.path(), &token_v1, &["deploy", "--tag", "v1", "--json"]);
    assert_eq!(first.code, 0, "{}", first.text);
    outputs.push(("deploy --json", first.text));
    outputs.push(("deploy (unchanged)", run(&bin, dir.path(), &token_v1, &["deploy", "--tag", "v1"]).text));
    std::fs::write(dir.path().join("secrets.env"), format!("DB_PASSWORD={file_v2}\n")).unwrap();
    for args in [&["deploy", "--tag", "v2", "--dry-run"][..], &["deploy", "--tag", "v2", "--dry-run", "--json"]] {
        outputs.push(("deploy --dry-run", run(&bin, dir.path(), &token_v2, args).text));
    }
    let second = run(&bin, dir.path(), &token_v2, &["deploy", "--tag", "v2"]);
    assert_eq!(second.code, 0, "{}", second.text);
    outputs.push(("deploy v2", second.text));
    assert_eq!(app_env(&host, &project).await["DB_PASSWORD"], file_v2);
    let back = run(&bin, dir.path(), &token_v2, &["rollback", "-p", &project, "--json"]);
    assert_eq!(back.code, 0, "{}", back.text);
    outputs.push(("rollback --json", back.text));

    // The rolled-back container has the exact first environment.
    let env = app_env(&host, &project).await;
    assert_eq!(env["DB_PASSWORD"], file_v1);
    assert_eq!(env["API_TOKEN"], token_v1);
    assert_eq!(env["APP_VERSION"], "v1");

    for args in [
        &["status", "-p", &project][..],
        &["status", "-p", &project, "--json"],
        &["history", "-p", &project],
        &["history", "-p", &project, "--json"],
        &["prune", "-p", &project, "--json"],
    ] {
        let r = run(&bin, dir.path(), "", args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.text);
        outputs.push(("status/history/prune", r.text));
    }
    // A refused deploy's error and a failed rollback's error.
    outputs.push(("refused", run(&bin, dir.path(), &token_v2, &["deploy", "--env", "production"]).text));
    outputs.push(("no such release", run(&bin, dir.path(), "", &["rollback", "-p", &project, "--to", "99"]).text));
    for (what, text) in &outputs {
        assert_clean(what, text, &secrets);
    }

    // The records, as the API returns them and as their JSON.
    let history = host.history(&project).await.unwrap();
    assert_eq!(history.len(), 3);
    let json = serde_json::to_string(&history).unwrap();
    assert_clean("records", &json, &secrets);
    assert_clean("records (Debug)", &format!("{history:?}"), &secrets);
    assert!(json.contains("DB_PASSWORD") && json.contains("env_sha256"), "names and hashes stay: {json}");

    // Labels of every container of the project (running or kept), its volumes and its images.
    let by_project = HashMap::from([("label".to_string(), vec![format!("dev.slipway.project={project}")])]);
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(by_project.clone()),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert!(containers.len() >= 2, "the rolled-back and the kept containers");
    for c in &containers {
        let inspect = docker.inspect_container(c.id.as_deref().unwrap(), None).await.unwrap();
        let labels = inspect.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
        assert_clean("container labels", &format!("{labels:?}"), &secrets);
        let image = docker.inspect_image(inspect.image.as_deref().unwrap()).await.unwrap();
        assert_clean("image labels", &format!("{:?}", image.config.and_then(|c| c.labels)), &secrets);
    }
    let volumes = docker.list_volumes(Some(ListVolumesOptions { filters: Some(by_project) })).await.unwrap();
    let volumes = volumes.volumes.unwrap_or_default();
    assert_eq!(volumes.len(), 3, "one record volume per release");
    for v in &volumes {
        let inspect = docker.inspect_volume(&v.name).await.unwrap();
        assert_clean("volume inspect", &serde_json::to_string(&inspect).unwrap(), &secrets);
        // The values file is root-only (this test runs on the engine's host, as root).
        let file = Path::new(&inspect.mountpoint).join("slipway/env.json");
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!((meta.mode() & 0o777, meta.uid()), (0o600, 0), "{}", file.display());
        let dir_meta = std::fs::metadata(file.parent().unwrap()).unwrap();
        assert_eq!(dir_meta.mode() & 0o777, 0o700);
    }
    // No carrier container is left behind.
    let carriers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), vec!["dev.slipway.carrier".to_string()])])),
            ..Default::default()
        }))
        .await
        .unwrap();
    let ours: Vec<_> = carriers
        .iter()
        .filter(|c| c.labels.as_ref().is_some_and(|l| l.values().any(|v| v.starts_with(&project))))
        .collect();
    assert!(ours.is_empty(), "carriers left: {ours:?}");

    // The engine's events over the whole test.
    let until = chrono::Utc::now().timestamp() + 1;
    let events = std::process::Command::new("docker")
        .args(["events", "--since", &since.to_string(), "--until", &until.to_string(), "--format", "{{json .}}"])
        .output()
        .unwrap();
    assert!(events.status.success());
    let events = String::from_utf8_lossy(&events.stdout);
    assert!(events.contains(&project), "the events cover the test");
    assert_clean("docker events", &events, &secrets);
}
