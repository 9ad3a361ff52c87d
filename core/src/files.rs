//! File-system helpers every part of the cache uses, so three rules hold everywhere:
//! directories are created 0700 and files 0600 (index lines hold full URLs and headers),
//! walks never follow a symlink out of the cache directory, and a listing that fails is an
//! error for the caller (a pass that could not see everything must not act on what it saw).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

/// Creates `path` and its missing parents, private to the owner.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(path)
}

/// Options creating a file private to the owner (0600, before the umask).
pub fn private_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    options.mode(0o600);
    options
}

/// Opens an existing file for reading without blocking on a FIFO and without following a
/// symlink; the caller checks it is a regular file before trusting it.
pub fn open_nofollow_nonblocking(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    options.open(path)
}

/// Whether `path` itself (not what it may point at) is a real directory.
pub fn is_real_dir(path: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(meta.file_type().is_dir()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Calls `visit` for every regular file under `root`. Symlinks (at the root or anywhere
/// below) are neither followed nor visited; a root that does not exist has no files. Entries
/// that vanish during the walk are skipped; any other failure stops the walk with an error.
pub fn walk_files(
    root: &Path,
    visit: &mut dyn FnMut(&Path, &fs::Metadata) -> io::Result<()>,
) -> io::Result<()> {
    walk_files_reporting(root, visit, &mut |_, e| Err(e))
}

/// `walk_files`, handing each directory that cannot be listed and each entry whose type cannot
/// be read to `unreadable` (with its path): it returns `Ok` to carry on past it, or an error
/// to stop the walk. For tools that report what they could not see rather than give up.
pub fn walk_files_reporting(
    root: &Path,
    visit: &mut dyn FnMut(&Path, &fs::Metadata) -> io::Result<()>,
    unreadable: &mut dyn FnMut(&Path, io::Error) -> io::Result<()>,
) -> io::Result<()> {
    match is_real_dir(root) {
        Ok(true) => {}
        Ok(false) => return Ok(()),
        Err(e) => return unreadable(root, e),
    }
    let listing = match fs::read_dir(root) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return unreadable(root, e),
    };
    for item in listing {
        let item = match item {
            Ok(item) => item,
            Err(e) => return unreadable(root, e),
        };
        let path = item.path();
        // `DirEntry::metadata` does not traverse symlinks.
        let meta = match item.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                unreadable(&path, e)?;
                continue;
            }
        };
        let kind = meta.file_type();
        if kind.is_dir() {
            walk_files_reporting(&path, visit, unreadable)?;
        } else if kind.is_file() {
            visit(&path, &meta)?;
        }
    }
    Ok(())
}

/// Removes the empty directories below `root` (not `root` itself), deepest first. A directory
/// that gained a file meanwhile is simply not empty: that is not an error.
pub fn prune_empty_dirs(root: &Path) -> io::Result<()> {
    if !is_real_dir(root)? {
        return Ok(());
    }
    for item in fs::read_dir(root)? {
        let item = item?;
        if item.file_type()?.is_dir() {
            let path = item.path();
            prune_empty_dirs(&path)?;
            let _ = fs::remove_dir(&path);
        }
    }
    Ok(())
}
