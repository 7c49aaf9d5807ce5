//! `slipway backup` where no engine is needed: where backups are kept is the core's decision
//! (`--dir` a local directory only, else the engine's host), so a local directory is listed and
//! pruned without reaching any engine, the host is the default, and conflicting or malformed
//! flags are refused as bad input (exit 2) before anything connects.

use std::process::Command;

const NOWHERE: &str = "unix:///nonexistent/slipway-cli-test.sock";

fn slipway(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env_remove("SLIPWAY_SSH_PERSIST")
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_backup(dir: &std::path::Path, project: &str, day: u32) {
    let stem = format!("{project}_db_norelease_202611{day:02}T030000.000Z");
    std::fs::write(dir.join(format!("{stem}.dump")), b"dump").unwrap();
    let manifest = serde_json::json!({
        "kind": "postgres", "project": project, "service": "db", "volume": null, "release": null,
        "created": format!("2026-11-{day:02}T03:00:00Z"), "file": format!("{stem}.dump"),
        "sha256": "sha256:0000", "size": 4, "database": null, "user": null, "server_version": null,
        "image": null, "duration_ms": 1, "tables": {}
    });
    std::fs::write(dir.join(format!("{stem}.json")), manifest.to_string()).unwrap();
}

#[test]
fn a_local_directory_needs_no_engine_and_the_host_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for day in [1, 2, 3] {
        write_backup(dir.path(), "shop", day);
    }
    write_backup(dir.path(), "other", 1);
    let (code, out, err) = slipway(&["backup", "list", "--dir", d, "-p", "shop", "--json", "-H", NOWHERE]);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(listed.len(), 3, "{out}");
    assert!(listed.iter().all(|b| b["project"] == "shop" && b.get("host").is_none() && b["manifest_path"].is_string()));
    // -p applies to a directory as to the host: the other project's backup is neither counted nor removed.
    let (code, out, err) =
        slipway(&["backup", "prune", "--dir", d, "-p", "shop", "--keep", "1", "--json", "-H", NOWHERE]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    let (_, out, _) = slipway(&["backup", "list", "--dir", d, "--json", "-H", NOWHERE]);
    assert_eq!(out.lines().count(), 2, "the newest of shop and the one of other are left: {out}");
    // Without --dir the backups are the engine's host's: that engine is reached (and here fails).
    let (code, _, err) = slipway(&["backup", "list", "-H", NOWHERE]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nonexistent"), "names the engine: {err}");
}

#[test]
fn conflicting_and_malformed_flags_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, _, err) = slipway(&["backup", "-p", "shop", "--dir", d, "--download", d, "-H", NOWHERE]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--download") && err.contains("--dir"), "{err}");
    let (code, _, err) = slipway(&["backup", "list", "--ssh-persist", "soon", "-H", NOWHERE]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("invalid duration"), "{err}");
    let (code, _, err) = slipway(&["backup", "list", "--dir", d, "--ssh-persist", "60s", "-H", NOWHERE]);
    assert_eq!(code, 0, "a valid duration is taken: {err}");
}
