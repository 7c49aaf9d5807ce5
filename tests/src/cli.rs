//! The `slipway` CLI binary for end-to-end tests that drive it as users do.

use std::path::PathBuf;

/// Build the CLI (cargo skips it when fresh) and return its path.
pub fn slipway_bin() -> PathBuf {
    let root = crate::images::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(&root)
        .args(["build", "-q", "-p", "slipway-cli", "--bin", "slipway"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the slipway CLI failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    target.join("debug").join("slipway")
}
