//! `slipway config`: the CLI contract (flags, formats, exit codes) on the compose corpus.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compose").join(p)
}

fn slipway(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_slipway")).args(args).env("IMAGE_TAG", "v1").output().unwrap()
}

#[test]
fn json_and_yaml_print_the_same_stack() {
    let f = corpus("good/users-stack/compose.yml");
    let f = f.to_str().unwrap();
    let json = slipway(&["config", "-f", f, "--format", "json"]);
    assert!(json.status.success(), "{}", String::from_utf8_lossy(&json.stderr));
    let j: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(j["services"]["backend"]["command"], serde_json::json!(["serve", "--port", "8080"]));
    assert_eq!(j["services"]["worker"]["environment"]["WORKER_CONCURRENCY"], "4");
    let yaml = slipway(&["config", "-f", f]);
    assert!(yaml.status.success());
    let y: serde_json::Value = serde_yaml_ng::from_slice(&yaml.stdout).unwrap();
    // The same document, in the shape of Compose's YAML: the JSON's nulls/empty objects left out,
    // services' `x-*` keys kept.
    let mut want = j.clone();
    for (name, svc) in want["services"].as_object_mut().unwrap() {
        let svc = svc.as_object_mut().unwrap();
        svc.retain(|k, v| !((k == "command" || k == "entrypoint") && v.is_null()));
        if let Some(x) = y["services"][name.as_str()].get("x-slipway") {
            svc.insert("x-slipway".into(), x.clone());
        }
        if let Some(d) = svc.get_mut("deploy").and_then(|d| d.as_object_mut()) {
            d.retain(|k, v| !((k == "resources" || k == "placement") && v.as_object().is_some_and(|o| o.is_empty())));
        }
    }
    for n in want["networks"].as_object_mut().into_iter().flat_map(|n| n.values_mut()) {
        n.as_object_mut().unwrap().retain(|k, v| !(k == "ipam" && v.as_object().is_some_and(|o| o.is_empty())));
    }
    assert_eq!(y, want);
}

#[test]
fn yaml_is_the_document_docker_compose_prints() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("compose.yml");
    std::fs::write(
        &f,
        "services:\n  a:\n    image: x\n    x-note: 1\n    deploy: {replicas: 2}\n    volumes: [\"data:/d/\"]\nvolumes: {data: {}}\nx-top: {a: 1}\n",
    )
    .unwrap();
    let ours = slipway(&["config", "-f", f.to_str().unwrap(), "-p", "yamlcheck"]);
    assert!(ours.status.success(), "{}", String::from_utf8_lossy(&ours.stderr));
    let theirs = Command::new("docker")
        .args(["compose", "-p", "yamlcheck", "-f", f.to_str().unwrap(), "config", "--format", "yaml"])
        .output()
        .unwrap();
    assert!(theirs.status.success(), "{}", String::from_utf8_lossy(&theirs.stderr));
    let a: serde_json::Value = serde_yaml_ng::from_slice(&ours.stdout).unwrap();
    let b: serde_json::Value = serde_yaml_ng::from_slice(&theirs.stdout).unwrap();
    assert_eq!(a, b);
}

#[test]
fn profile_project_and_env_file_flags() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.yml"),
        "services:\n  a:\n    image: a:${T}\n  b:\n    image: b\n    profiles: [x]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("v.env"), "T=7\n").unwrap();
    let c = dir.path().join("c.yml");
    let v = dir.path().join("v.env");
    let out = slipway(&[
        "config",
        "-f",
        c.to_str().unwrap(),
        "--env-file",
        v.to_str().unwrap(),
        "--profile",
        "x",
        "-p",
        "proj",
        "--format",
        "json",
    ]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["name"], "proj");
    assert_eq!(j["services"]["a"]["image"], "a:7");
    assert!(j["services"].get("b").is_some());
}

#[test]
fn a_bad_file_exits_2_naming_file_and_line() {
    let f = corpus("bad/unknown-key.yml");
    let out = slipway(&["config", "-f", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown-key.yml:4"));
}

#[test]
fn unset_variables_warn_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.yml"), "services:\n  a:\n    image: a:${NOT_SET_ANYWHERE_X}\n").unwrap();
    let out = slipway(&["config", "-f", dir.path().join("c.yml").to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT_SET_ANYWHERE_X"));
}
