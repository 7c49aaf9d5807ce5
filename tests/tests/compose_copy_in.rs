//! Secrets and configs whose content is not a file (`environment:`, `content:`), static
//! addresses on a second network and `platform:`, on the real engine, slipway against Docker
//! Compose v2: the same file is brought up by `docker compose up -d` and deployed by the slipway
//! CLI; the copied-in files (path, mode, owner, content) and both networks' IPAM settings of the
//! two containers are compared field by field, and the test names every field that differs.
//! A planted secret value never shows in the CLI's outputs (text, `--json`, debug logs), the
//! records, the labels or the engine's events; a rollback copies the first value in again.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use slipway::deploy::{Deployer, DockerHost};
use slipway_e2e::cleanup::Cleanup;
use slipway_e2e::cli::slipway_bin;
use slipway_e2e::{docker, images, names, project::ProjectGuard};

/// Targets of the copied-in files (the file-sourced secret is a bind mount, also compared).
const TARGETS: &[&str] =
    &["/run/secrets/token", "/run/secrets/tok", "/run/secrets/plain", "/etc/app/conf.ini", "/envcfg"];

fn compose(project: &str, image: &str, net: &str) -> String {
    format!(
        r#"name: {project}
services:
  app:
    image: {image}
    platform: linux/amd64
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    secrets:
      - token
      - source: token
        target: tok
        uid: "123"
        gid: "45"
        mode: 0440
      - plain
    configs:
      - source: inline
        target: /etc/app/conf.ini
      - envcfg
    networks:
      front:
        ipv4_address: {net}1.10
      back:
        ipv4_address: {net}2.20
networks:
  front:
    ipam:
      config: [{{subnet: {net}1.0/24}}]
  back:
    ipam:
      config: [{{subnet: {net}2.0/24}}]
secrets:
  token:
    environment: APP_TOKEN
  plain:
    file: ./plain.txt
configs:
  inline:
    content: |
      a=1
      b=$${{X}}
  envcfg:
    environment: APP_TOKEN
"#
    )
}

/// Each target's `path mode uid:gid content` in a container (by `docker cp`, a tar stream).
fn files(container: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for t in TARGETS {
        let got = Command::new("docker").args(["cp", &format!("{container}:{t}"), "-"]).output().unwrap();
        let shown = if got.status.success() {
            let mut tar = tar::Archive::new(&got.stdout[..]);
            let mut entry = tar.entries().unwrap().next().expect("one entry").unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            let h = entry.header();
            format!("{:o} {}:{} {text:?}", h.mode().unwrap() & 0o7777, h.uid().unwrap(), h.gid().unwrap())
        } else {
            "(absent)".to_string()
        };
        out.insert(format!("file {t}"), shown);
    }
    out
}

fn inspect(container: &str) -> serde_json::Value {
    let out = Command::new("docker").args(["inspect", container]).output().unwrap();
    assert!(out.status.success(), "inspect {container}");
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()[0].clone()
}

/// The networks' endpoint settings, keyed by the network key (`front`, `back`).
fn networks(c: &serde_json::Value, project: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, e) in c["NetworkSettings"]["Networks"].as_object().into_iter().flatten() {
        let key = name.trim_start_matches(&format!("{project}_")).to_string();
        out.insert(format!("network {key} IPAMConfig"), e["IPAMConfig"].to_string());
        out.insert(format!("network {key} IPAddress"), e["IPAddress"].to_string());
    }
    out.insert("Platform".into(), c["Platform"].to_string());
    out
}

fn run(dir: &Path, token: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(slipway_bin())
        .current_dir(dir)
        .env("SLIPWAY_LOG", "debug")
        .env("APP_TOKEN", token)
        .args(args)
        .output()
        .unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

async fn running_app(host: &DockerHost, project: &str) -> String {
    let status = host.status(project).await.unwrap();
    let apps: Vec<_> = status.containers.iter().filter(|c| c.service == "app" && c.running).collect();
    assert_eq!(apps.len(), 1, "{:#?}", status.containers);
    apps[0].name.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copied_in_secrets_and_second_network_addresses_match_compose_and_never_show() {
    let image = images::busybox_base().await.unwrap();
    let host = DockerHost::new(docker::connect().await.unwrap());
    let pc = names::unique("copyin-c");
    let ps = names::unique("copyin-s");
    let _guard = ProjectGuard::new(&ps);
    let cleanup = Cleanup::new();
    let nonce = names::unique("v");
    let (token_v1, token_v2) = (format!("tok1-{nonce}-k8"), format!("tok2-{nonce}-m4"));
    let since = chrono::Utc::now().timestamp() - 1;

    let (dc, ds) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (dir, project, net) in [(&dc, &pc, "10.231.21"), (&ds, &ps, "10.231.23")] {
        std::fs::write(dir.path().join("compose.yml"), compose(project, &image, net)).unwrap();
        std::fs::write(dir.path().join("plain.txt"), "plain\n").unwrap();
    }

    // Docker Compose: `up -d` (it copies contents in when it starts the container).
    let up = Command::new("docker")
        .args(["compose", "up", "-d"])
        .current_dir(dc.path())
        .env("APP_TOKEN", &token_v1)
        .output()
        .unwrap();
    cleanup.container(format!("{pc}-app-1")).network(format!("{pc}_front")).network(format!("{pc}_back"));
    assert!(up.status.success(), "compose up: {}", String::from_utf8_lossy(&up.stderr));

    // slipway: deploy, compare, deploy a second value, roll back.
    let mut outputs = Vec::new();
    for args in [&["deploy", "--dry-run", "--json"][..], &["deploy", "--json"]] {
        let (code, text) = run(ds.path(), &token_v1, args);
        assert_eq!(code, 0, "{args:?}: {text}");
        outputs.push(text);
    }
    let first = running_app(&host, &ps).await;
    let mut expected = files(&format!("{pc}-app-1"));
    expected.extend(networks(&inspect(&format!("{pc}-app-1")), &pc));
    let mut actual = files(&first);
    actual.extend(networks(&inspect(&first), &ps));
    let norm = |m: BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.into_iter().map(|(k, v)| (k, v.replace("10.231.21", "NET").replace("10.231.23", "NET"))).collect()
    };
    let (expected, actual) = (norm(expected), norm(actual));
    assert!(expected["file /run/secrets/tok"].contains(&token_v1), "compose copied the secret: {expected:#?}");
    let diffs: Vec<String> = expected
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: compose {v} / slipway {}", actual.get(k).map_or("(absent)", String::as_str)))
        .collect();
    assert!(diffs.is_empty(), "{} fields differ:\n{}", diffs.len(), diffs.join("\n"));

    // A new value is a new release; a rollback copies the first value in again.
    let (code, text) = run(ds.path(), &token_v2, &["deploy"]);
    assert_eq!(code, 0, "{text}");
    outputs.push(text);
    assert!(files(&running_app(&host, &ps).await)["file /run/secrets/token"].contains(&token_v2));
    let (code, text) = run(ds.path(), &token_v2, &["rollback", "-p", &ps, "--json"]);
    assert_eq!(code, 0, "{text}");
    outputs.push(text);
    assert!(files(&running_app(&host, &ps).await)["file /run/secrets/token"].contains(&token_v1));
    for args in [&["status", "-p", &ps, "--json"][..], &["history", "-p", &ps, "--json"], &["config"]] {
        outputs.push(run(ds.path(), &token_v1, args).1);
    }

    // Never in an output, a record, a label or an engine event.
    let history = host.history(&ps).await.unwrap();
    outputs.push(serde_json::to_string(&history).unwrap());
    outputs.push(format!("{history:?}"));
    for c in host.status(&ps).await.unwrap().containers {
        outputs.push(format!("{:?}", inspect(&c.name)["Config"]["Labels"]));
    }
    let until = chrono::Utc::now().timestamp() + 1;
    let events = Command::new("docker")
        .args(["events", "--since", &since.to_string(), "--until", &until.to_string(), "--format", "{{json .}}"])
        .output()
        .unwrap();
    outputs.push(String::from_utf8_lossy(&events.stdout).to_string());
    for text in &outputs {
        for secret in [&token_v1, &token_v2] {
            assert!(!text.contains(secret.as_str()), "a secret value shows:\n{text}");
        }
    }
    let down = Command::new("docker").args(["compose", "down"]).current_dir(dc.path()).output().unwrap();
    assert!(down.status.success());
    cleanup.run_now();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unset_secret_variable_is_refused_before_anything_changes() {
    let image = images::busybox_base().await.unwrap();
    let ps = names::unique("copyin-u");
    let _guard = ProjectGuard::new(&ps);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yml"), compose(&ps, &image, "10.231.25")).unwrap();
    std::fs::write(dir.path().join("plain.txt"), "plain\n").unwrap();
    let out =
        Command::new(slipway_bin()).current_dir(dir.path()).env_remove("APP_TOKEN").arg("deploy").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("secret `token`") && err.contains("`APP_TOKEN` is not set"), "{err}");
    let host = DockerHost::new(docker::connect().await.unwrap());
    assert!(host.status(&ps).await.unwrap().containers.is_empty(), "nothing was created");
}
