//! Which processes have a cache directory open. Each holds an exclusive lock on its own file
//! under `owners/` for as long as it runs; the OS drops the lock when a process dies, even by
//! `kill -9`. A process that finds no other live owner knows every temp file and every
//! unreferenced content file is garbage, not someone's write in progress.
//!
//! A lock file becomes visible already locked: it is created under a `.joining` name that
//! scans ignore, locked, then renamed to its `.lock` name, so no scan can take a live process
//! for a dead one. Whatever a scan cannot see or open counts as a live owner (fail closed).

use std::fs::{self, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{CacheError, Result};
use crate::{files, layout};

/// Left in `owners/` when a dead process's lock file is removed, so the unclean shutdown is
/// still known to whoever is next alone with the directory (and sweeps it).
const UNCLEAN_MARKER: &str = "unclean-shutdown";

/// A `.joining` file older than this belongs to a process that died while joining.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) struct Presence {
    path: PathBuf,
    _file: fs::File,
}

/// What a scan of `owners/` found.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Owners {
    /// Another process has (or may have: fail closed) the directory open.
    pub others_alive: bool,
    /// A process died without closing (its lock file was found now, or earlier by a scan
    /// that left the marker): the directory may hold garbage from an unclean shutdown.
    pub dead_found: bool,
}

impl Presence {
    pub fn join(dir: &Path) -> Result<Presence> {
        let owners = layout::owners_dir(dir);
        files::create_private_dir(&owners)
            .map_err(|e| CacheError::io(&e, "creating owners directory"))?;
        if !files::is_real_dir(&owners)
            .map_err(|e| CacheError::io(&e, "checking owners directory"))?
        {
            let e = io::Error::from(io::ErrorKind::NotADirectory);
            return Err(CacheError::io(
                &e,
                format!("{} is not a directory (a symlink?)", owners.display()),
            ));
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("{}-{nanos:09}", std::process::id());
        let joining = owners.join(format!(".{name}.joining"));
        let path = owners.join(format!("{name}.lock"));
        let file = files::private_file_options()
            .create_new(true)
            .write(true)
            .open(&joining)
            .map_err(|e| CacheError::io(&e, "creating owner lock"))?;
        let locked = file.lock().and_then(|()| fs::rename(&joining, &path));
        if let Err(e) = locked {
            let _ = fs::remove_file(&joining);
            return Err(CacheError::io(&e, "locking owner file"));
        }
        Ok(Presence { path, _file: file })
    }

    /// Whether another live process has the directory open.
    pub fn others_alive(&self) -> bool {
        self.scan().others_alive
    }

    /// Looks at every owner file; lock files left by dead processes are removed on the way.
    pub fn scan(&self) -> Owners {
        let mut found = Owners::default();
        let Some(owners) = self.path.parent() else {
            return Owners {
                others_alive: true,
                dead_found: false,
            };
        };
        let listing =
            match files::is_real_dir(owners).map(|real| real.then(|| fs::read_dir(owners))) {
                Ok(Some(Ok(listing))) => listing,
                _ => {
                    return Owners {
                        others_alive: true,
                        dead_found: false,
                    }
                }
            };
        for item in listing {
            let Ok(item) = item else {
                found.others_alive = true;
                continue;
            };
            let path = item.path();
            let name = item.file_name();
            let name = name.to_string_lossy();
            if path == self.path {
                continue;
            }
            if name == UNCLEAN_MARKER {
                found.dead_found = true;
                continue;
            }
            if name.ends_with(".joining") {
                remove_abandoned_join(&path);
                continue;
            }
            if !name.ends_with(".lock") || !item.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let file = match fs::OpenOptions::new().write(true).open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(_) => {
                    found.others_alive = true;
                    continue;
                }
            };
            match file.try_lock() {
                Ok(()) => match name_of(&path, &file) {
                    Named::This => {
                        let _ = files::private_file_options()
                            .create(true)
                            .write(true)
                            .open(owners.join(UNCLEAN_MARKER));
                        let _ = fs::remove_file(&path);
                        found.dead_found = true;
                    }
                    // Unlocked because its owner closed cleanly between our listing and our
                    // open: an owner removes its file before releasing the lock, so the name
                    // is gone (or names a newer file). Not a dead process.
                    Named::Elsewhere => {}
                    // Whether the name still holds this file cannot be told: fail closed.
                    Named::Unknown => found.others_alive = true,
                },
                Err(TryLockError::WouldBlock) | Err(TryLockError::Error(_)) => {
                    found.others_alive = true
                }
            }
        }
        found
    }
}

#[derive(PartialEq)]
enum Named {
    /// `path` names the very file that was opened.
    This,
    /// `path` names nothing now, or another file.
    Elsewhere,
    Unknown,
}

/// What `path` names now, compared with `file` (opened from it earlier).
fn name_of(path: &Path, file: &fs::File) -> Named {
    let named = match fs::symlink_metadata(path) {
        Ok(named) => named,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Named::Elsewhere,
        Err(_) => return Named::Unknown,
    };
    let Ok(opened) = file.metadata() else {
        return Named::Unknown;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if named.dev() == opened.dev() && named.ino() == opened.ino() {
            Named::This
        } else {
            Named::Elsewhere
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (named, opened);
        Named::This
    }
}

/// A `.joining` file is locked within microseconds of its creation; one that is old and
/// unlocked was left by a process that died mid-join.
fn remove_abandoned_join(path: &Path) {
    let old = fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|m| m.elapsed().is_ok_and(|age| age > JOIN_TIMEOUT));
    if old {
        if let Ok(file) = fs::OpenOptions::new().write(true).open(path) {
            if file.try_lock().is_ok() {
                let _ = fs::remove_file(path);
            }
        }
    }
}

impl Presence {
    /// Called once the garbage of an unclean shutdown has been swept.
    pub fn mark_clean(&self) {
        if let Some(owners) = self.path.parent() {
            let _ = fs::remove_file(owners.join(UNCLEAN_MARKER));
        }
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_joining_file_is_never_taken_for_a_dead_owner_and_a_live_one_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let me = Presence::join(dir.path()).unwrap();
        // A process caught between creating its file and locking it.
        let joining = dir.path().join("owners/.1-000000001.joining");
        fs::write(&joining, b"").unwrap();
        assert!(!me.scan().others_alive);
        assert!(joining.exists());
        let other = Presence::join(dir.path()).unwrap();
        assert!(me.scan().others_alive);
        drop(other);
        assert!(!me.scan().others_alive);
    }

    /// Issue 10, item 12: joins racing a scanner that runs without pause. A scan that took a
    /// joining process for a dead one would delete its lock file, and that process would then
    /// look absent to everyone (its writes in progress collected with zero grace).
    #[test]
    fn joins_racing_a_scanner_never_lose_their_lock_file() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let scanner = Presence::join(dir.path()).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let joiners: Vec<_> = (0..3)
            .map(|_| {
                let dir = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    for _ in 0..300 {
                        let me = Presence::join(&dir).unwrap();
                        // Give the scanner time to look at this file while it is live.
                        std::thread::yield_now();
                        assert!(me.path.exists(), "a live owner's lock file was removed");
                        drop(me);
                    }
                })
            })
            .collect();
        let scans = {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut scans = 0u32;
                while !done.load(Ordering::Relaxed) {
                    assert!(
                        !scanner.scan().dead_found,
                        "a live owner was taken for a dead one"
                    );
                    scans += 1;
                }
                scans
            })
        };
        for joiner in joiners {
            joiner.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        assert!(scans.join().unwrap() > 0);
    }

    #[cfg(unix)]
    #[test]
    fn an_owners_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("owners")).unwrap();
        assert!(Presence::join(dir.path()).is_err());
    }
}
