//! Which processes have a cache directory open. Each holds an exclusive lock on its own file
//! under `owners/` for as long as it runs; the OS drops the lock when a process dies, even by
//! `kill -9`. A process that finds no other live owner knows every temp file and every
//! unreferenced content file is garbage, not someone's write in progress.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{CacheError, Result};

pub(crate) struct Presence {
    path: PathBuf,
    _file: File,
}

impl Presence {
    pub fn join(dir: &Path) -> Result<Presence> {
        let owners = dir.join("owners");
        fs::create_dir_all(&owners).map_err(|e| CacheError::io(&e, "creating owners directory"))?;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = owners.join(format!("{}-{nanos:09}.lock", std::process::id()));
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| CacheError::io(&e, "creating owner lock"))?;
        file.lock().map_err(|e| CacheError::io(&e, "locking owner file"))?;
        Ok(Presence { path, _file: file })
    }

    /// Whether another live process has the directory open. Lock files left by dead
    /// processes are removed on the way.
    pub fn others_alive(&self) -> bool {
        let Some(owners) = self.path.parent() else { return false };
        let Ok(listing) = fs::read_dir(owners) else { return false };
        let mut alive = false;
        for item in listing.flatten() {
            let path = item.path();
            if path == self.path {
                continue;
            }
            let Ok(file) = OpenOptions::new().write(true).open(&path) else { continue };
            match file.try_lock() {
                Ok(()) => {
                    let _ = fs::remove_file(&path);
                }
                Err(TryLockError::WouldBlock) => alive = true,
                Err(TryLockError::Error(_)) => alive = true,
            }
        }
        alive
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
