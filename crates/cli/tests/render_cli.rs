//! `slipway render --target kubernetes`: the `--help` examples run as documented (from the
//! repository root, where their paths point), `-o DIR` writes the same stream as stdout, and
//! `--strict` exits 2 naming the keys that cannot map.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn slipway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .current_dir(repo())
        .env_remove("POSTGRES_PASSWORD")
        .output()
        .unwrap()
}

const PROD: &str = "tests/kubernetes/stacks/production/compose.yml";

#[test]
fn help_examples_run() {
    let help = String::from_utf8(slipway(&["render", "--help"]).stdout).unwrap();
    let examples: Vec<Vec<String>> = help
        .lines()
        .skip_while(|l| l.trim() != "Examples:")
        .skip(1)
        .take_while(|l| l.starts_with("  slipway "))
        .map(|l| l.split_whitespace().skip(1).map(str::to_string).collect())
        .collect();
    assert!(examples.len() >= 3, "{help}");
    for e in examples {
        let refs: Vec<&str> = e.iter().map(String::as_str).collect();
        let o = slipway(&refs);
        assert_eq!(o.status.code(), Some(0), "slipway {}: {}", e.join(" "), String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn output_dir_holds_the_stdout_stream_and_strict_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let printed = slipway(&["render", "--target", "kubernetes", "-f", PROD, "--namespace", "shop"]);
    assert_eq!(printed.status.code(), Some(0));
    let o = slipway(&["render", "--target", "kubernetes", "-f", PROD, "--namespace", "shop", "-o", d]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let written = std::fs::read(dir.path().join("shop.yaml")).unwrap();
    assert_eq!(written, printed.stdout);
    let text = String::from_utf8(written).unwrap();
    assert!(text.contains("kind: Deployment") && text.contains("namespace: shop"));

    let lax = slipway(&["render", "--target", "kubernetes", "-f", "tests/kubernetes/stacks/web-worker/compose.yml"]);
    assert_eq!(lax.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&lax.stderr).contains("warning: service web: container_name"));
    let strict = slipway(&[
        "render",
        "--target",
        "kubernetes",
        "-f",
        "tests/kubernetes/stacks/web-worker/compose.yml",
        "--strict",
    ]);
    assert_eq!(strict.status.code(), Some(2));
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(err.contains("cannot map to Kubernetes (--strict)") && err.contains("stop_signal"), "{err}");
    assert!(strict.stdout.is_empty());
}
