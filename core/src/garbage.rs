//! Finding and removing garbage: temp files of writes that never finished and content no
//! index entry points at (left by crashes, or by other processes' deletes).

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::content::blocks;
pub use crate::layout::content_path;
use crate::{files, layout};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    pub files: u64,
    pub bytes: u64,
}

impl Reclaimed {
    fn add(&mut self, meta: &fs::Metadata) {
        self.files += 1;
        self.bytes += meta.len();
    }
}

/// What one pass removed (or, dry, would remove), by where it lay: content is charged to the
/// byte budget, temp files are not.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    pub content: Reclaimed,
    pub temp: Reclaimed,
}

impl Collected {
    pub fn total(&self) -> Reclaimed {
        Reclaimed {
            files: self.content.files + self.temp.files,
            bytes: self.content.bytes + self.temp.bytes,
        }
    }
}

/// Whether a pass removes what it judges garbage or only counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Remove,
    DryRun,
}

/// Removes content not in `referenced` and, when `tmp_grace` is given, files under `tmp/`;
/// in both cases only files last modified more than their grace ago (so a write in progress
/// elsewhere is left alone) and before `not_after` when given (so what was written since a
/// pass began is never its garbage). Symlinks are never followed. A directory that cannot be
/// listed or a file whose age cannot be read stops the pass with that error: nothing it could
/// not see is judged.
pub fn collect(
    dir: &Path,
    referenced: &HashSet<PathBuf>,
    grace: Duration,
    tmp_grace: Option<Duration>,
    not_after: Option<SystemTime>,
) -> io::Result<Reclaimed> {
    collect_by_place(dir, referenced, grace, tmp_grace, not_after, Pass::Remove).map(|c| c.total())
}

/// `collect`, reporting content and temp files apart; with `Pass::DryRun` the same judgement
/// is made and counted but nothing is removed.
pub fn collect_by_place(
    dir: &Path,
    referenced: &HashSet<PathBuf>,
    grace: Duration,
    tmp_grace: Option<Duration>,
    not_after: Option<SystemTime>,
    pass: Pass,
) -> io::Result<Collected> {
    let mut collected = Collected::default();
    let roots = [
        (layout::CONTENT_DIR, Some(grace)),
        (layout::TMP_DIR, tmp_grace),
    ];
    for (root, grace) in roots {
        let Some(grace) = grace else { continue };
        let mut cutoff = SystemTime::now()
            .checked_sub(grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        if let Some(limit) = not_after {
            cutoff = cutoff.min(limit);
        }
        let reclaimed = if root == layout::CONTENT_DIR {
            &mut collected.content
        } else {
            &mut collected.temp
        };
        files::walk_files(&dir.join(root), &mut |path, meta| {
            if referenced.contains(path) {
                return Ok(());
            }
            let old_enough = meta.modified()? < cutoff || (grace.is_zero() && not_after.is_none());
            if !old_enough {
                return Ok(());
            }
            if pass == Pass::DryRun {
                reclaimed.add(meta);
                return Ok(());
            }
            match fs::remove_file(path) {
                Ok(()) => reclaimed.add(meta),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            Ok(())
        })?;
        if root == layout::CONTENT_DIR && pass == Pass::Remove {
            remove_stray_sidecars(
                dir,
                referenced,
                cutoff,
                grace.is_zero() && not_after.is_none(),
            )?;
        }
    }
    Ok(collected)
}

/// Removes block-checksum sidecars (`content::blocks`) whose body is not referenced, under the
/// same age rule as content. Not counted in `Reclaimed`: they are not charged to the budget.
fn remove_stray_sidecars(
    dir: &Path,
    referenced: &HashSet<PathBuf>,
    cutoff: SystemTime,
    any_age: bool,
) -> io::Result<()> {
    files::walk_files(&dir.join(blocks::BLOCKS_DIR), &mut |path, meta| {
        let owner = blocks::content_for_sidecar(dir, path);
        if owner.is_some_and(|content| referenced.contains(&content)) {
            return Ok(());
        }
        if any_age || meta.modified()? < cutoff {
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    })
}

/// Removes empty directories left under `content-v2/` (and `tmp/`) by removed files. Only
/// while no other process uses the directory: one may be about to rename a file into them.
pub fn prune_empty_dirs(dir: &Path) -> io::Result<()> {
    files::prune_empty_dirs(&dir.join(layout::CONTENT_DIR))?;
    files::prune_empty_dirs(&dir.join(blocks::BLOCKS_DIR))?;
    files::prune_empty_dirs(&dir.join(layout::INDEX_DIR))
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

        let nothing = collect(
            dir.path(),
            &referenced,
            Duration::from_secs(3600),
            Some(Duration::from_secs(3600)),
            None,
        )
        .unwrap();
        assert_eq!(nothing, Reclaimed::default());

        let all = collect(
            dir.path(),
            &referenced,
            Duration::ZERO,
            Some(Duration::ZERO),
            None,
        )
        .unwrap();
        assert_eq!(
            all,
            Reclaimed {
                files: 2,
                bytes: 11
            }
        );
        assert!(content_path(dir.path(), &kept).exists());
        assert!(!content_path(dir.path(), &dropped).exists());
    }

    #[test]
    fn a_dry_run_counts_by_place_and_removes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dropped = cacache::write_hash_sync(dir.path(), b"dropped!").unwrap();
        fs::create_dir_all(dir.path().join("tmp")).unwrap();
        fs::write(dir.path().join("tmp/partial"), b"xyz").unwrap();
        let counted = collect_by_place(
            dir.path(),
            &HashSet::new(),
            Duration::ZERO,
            Some(Duration::ZERO),
            None,
            Pass::DryRun,
        )
        .unwrap();
        let expected = Collected {
            content: Reclaimed { files: 1, bytes: 8 },
            temp: Reclaimed { files: 1, bytes: 3 },
        };
        assert_eq!(counted, expected);
        assert!(content_path(dir.path(), &dropped).exists());
        assert!(dir.path().join("tmp/partial").exists());
        let removed = collect_by_place(
            dir.path(),
            &HashSet::new(),
            Duration::ZERO,
            Some(Duration::ZERO),
            None,
            Pass::Remove,
        )
        .unwrap();
        assert_eq!(removed, expected);
        assert!(!content_path(dir.path(), &dropped).exists());
    }

    #[cfg(unix)]
    #[test]
    fn never_follows_a_symlinked_root() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("precious"), b"keep me").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("tmp")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("content-v2")).unwrap();
        let none = collect(
            dir.path(),
            &HashSet::new(),
            Duration::ZERO,
            Some(Duration::ZERO),
            None,
        )
        .unwrap();
        assert_eq!(none, Reclaimed::default());
        assert!(outside.path().join("precious").exists());
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_directory_stops_the_pass() {
        use std::os::unix::fs::PermissionsExt;
        if unsafe { libc::geteuid() } == 0 {
            return; // root reads everything: the fault cannot be injected
        }
        let dir = tempfile::tempdir().unwrap();
        let kept = cacache::write_hash_sync(dir.path(), b"unreferenced").unwrap();
        let sub = content_path(dir.path(), &kept)
            .parent()
            .unwrap()
            .to_path_buf();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o000)).unwrap();
        let result = collect(dir.path(), &HashSet::new(), Duration::ZERO, None, None);
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
        assert!(content_path(dir.path(), &kept).exists());
    }
}
