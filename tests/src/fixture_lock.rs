//! Cross-process locks (advisory `flock` on a file) that serialise the building of fixtures, so that
//! concurrent test processes build each fixture once.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

/// Serialises fixture builds within one process (any runtime), before the file lock is taken, so two
/// futures of the same runtime never wait on each other's file lock.
pub(crate) static IN_PROCESS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The lock file for the fixture `name` under the system's temp dir.
pub(crate) fn path_for(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("slipway-fixture-{name}.lock"))
}

/// Opens (creating it) the lock file at `path`.
pub(crate) fn open(path: &Path) -> anyhow::Result<fd_lock::RwLock<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open the fixture lock file {}", path.display()))?;
    Ok(fd_lock::RwLock::new(file))
}

/// Takes the exclusive lock without blocking the async runtime (polls every 50 ms).
pub(crate) async fn acquire(lock: &mut fd_lock::RwLock<File>) -> anyhow::Result<fd_lock::RwLockWriteGuard<'_, File>> {
    // The borrow checker cannot see that a failed `try_write` releases its borrow, so first wait
    // until the lock is free using a probe, then take it for real.
    loop {
        match lock.try_write() {
            Ok(guard) => {
                drop(guard);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e).context("cannot lock a fixture lock file"),
        }
    }
    lock.write().context("cannot lock a fixture lock file")
}

/// Takes the exclusive lock, blocking the current thread (for synchronous callers).
pub(crate) fn acquire_blocking(
    lock: &mut fd_lock::RwLock<File>,
) -> anyhow::Result<fd_lock::RwLockWriteGuard<'_, File>> {
    lock.write().context("cannot lock a fixture lock file")
}
