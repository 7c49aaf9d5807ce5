//! `slipway build` as a user runs it: `--oci FILE -o oci:DIR:TAG` prints a digest that repeats
//! across copies of the inputs and that skopeo reads back; a bad build file exits 2; a
//! Dockerfile build through the engine prints the image ID and sets the labels.

use std::path::Path;
use std::process::{Command, Output};

fn slipway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway")).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

const BUILD_FILE: &str = r#"
source_date_epoch = 1700000000
[config]
entrypoint = ["/bin/busybox", "cat", "/etc/greeting"]
labels = { "org.example.k" = "v" }
[[layers]]
comment = "busybox and a greeting"
[[layers.files]]
source = "bin/busybox"
target = "/bin/busybox"
[[layers.files]]
content = "hello\n"
target = "/etc/greeting"
"#;

fn inputs(dir: &Path) {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("bin/busybox")).unwrap();
    std::fs::write(dir.join("image.toml"), BUILD_FILE).unwrap();
}

#[test]
fn oci_build_prints_a_repeatable_digest_that_skopeo_reads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    inputs(a.path());
    inputs(b.path());
    let mut digests = Vec::new();
    for d in [a.path(), b.path()] {
        let out_loc = format!("oci:{}:v1", d.join("out").display());
        let o = slipway(&["build", "--quiet", "--oci", d.join("image.toml").to_str().unwrap(), "-o", &out_loc]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let digest = stdout(&o);
        assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
        let inspect = Command::new("skopeo").args(["inspect", &out_loc]).output().unwrap();
        assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
        let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
        assert_eq!(info["Digest"], digest.as_str());
        assert_eq!(info["Labels"]["org.example.k"], "v");
        digests.push(digest);
    }
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn bad_build_file_exits_2_naming_the_key() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("bad.toml"), "[config]\nentrypiont = [\"/x\"]\n").unwrap();
    let o = slipway(&["build", "--oci", d.path().join("bad.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("entrypiont"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn dockerfile_build_prints_the_image_id_and_sets_labels() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), "FROM scratch\nARG NOTE\nCOPY note.txt /note.txt\nLABEL note=$NOTE\n")
        .unwrap();
    std::fs::write(d.path().join("note.txt"), "n").unwrap();
    let suffix: u32 = std::process::id();
    let tag = format!("slipway-t-builder-cli{suffix}:v1");
    let o = slipway(&[
        "build",
        "--quiet",
        "--build-arg",
        "NOTE=from-arg",
        "--label",
        "team=web",
        "-t",
        &tag,
        d.path().to_str().unwrap(),
    ]);
    let inspect = Command::new("docker").args(["image", "inspect", &tag]).output().unwrap();
    let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(info[0]["Id"], stdout(&o).as_str());
    let labels = &info[0]["Config"]["Labels"];
    assert_eq!(labels["team"], "web");
    assert_eq!(labels["note"], "from-arg");
    assert!(labels["org.opencontainers.image.created"].is_string(), "{labels}");
}

#[test]
fn missing_context_and_mixed_modes_exit_2() {
    assert_eq!(slipway(&["build"]).status.code(), Some(2));
    assert_eq!(slipway(&["build", "--oci", "x.toml", "."]).status.code(), Some(2));
}

#[test]
fn event_release_tags_from_the_policy_and_fills_the_version_label() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), "FROM scratch\nCOPY f /f\n").unwrap();
    std::fs::write(d.path().join("f"), "f").unwrap();
    let repo = format!("slipway-t-builder-ev{}", std::process::id());
    let o = slipway(&[
        "build",
        "--quiet",
        "--json",
        "--event",
        "release",
        "--version",
        "v1.2.3",
        "--latest",
        "-t",
        &repo,
        d.path().to_str().unwrap(),
    ]);
    let inspect = Command::new("docker").args(["image", "inspect", &format!("{repo}:v1.2.3")]).output().unwrap();
    let _ = Command::new("docker").args(["rmi", "-f", &format!("{repo}:v1.2.3"), &format!("{repo}:latest")]).output();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let tags: Vec<&str> = out["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(tags, [format!("docker.io/library/{repo}:v1.2.3"), format!("docker.io/library/{repo}:latest")]);
    let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(info[0]["Config"]["Labels"]["org.opencontainers.image.version"], "1.2.3");
    // A tag given with --event is refused: the policy chooses tags.
    let bad =
        slipway(&["build", "--event", "release", "--version", "1.2.3", "-t", "app:v9", d.path().to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn compose_build_builds_the_build_services_and_names_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
    let project = format!("slipway-t-clibuild-{:08x}", std::process::id());
    let compose = "services:\n  tool:\n    build:\n      context: .\n      dockerfile_inline: |\n        FROM scratch\n        COPY hello.txt /hello.txt\n  db:\n    image: postgres:16\n";
    let file = dir.path().join("compose.yml");
    std::fs::write(&file, compose).unwrap();
    let f = file.to_string_lossy().into_owned();
    let o = slipway(&["build", "-f", &f, "-p", &project, "--json", "--quiet"]);
    let image = format!("{project}-tool");
    let _ = Command::new("docker").args(["rmi", "-f", &image]).output();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let line: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(line["image"], image.as_str());
    assert_eq!(line["services"], serde_json::json!(["tool"]));
    assert!(line["digest"].as_str().unwrap().starts_with("sha256:"));
    // A service without `build:` cannot be built: bad input.
    let o = slipway(&["build", "-f", &f, "-p", &project, "db"]);
    assert_eq!(o.status.code(), Some(2));
}
