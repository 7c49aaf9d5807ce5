//! Whether a deploy lock's holder is provably gone, so a killed deploy's lock is taken over at
//! once instead of one lease later. The holder writes its process as its kernel knows it: the
//! boot id (one per boot of one machine), its pid namespace, its pid and the process's start
//! time in clock ticks. Another deploy on the same kernel and in the same pid namespace reads
//! `/proc/PID/stat`: no such process, or one that started at another time (the pid was reused),
//! proves the holder is gone. Anywhere else (another machine, another container, not Linux) it
//! proves nothing and the lease alone decides (`lock.rs`).

use std::path::Path;

/// The identity of a process: boot id, pid namespace, pid, start time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HolderProcess {
    boot: String,
    pid_namespace: String,
    pid: u32,
    start: u64,
}

impl HolderProcess {
    /// This process, when the kernel says who it is (Linux with `/proc`).
    pub(crate) fn own() -> Option<Self> {
        Self::read(Path::new("/proc"), std::process::id())
    }

    fn read(proc: &Path, pid: u32) -> Option<Self> {
        let boot = std::fs::read_to_string(proc.join("sys/kernel/random/boot_id")).ok()?.trim().to_string();
        let ns = std::fs::read_link(proc.join("self/ns/pid")).ok()?.to_string_lossy().into_owned();
        let start = start_ticks(&std::fs::read_to_string(proc.join(format!("{pid}/stat"))).ok()?)?;
        Some(Self { boot, pid_namespace: ns, pid, start })
    }

    /// As written in the lock's label.
    pub(crate) fn label(&self) -> String {
        format!("{} {} {} {}", self.boot, self.pid_namespace, self.pid, self.start)
    }

    fn parse(label: &str) -> Option<Self> {
        let mut parts = label.split(' ');
        let (boot, ns, pid, start) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(Self { boot: boot.into(), pid_namespace: ns.into(), pid: pid.parse().ok()?, start: start.parse().ok()? })
    }
}

/// `Some(why)` when the holder written as `label` is provably gone, as seen by `me` through
/// `proc` (normally `/proc`); `None` when it runs, or when this machine cannot tell.
pub(crate) fn holder_gone(label: &str, me: &HolderProcess, proc: &Path) -> Option<String> {
    let holder = HolderProcess::parse(label)?;
    if holder.boot != me.boot || holder.pid_namespace != me.pid_namespace {
        return None; // another machine, another boot or another container: only the lease tells
    }
    match std::fs::read_to_string(proc.join(format!("{}/stat", holder.pid))) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("its process {} on this machine is gone", holder.pid))
        }
        Err(_) => None,
        Ok(stat) if state(&stat) == Some('Z') => Some(format!("its process {} on this machine has exited", holder.pid)),
        Ok(stat) => match start_ticks(&stat) {
            Some(start) if start != holder.start => Some(format!(
                "its process {} on this machine is gone (the pid now belongs to another process)",
                holder.pid
            )),
            _ => None,
        },
    }
}

/// Field 3 of `/proc/PID/stat` (the state: `Z` for a zombie, exited but not reaped).
fn state(stat: &str) -> Option<char> {
    stat[stat.rfind(')')? + 1..].split_whitespace().next()?.chars().next()
}

/// Field 22 of `/proc/PID/stat` (the start time), read after the command's closing parenthesis
/// (a command may contain spaces and parentheses).
fn start_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // After `)`: field 3 (state) is the first; the start time is field 22.
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_proc(boot: &str, processes: &[(u32, u64)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sys/kernel/random")).unwrap();
        std::fs::write(dir.path().join("sys/kernel/random/boot_id"), format!("{boot}\n")).unwrap();
        std::fs::create_dir_all(dir.path().join("self/ns")).unwrap();
        std::os::unix::fs::symlink("pid:[4026531836]", dir.path().join("self/ns/pid")).unwrap();
        for (pid, start) in processes {
            std::fs::create_dir_all(dir.path().join(pid.to_string())).unwrap();
            let fields: Vec<String> = (3..=21).map(|i| i.to_string()).collect();
            let state = if *start == 0 { "Z" } else { "S" };
            let stat = format!("{pid} (slip way (x)) {state} {} {start} 0 0\n", fields[1..].join(" "));
            std::fs::write(dir.path().join(format!("{pid}/stat")), stat).unwrap();
        }
        dir
    }

    #[test]
    fn a_holder_is_gone_only_when_this_kernel_can_prove_it() {
        let proc = fake_proc("b00t", &[(10, 500), (20, 900), (40, 0)]);
        let me = HolderProcess::read(proc.path(), 10).unwrap();
        assert_eq!(me.label(), "b00t pid:[4026531836] 10 500");
        let same = |pid: u32, start: u64| format!("b00t pid:[4026531836] {pid} {start}");
        assert_eq!(holder_gone(&same(20, 900), &me, proc.path()), None, "it runs");
        let gone = holder_gone(&same(30, 900), &me, proc.path()).unwrap();
        assert!(gone.contains("process 30") && gone.contains("gone"), "{gone}");
        assert!(holder_gone(&same(20, 901), &me, proc.path()).unwrap().contains("another process"), "pid reused");
        assert!(holder_gone(&same(40, 0), &me, proc.path()).unwrap().contains("exited"), "a zombie holds nothing");
        // Another boot, another pid namespace, or a label this version does not know: no proof.
        assert_eq!(holder_gone("other pid:[4026531836] 30 900", &me, proc.path()), None);
        assert_eq!(holder_gone("b00t pid:[1] 30 900", &me, proc.path()), None);
        assert_eq!(holder_gone("garbage", &me, proc.path()), None);
    }

    #[test]
    fn this_process_knows_itself() {
        if let Some(me) = HolderProcess::own() {
            assert_eq!(holder_gone(&me.label(), &me, Path::new("/proc")), None);
        }
    }
}
