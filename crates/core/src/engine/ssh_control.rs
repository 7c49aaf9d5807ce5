//! Where an SSH master's control socket lives. By default in a private temporary directory, and
//! the master ends with the command (`ssh -O exit`). With persistence asked for
//! (`SLIPWAY_SSH_PERSIST=60s`, [`super::ConnectOptions::ssh_persist`]) it lives at a fixed path
//! per host in `/tmp/slipway-ssh-<uid>/` (0700, owned by the user), started with
//! `ControlPersist=<secs>`, and the next command finds it and skips the SSH handshake. That
//! leaves an `ssh` process running until it has been idle that long: opt-in only.
//!
//! What masters that are gone leave in that directory (a dead control socket, its `.log`, the
//! forwarded engine socket `.sock`) is swept by the next command ([`sweep`]): a bounded number of
//! entries, nothing younger than [`SWEEP_MIN_AGE`], nothing of a master that still answers.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest;

use super::ssh::SshTarget;

/// How `ssh` is run for one host: its config file and whether the master outlives the command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SshSettings {
    /// `ssh -F FILE`.
    pub config: Option<PathBuf>,
    /// Keep the master this long after its last use (`ControlPersist`); `None`: end with the command.
    pub persist: Option<Duration>,
}

/// The control socket's directory: removed with the master, or kept for the next command.
pub(crate) enum ControlDir {
    /// A private directory, removed when the master ends (held for that).
    Private {
        /// The directory.
        _dir: tempfile::TempDir,
    },
    /// The user's directory of persistent masters (`/tmp/slipway-ssh-<uid>`), kept.
    Persistent,
}

impl ControlDir {
    /// The directory for `target`'s master under `settings`, and the control socket's path.
    pub fn for_target(target: &SshTarget, settings: &SshSettings) -> std::io::Result<(Self, PathBuf)> {
        if settings.persist.is_none() {
            // Leftovers of earlier persistent masters, if that directory is ours.
            if let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) {
                let kept = persistent_dir(uid);
                if check_private(&kept, uid).is_ok() {
                    sweep(&kept, SWEEP_MIN_AGE, SWEEP_LIMIT);
                }
            }
            let dir = tempfile::Builder::new().prefix("slipway-ssh-").tempdir_in("/tmp")?;
            let control = dir.path().join("m");
            return Ok((ControlDir::Private { _dir: dir }, control));
        }
        let uid = std::fs::metadata("/proc/self")?.uid();
        let dir = persistent_dir(uid);
        match std::fs::create_dir(&dir) {
            Ok(()) => std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        check_private(&dir, uid)?;
        sweep(&dir, SWEEP_MIN_AGE, SWEEP_LIMIT);
        let key = format!("{}\0{}", target.shown(), settings.config.as_deref().unwrap_or(Path::new("")).display());
        let name = hex::encode(&sha2::Sha256::digest(key.as_bytes())[..12]);
        Ok((ControlDir::Persistent, dir.join(name)))
    }

    /// True when the master outlives the command.
    pub fn persistent(&self) -> bool {
        matches!(self, ControlDir::Persistent)
    }
}

/// The user's directory of persistent masters.
fn persistent_dir(uid: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/slipway-ssh-{uid}"))
}

/// The most entries of the persistent directory one command looks at.
const SWEEP_LIMIT: usize = 64;
/// Files younger than this are left alone: a master another command is starting has written its
/// `.log` before its control socket exists (connecting is bounded well below this).
pub(crate) const SWEEP_MIN_AGE: Duration = Duration::from_secs(120);

/// Remove, in `dir`, the files of masters that are gone: for each control socket name (24 hex
/// digits) among the first `limit` entries whose socket does not accept a connection, the
/// socket, its `.log` and its forwarded `.sock`, each only when older than `min_age`. A master
/// that answers is never touched; other files are never touched. Returns how many were removed.
pub(crate) fn sweep(dir: &Path, min_age: Duration, limit: usize) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut stems: Vec<String> = entries
        .take(limit)
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.split('.').next().unwrap_or_default().to_string();
            (stem.len() == 24 && stem.bytes().all(|b| b.is_ascii_hexdigit())).then_some(stem)
        })
        .collect();
    stems.sort();
    stems.dedup();
    let old = |p: &Path| {
        std::fs::symlink_metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= min_age)
    };
    let mut removed = 0;
    for stem in stems {
        let control = dir.join(&stem);
        // A live master accepts on its control socket (a unix connect answers at once).
        if std::os::unix::net::UnixStream::connect(&control).is_ok() {
            continue;
        }
        for file in [control.clone(), control.with_extension("log"), control.with_extension("sock")] {
            if old(&file) && std::fs::remove_file(&file).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// Refuse a shared directory someone else could plant a socket in.
fn check_private(dir: &Path, uid: u32) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(std::io::Error::other(format!(
            "{} must be a directory owned by uid {uid} with mode 0700 (it holds SSH control sockets)",
            dir.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn the_files_of_masters_that_are_gone_are_swept_and_a_live_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let name = |c: char| c.to_string().repeat(24);
        // A master that is gone: its control socket answers no more, its log and forwarding stay.
        let gone = dir.path().join(name('a'));
        drop(UnixListener::bind(&gone).unwrap());
        drop(UnixListener::bind(gone.with_extension("sock")).unwrap());
        std::fs::write(gone.with_extension("log"), "").unwrap();
        // A live master: its control socket accepts.
        let live = dir.path().join(name('b'));
        let _listening = UnixListener::bind(&live).unwrap();
        std::fs::write(live.with_extension("log"), "").unwrap();
        drop(UnixListener::bind(live.with_extension("sock")).unwrap());
        // A master being started: only its log so far.
        let starting = dir.path().join(name('c')).with_extension("log");
        std::fs::write(&starting, "").unwrap();
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "").unwrap();

        // Young files are left alone, whoever they belong to.
        assert_eq!(sweep(dir.path(), Duration::from_secs(3600), 64), 0);
        assert!(gone.with_extension("log").exists() && starting.exists());
        // Old enough: the gone master's three files and the lone log go; the live master stays.
        assert_eq!(sweep(dir.path(), Duration::ZERO, 64), 4);
        assert!(!gone.exists() && !gone.with_extension("sock").exists() && !gone.with_extension("log").exists());
        assert!(!starting.exists());
        assert!(live.exists() && live.with_extension("log").exists() && live.with_extension("sock").exists());
        assert!(other.exists(), "files slipway did not name are never touched");
        // Bounded: no entry looked at, nothing removed.
        std::fs::write(&starting, "").unwrap();
        assert_eq!(sweep(dir.path(), Duration::ZERO, 0), 0);
    }
}
