//! The slots of [`super::RemoteHost`]s: one directory per running host under
//! `/tmp/slipway-remote` (claimed with an atomic mkdir, owned by a pid), the shared bridge with
//! its FORWARD rule and the blackhole route, and the idempotent teardown.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The bridge every remote host hangs on.
pub(super) const BRIDGE: &str = "slw-br14";
/// The bridge's own address (the test process's side).
pub const BRIDGE_ADDR: &str = "10.231.14.1";
/// The remote engines' container networks, blackholed on the test side.
pub const REMOTE_NETWORKS: &str = "10.232.0.0/15";
/// Where slots (one directory per running host) live.
pub(super) const STATE: &str = "/tmp/slipway-remote";
/// Slots are host numbers in this range.
pub(super) const SLOTS: std::ops::Range<u8> = 11..60;

pub(super) fn slot_dir(slot: u8) -> PathBuf {
    Path::new(STATE).join(format!("slot-{slot}"))
}

/// mkdir is atomic: the first process to create `slot-N` owns it.
pub(super) fn claim_slot() -> anyhow::Result<u8> {
    for slot in SLOTS {
        let dir = slot_dir(slot);
        if std::fs::create_dir(&dir).is_ok() {
            std::fs::write(dir.join("owner"), std::process::id().to_string())?;
            return Ok(slot);
        }
    }
    bail!("no free remote-host slot in {STATE}")
}

/// Tear down the slots whose owner process is gone (a crashed or killed earlier run).
pub(super) fn reap_leftovers() {
    let Ok(entries) = std::fs::read_dir(STATE) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(slot) = name.strip_prefix("slot-").and_then(|s| s.parse::<u8>().ok()) else { continue };
        let owner = std::fs::read_to_string(e.path().join("owner")).ok().and_then(|p| p.trim().parse::<u32>().ok());
        let alive = match owner {
            Some(p) => Path::new(&format!("/proc/{p}")).exists(),
            // Just claimed by another process that has not written its owner yet: leave it.
            None => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < Duration::from_secs(120)),
        };
        if !alive {
            teardown(slot);
        }
    }
}

/// Stop sshd and dockerd, delete the namespace and the veth, remove the slot. Idempotent.
pub fn teardown(slot: u8) {
    let dir = slot_dir(slot);
    for (pidfile, grace) in [("sshd.pid", 2), ("docker.pid", 30)] {
        if let Some(pid) = std::fs::read_to_string(dir.join(pidfile)).ok().and_then(|p| p.trim().parse::<i32>().ok()) {
            let _ = Command::new("kill").arg(pid.to_string()).stderr(Stdio::null()).status();
            let deadline = Instant::now() + Duration::from_secs(grace);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).stderr(Stdio::null()).status();
        }
    }
    let quiet = |c: &mut Command| {
        let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
    };
    quiet(Command::new("ip").args(["netns", "del", &format!("slw-h{slot}")]));
    quiet(Command::new("ip").args(["link", "del", &format!("slw-v{slot}")]));
    // fuse-overlayfs mounts a stopped engine may have left behind.
    if let Ok(mounts) = std::fs::read_to_string("/proc/mounts") {
        let data = dir.join("data").display().to_string();
        for m in mounts.lines().filter_map(|l| l.split_whitespace().nth(1)).filter(|m| m.starts_with(&data)) {
            quiet(Command::new("umount").args(["-l", m]));
        }
    }
    let _ = std::fs::remove_dir_all(format!("/tmp/slw-e{slot}"));
    let _ = std::fs::remove_dir_all(&dir);
}

pub(super) fn ensure_bridge() -> anyhow::Result<()> {
    let exists =
        Command::new("ip").args(["link", "show", BRIDGE]).stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    if !exists.success() {
        let _ = Command::new("ip").args(["link", "add", BRIDGE, "type", "bridge"]).status();
        let _ = Command::new("ip").args(["addr", "add", &format!("{BRIDGE_ADDR}/24"), "dev", BRIDGE]).status();
        run(Command::new("ip").args(["link", "set", BRIDGE, "up"]))?;
    }
    run(Command::new("ip").args(["route", "replace", "blackhole", REMOTE_NETWORKS]))?;
    let rule = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"];
    let present = Command::new("iptables").arg("-C").args(rule).stderr(Stdio::null()).status()?;
    if !present.success() {
        run(Command::new("iptables").arg("-I").args(rule))?;
    }
    Ok(())
}

pub(super) fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}
