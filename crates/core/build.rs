//! Builds the relay helper (`relay/main.rs`, std only) for the crate's target as a static binary
//! in `OUT_DIR`, embedded by `engine/relay_image.rs`. A build that cannot make it (another OS, no
//! static libc, a cross linker missing) still builds the crate: a warning, and the cfg
//! `slipway_no_relay`, under which probes of a tcp:// or TLS engine's containers run from the
//! operator's machine, labelled so, as before the relay.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(slipway_no_relay)");
    println!("cargo:rerun-if-changed=relay/main.rs");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SLIPWAY_NO_RELAY");
    if let Err(why) = build_relay() {
        println!("cargo:warning=slipway-relay not built ({why}); probes of tcp:// and TLS engines' containers will run from the operator's machine");
        println!("cargo:rustc-cfg=slipway_no_relay");
    }
}

fn build_relay() -> Result<(), String> {
    if std::env::var_os("SLIPWAY_NO_RELAY").is_some() {
        return Err("SLIPWAY_NO_RELAY is set".into());
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return Err(format!("the helper runs in Linux containers; this target's OS is {os:?}"));
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let target = std::env::var("TARGET").map_err(|_| "TARGET is not set".to_string())?;
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|_| "OUT_DIR is not set".to_string())?);
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|_| "no CARGO_MANIFEST_DIR".to_string())?);
    let binary = out.join("slipway-relay");
    let mut cmd = Command::new(rustc);
    cmd.arg(manifest.join("relay/main.rs"))
        .args(["--edition", "2021", "--crate-name", "slipway_relay", "--crate-type", "bin", "--target", &target])
        .args(["-C", "opt-level=s", "-C", "panic=abort", "-C", "strip=symbols", "-C", "target-feature=+crt-static"])
        .args(["-C", "codegen-units=1"])
        .arg("-o")
        .arg(&binary)
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    let linker_var = format!("CARGO_TARGET_{}_LINKER", target.to_uppercase().replace(['-', '.'], "_"));
    if let Ok(linker) = std::env::var(&linker_var) {
        cmd.arg("-C").arg(format!("linker={linker}"));
    }
    let output = cmd.output().map_err(|e| format!("cannot run rustc: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().find(|l| l.starts_with("error")).unwrap_or("rustc failed");
        return Err(first.to_string());
    }
    let size = std::fs::metadata(&binary).map_err(|e| format!("no binary: {e}"))?.len();
    if size == 0 {
        return Err("an empty binary".into());
    }
    Ok(())
}
