//! Finding and removing garbage: temp files of writes that never finished and content no
//! index entry points at (left by crashes, or by other processes' deletes).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

pub use crate::content::content_path;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    pub files: u64,
    pub bytes: u64,
}

/// Removes content not in `referenced` and, when `tmp_grace` is given, files under `tmp/`;
/// in both cases only files last modified more than their grace ago (so a write in progress
/// elsewhere is left alone).
pub fn collect(
    dir: &Path,
    referenced: &HashSet<PathBuf>,
    grace: Duration,
    tmp_grace: Option<Duration>,
) -> Reclaimed {
    let mut reclaimed = Reclaimed::default();
    let roots = [("content-v2", Some(grace)), ("tmp", tmp_grace)];
    for (root, grace) in roots {
        let Some(grace) = grace else { continue };
        let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
        walk(&dir.join(root), &mut |path, meta| {
            let old_enough = grace.is_zero() || meta.modified().is_ok_and(|m| m <= cutoff);
            if old_enough && !referenced.contains(path) && fs::remove_file(path).is_ok() {
                reclaimed.files += 1;
                reclaimed.bytes += meta.len();
            }
        });
    }
    reclaimed
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path, &fs::Metadata)) {
    let Ok(listing) = fs::read_dir(dir) else { return };
    for item in listing.flatten() {
        let path = item.path();
        let Ok(meta) = item.metadata() else { continue };
        if meta.is_dir() {
            walk(&path, visit);
        } else {
            visit(&path, &meta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_referenced_and_recent_files() {
        let dir = tempfile::tempdir().unwrap();
        let kept = cacache::write_hash_sync(dir.path(), b"kept").unwrap();
        let dropped = cacache::write_hash_sync(dir.path(), b"dropped!").unwrap();
        fs::create_dir_all(dir.path().join("tmp")).unwrap();
        fs::write(dir.path().join("tmp/partial"), b"xyz").unwrap();
        let referenced: HashSet<_> = [content_path(dir.path(), &kept)].into();

        let nothing = collect(dir.path(), &referenced, Duration::from_secs(3600), Some(Duration::from_secs(3600)));
        assert_eq!(nothing, Reclaimed::default());

        let all = collect(dir.path(), &referenced, Duration::ZERO, Some(Duration::ZERO));
        assert_eq!(all, Reclaimed { files: 2, bytes: 11 });
        assert!(content_path(dir.path(), &kept).exists());
        assert!(!content_path(dir.path(), &dropped).exists());
    }
}
