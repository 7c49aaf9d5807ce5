//! Where an SSH master's control socket lives. By default in a private temporary directory, and
//! the master ends with the command (`ssh -O exit`). With persistence asked for
//! (`SLIPWAY_SSH_PERSIST=60s`, [`super::ConnectOptions::ssh_persist`]) it lives at a fixed path
//! per host in `/tmp/slipway-ssh-<uid>/` (0700, owned by the user), started with
//! `ControlPersist=<secs>`, and the next command finds it and skips the SSH handshake. That
//! leaves an `ssh` process running until it has been idle that long: opt-in only.

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
            let dir = tempfile::Builder::new().prefix("slipway-ssh-").tempdir_in("/tmp")?;
            let control = dir.path().join("m");
            return Ok((ControlDir::Private { _dir: dir }, control));
        }
        let uid = std::fs::metadata("/proc/self")?.uid();
        let dir = PathBuf::from(format!("/tmp/slipway-ssh-{uid}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        check_private(&dir, uid)?;
        let key = format!("{}\0{}", target.shown(), settings.config.as_deref().unwrap_or(Path::new("")).display());
        let name = hex::encode(&sha2::Sha256::digest(key.as_bytes())[..12]);
        Ok((ControlDir::Persistent, dir.join(name)))
    }

    /// True when the master outlives the command.
    pub fn persistent(&self) -> bool {
        matches!(self, ControlDir::Persistent)
    }
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
