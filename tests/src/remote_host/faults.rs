//! Faults of a [`RemoteHost`]'s SSH side, for tests of a connection dropped mid-deploy: new SSH
//! connections refused (a REJECT rule in the host's namespace) and every open SSH connection cut
//! (sshd's per-connection processes killed, the listener kept), until the guard is dropped.

use std::process::Command;

use super::{run, RemoteHost};

/// While alive, the host refuses SSH; dropping it lets connections in again.
#[derive(Debug)]
pub struct SshCut<'a> {
    host: &'a RemoteHost,
}

impl RemoteHost {
    /// Refuse new SSH connections and cut the open ones (the engine and its containers keep
    /// running): what a deploy sees when the network to its host goes away mid-way.
    pub fn cut_ssh(&self) -> anyhow::Result<SshCut<'_>> {
        self.reject_ssh("-I")?;
        let listener: u32 = std::fs::read_to_string(self.dir.join("sshd.pid"))?.trim().parse()?;
        for pid in descendants(listener) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
        Ok(SshCut { host: self })
    }

    fn reject_ssh(&self, op: &str) -> anyhow::Result<()> {
        run(Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/slw-h{}", self.slot))
            .args(["iptables", op, "INPUT", "-p", "tcp", "--dport", "22", "-j", "REJECT"])
            .args(["--reject-with", "tcp-reset"]))
    }
}

impl Drop for SshCut<'_> {
    fn drop(&mut self) {
        let _ = self.host.reject_ssh("-D");
    }
}

/// Every process below `root` (not `root` itself), from `/proc/*/stat`.
fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // `pid (comm) state ppid ...`: comm may hold spaces, so read after the last ')'.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}
