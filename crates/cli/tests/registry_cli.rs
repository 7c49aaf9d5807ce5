//! The registry subcommands of the `slipway` binary against a real registry: login writes
//! config.json as `docker login` does and later commands use it; digest, ls, inspect, copy, push
//! from a layout, rm, prune; exit codes 2 (bad input) and 1 (failure).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use slipway::registry::{Credentials, Distribution, DistributionOptions};
use slipway::ImageRef;
use slipway_e2e::registry::sample::{sample_image, Flavor};
use slipway_e2e::registry::TestRegistry;

fn slipway(config: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env("DOCKER_CONFIG", config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[tokio::test]
async fn cli_login_then_registry_commands_use_config_json() {
    let reg = TestRegistry::start().await.unwrap();
    let cfg = tempfile::tempdir().unwrap();
    let host = reg.host();
    // Seed an image with the library.
    let c = Distribution::connect(
        &host,
        DistributionOptions::default().credentials(Credentials::basic(reg.username(), reg.password())),
    )
    .await
    .unwrap();
    let img = sample_image(Flavor::Oci, &[3000, 4000], "amd64").unwrap();
    img.push(&c, &ImageRef::parse(&format!("{host}/cli/app:staging-latest")).unwrap()).await.unwrap();

    // Before login: refused with exit code 1, the message names the registry.
    let o = slipway(cfg.path(), &["digest", &format!("{host}/cli/app:staging-latest")], None);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(stderr.contains(&host) && stderr.contains("access denied") && stderr.contains("slipway login"), "{stderr}");
    // Wrong password: login fails and stores nothing.
    let o = slipway(cfg.path(), &["login", &host, "-u", reg.username(), "--password-stdin"], Some("wrong\n"));
    assert_eq!(o.status.code(), Some(1));
    assert!(!cfg.path().join("config.json").exists());
    let o = slipway(
        cfg.path(),
        &["login", &host, "-u", reg.username(), "--password-stdin"],
        Some(&format!("{}\n", reg.password())),
    );
    assert!(ok(&o).contains("Login Succeeded"));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cfg.path().join("config.json")).unwrap()).unwrap();
    assert!(config["auths"][&host]["auth"].is_string(), "{config}");
    // skopeo reads the same file.
    let sk = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--authfile"])
        .arg(cfg.path().join("config.json"))
        .arg(format!("docker://{host}/cli/app:staging-latest"))
        .output()
        .unwrap();
    assert!(sk.status.success(), "{}", String::from_utf8_lossy(&sk.stderr));

    let src = format!("{host}/cli/app:staging-latest");
    assert_eq!(ok(&slipway(cfg.path(), &["digest", &src], None)).trim(), img.digest().to_string());
    let copied = ok(&slipway(cfg.path(), &["copy", &src, &format!("{host}/cli/app:v1.0.0")], None));
    assert_eq!(copied.trim(), img.digest().to_string());
    assert_eq!(ok(&slipway(cfg.path(), &["ls", &format!("{host}/cli/app")], None)), "staging-latest\nv1.0.0\n");
    let info: serde_json::Value =
        serde_json::from_str(&ok(&slipway(cfg.path(), &["inspect", "--json", &src], None))).unwrap();
    assert_eq!(info["digest"], img.digest().to_string());
    assert_eq!(info["layers"].as_array().unwrap().len(), 2);
    assert_eq!(info["config"]["architecture"], "amd64");
    assert!(ok(&slipway(cfg.path(), &["inspect", &src], None)).contains("layer:"));

    // Registry -> layout -> registry through the CLI.
    let dir = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:v1", dir.path().display());
    assert_eq!(ok(&slipway(cfg.path(), &["copy", &src, &layout], None)).trim(), img.digest().to_string());
    assert_eq!(ok(&slipway(cfg.path(), &["digest", &layout], None)).trim(), img.digest().to_string());
    let pushed = ok(&slipway(cfg.path(), &["push", &layout, &format!("{host}/cli/fromlayout:v1")], None));
    assert_eq!(pushed.trim(), img.digest().to_string());

    // Prune: three test builds, keep 1; dry run first.
    for i in 1..=3 {
        let t = sample_image(Flavor::Oci, &[100], "amd64").unwrap();
        t.push(&c, &ImageRef::parse(&format!("{host}/cli/app:test-20250101-{i}")).unwrap()).await.unwrap();
    }
    let repo = format!("{host}/cli/app");
    let dry = ok(&slipway(cfg.path(), &["prune", &repo, "--keep", "1", "--match", "test-*"], None));
    assert!(dry.contains("would delete test-20250101-1") && dry.contains("would delete test-20250101-2"), "{dry}");
    assert_eq!(ok(&slipway(cfg.path(), &["ls", &repo], None)).lines().count(), 5);
    let applied = ok(&slipway(cfg.path(), &["prune", &repo, "--keep", "1", "--match", "test-*", "--apply"], None));
    assert!(applied.contains("deleted test-20250101-1"), "{applied}");
    assert_eq!(ok(&slipway(cfg.path(), &["ls", &repo], None)), "staging-latest\ntest-20250101-3\nv1.0.0\n");

    // rm deletes by digest: both tags on it go.
    assert_eq!(ok(&slipway(cfg.path(), &["rm", &src], None)).trim(), img.digest().to_string());
    assert_eq!(ok(&slipway(cfg.path(), &["ls", &repo], None)), "test-20250101-3\n");

    // Bad input: exit 2.
    assert_eq!(slipway(cfg.path(), &["digest", "Not/A:Valid:Ref"], None).status.code(), Some(2));
    assert_eq!(
        slipway(cfg.path(), &["prune", &repo, "--keep", "1", "--match", "[", "--apply"], None).status.code(),
        Some(2)
    );
}
