//! The foundation room's CLI contract, run against the built `slipway` binary:
//! `slipway ref`, `slipway tags`, `slipway policy check|show`, exit codes, `--json` shapes, and
//! every example shown in `--help` (so help and behaviour stay in sync).

use std::process::{Command, Output};

const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn slipway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway")).args(args).env_remove("SLIPWAY_POLICY_FILE").output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn ref_prints_canonical_forms() {
    let o = slipway(&["ref", "redis", "user/app:1.0", "localhost:5000/a/b@sha256:"]);
    assert_eq!(code(&o), 2, "the truncated digest is refused");
    let o = slipway(&["ref", "redis", "user/app:1.0", &format!("localhost:5000/a/b:v1@sha256:{HEX}")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let lines: Vec<_> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        [
            "docker.io/library/redis:latest".to_string(),
            "docker.io/user/app:1.0".to_string(),
            format!("localhost:5000/a/b:v1@sha256:{HEX}")
        ]
    );
}

#[test]
fn ref_json_shape_is_stable() {
    let o = slipway(&["ref", "--json", "127.0.0.1:5000/team/app:v1.2.3", &format!("app@sha256:{HEX}")]);
    assert_eq!(code(&o), 0);
    let v = json_lines(&o);
    assert_eq!(keys(&v[0]), ["registry", "repository", "tag", "digest", "canonical"]);
    assert_eq!(v[0]["registry"], "127.0.0.1:5000");
    assert_eq!(v[0]["repository"], "team/app");
    assert_eq!(v[0]["tag"], "v1.2.3");
    assert!(v[0]["digest"].is_null());
    assert_eq!(v[0]["canonical"], "127.0.0.1:5000/team/app:v1.2.3");
    assert!(v[1]["tag"].is_null());
    assert_eq!(v[1]["digest"], format!("sha256:{HEX}"));
}

#[test]
fn ref_invalid_names_the_reference_and_exits_2() {
    let o = slipway(&["ref", "redis", "Bad/Name"]);
    assert_eq!(code(&o), 2);
    assert_eq!(stdout(&o), "docker.io/library/redis:latest\n", "valid references are still printed");
    assert!(stderr(&o).contains("\"Bad/Name\""), "{}", stderr(&o));
    assert!(stderr(&o).contains("lowercase"), "{}", stderr(&o));
}

#[test]
fn tags_pre_release() {
    let o = slipway(&["tags", "--event", "pre-release", "--sha", "3F2C1A9E8B", "--date", "20260131"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "sha-3f2c1a9\ntest-20260131-1\nstaging-latest\n");
    let o = slipway(&[
        "tags",
        "--event",
        "pre-release",
        "--sha",
        "3f2c1a9",
        "--date",
        "20260131",
        "--existing",
        "test-20260131-2",
        "test-20260131-7",
        "test-20260130-9",
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json_lines(&o);
    assert_eq!(v.len(), 1);
    assert_eq!(keys(&v[0]), ["event", "tags"]);
    assert_eq!(v[0]["event"], "pre-release");
    assert_eq!(v[0]["tags"], serde_json::json!(["sha-3f2c1a9", "test-20260131-8", "staging-latest"]));
}

#[test]
fn tags_pre_release_defaults_to_today_utc() {
    let o = slipway(&["tags", "--event", "pre-release", "--sha", "3f2c1a9"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    let second = stdout(&o).lines().nth(1).unwrap().to_string();
    // Allow a run that straddles midnight UTC.
    let yesterday = (chrono::Utc::now() - chrono::Duration::minutes(1)).format("%Y%m%d").to_string();
    assert!(second == format!("test-{today}-1") || second == format!("test-{yesterday}-1"), "{second}");
}

#[test]
fn tags_release() {
    let o = slipway(&["tags", "--event", "release", "--version", "1.2.3"]);
    assert_eq!((code(&o), stdout(&o)), (0, "v1.2.3\n".to_string()));
    let o = slipway(&["tags", "--event", "release", "--version", "v1.2.3", "--latest", "--json"]);
    assert_eq!(json_lines(&o)[0], serde_json::json!({"event": "release", "tags": ["v1.2.3", "latest"]}));
}

#[test]
fn tags_bad_input_exits_2() {
    for args in [
        &["tags", "--event", "release", "--version", "1.2"][..],
        &["tags", "--event", "release", "--version", "1.2.3+meta"],
        &["tags", "--event", "release"],
        &["tags", "--event", "release", "--version", "1.2.3", "--sha", "abcdef0"],
        &["tags", "--event", "pre-release", "--sha", "xyz"],
        &["tags", "--event", "pre-release", "--sha", "abcdef0", "--date", "20260230"],
        &["tags", "--event", "pre-release", "--sha", "abcdef0", "--latest"],
        &["tags", "--event", "nightly", "--sha", "abcdef0"],
    ] {
        let o = slipway(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?}");
        assert!(!stderr(&o).is_empty(), "{args:?}");
    }
}

#[test]
fn policy_check_accepts_and_refuses() {
    let o = slipway(&["policy", "check", "--env", "production", "app:v1.2.3", &format!("app:latest@sha256:{HEX}")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("rule release-version") && stdout(&o).contains("rule pinned-by-digest"));

    let o = slipway(&["policy", "check", "--env", "production", "app:latest", "app:v1.2.3", "app:test-20260131-1"]);
    assert_eq!(code(&o), 3);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 2, "one reason per refused reference: {err}");
    assert!(err.contains("no-latest") && err.contains("no-test-builds"), "{err}");
    assert!(err.contains("pin vX.Y.Z or a digest"), "{err}");

    let o = slipway(&["policy", "check", "--env", "staging", "app:latest", "app:sha-abcdef0"]);
    assert_eq!(code(&o), 0);
}

#[test]
fn policy_check_json_shape_is_stable() {
    let o = slipway(&["policy", "check", "--env", "production", "--json", "app:v1.0.0", "app:staging-latest"]);
    assert_eq!(code(&o), 3);
    let v = json_lines(&o);
    assert_eq!(keys(&v[0]), ["reference", "canonical", "environment", "accepted", "rule", "reason", "fix"]);
    assert_eq!(v[0]["accepted"], true);
    assert!(v[0]["reason"].is_null() && v[0]["fix"].is_null());
    assert_eq!(v[1]["reference"], "app:staging-latest");
    assert_eq!(v[1]["canonical"], "docker.io/library/app:staging-latest");
    assert_eq!(v[1]["environment"], "production");
    assert_eq!(v[1]["accepted"], false);
    assert_eq!(v[1]["rule"], "no-staging-latest");
    assert_eq!(v[1]["fix"], "pin vX.Y.Z or a digest");
    assert!(stderr(&o).contains("no-staging-latest"), "the reason also goes to stderr");
}

#[test]
fn policy_check_bad_input_exits_2() {
    let o = slipway(&["policy", "check", "--env", "nowhere", "app:v1.0.0"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("nowhere"));
    let o = slipway(&["policy", "check", "--env", "production", "app:latest", "Not/Valid"]);
    assert_eq!(code(&o), 2, "bad input wins over refusal");
    assert!(stderr(&o).contains("Not/Valid"));
}

#[test]
fn policy_file_defines_environments() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(
        &file,
        "[environments.qa]\nfix = \"pin a candidate\"\nrules = [\n  { name = \"candidates\", match = { tag-glob = \"v*-rc.*\" }, action = \"accept\" },\n]\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let o = slipway(&["policy", "check", "--env", "qa", "--policy-file", f, "app:v2.0.0-rc.1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = slipway(&["policy", "check", "--env", "qa", "--policy-file", f, "app:latest"]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("pin a candidate"));
    let o = slipway(&["policy", "show", "--env", "qa", "--policy-file", f]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("[environments.qa]") && !stdout(&o).contains("production"));
    std::fs::write(&file, "[environments.qa]\nrules = 3\n").unwrap();
    let o = slipway(&["policy", "check", "--env", "qa", "--policy-file", f, "app:v1.0.0"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("policy.toml"), "{}", stderr(&o));
}

#[test]
fn version_and_top_level_help() {
    let o = slipway(&["--version"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).starts_with("slipway "));
    let o = slipway(&["--help"]);
    assert!(stdout(&o).contains("Exit codes: 0 ok, 1 operation failed, 2 bad input, 3 refused by policy"));
}

/// One example from a help text: its arguments and the exit code its `# exit N` comment promises.
fn examples(help: &str) -> Vec<(Vec<String>, i32)> {
    help.lines()
        .skip_while(|l| l.trim() != "Examples:")
        .skip(1)
        .take_while(|l| l.starts_with("  slipway "))
        .map(|l| {
            let (cmd, comment) = l.split_once('#').unwrap_or((l, ""));
            let expected = comment
                .trim()
                .strip_prefix("exit ")
                .map_or(0, |rest| rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap());
            (cmd.split_whitespace().skip(1).map(str::to_string).collect(), expected)
        })
        .collect()
}

#[test]
fn help_examples_behave_as_documented() {
    let mut ran = 0;
    // Top-level examples of other rooms' commands are theirs to run (they may need services).
    let top = stdout(&slipway(&["--help"]));
    let mine = ["ref", "tags", "policy"];
    let top_examples: Vec<_> =
        examples(&top).into_iter().filter(|(args, _)| mine.contains(&args[0].as_str())).collect();
    assert!(top_examples.len() >= 3, "top-level --help shows examples:\n{top}");
    for (example, expected) in top_examples {
        let refs: Vec<&str> = example.iter().map(String::as_str).collect();
        assert_eq!(code(&slipway(&refs)), expected, "slipway {}", example.join(" "));
        ran += 1;
    }
    for sub in [&["ref"][..], &["tags"], &["policy", "check"], &["policy", "show"]] {
        let mut args = sub.to_vec();
        args.push("--help");
        let help = stdout(&slipway(&args));
        let list = examples(&help);
        assert!(list.len() >= 2, "{sub:?} --help shows examples:\n{help}");
        for (example, expected) in list {
            let refs: Vec<&str> = example.iter().map(String::as_str).collect();
            let o = slipway(&refs);
            assert_eq!(code(&o), expected, "slipway {}\nstderr: {}", example.join(" "), stderr(&o));
            if expected == 0 {
                assert!(!stdout(&o).is_empty(), "slipway {} prints a result", example.join(" "));
            } else {
                assert!(!stderr(&o).is_empty(), "slipway {} explains itself", example.join(" "));
            }
            ran += 1;
        }
    }
    assert!(ran >= 15, "ran {ran} examples");
}
