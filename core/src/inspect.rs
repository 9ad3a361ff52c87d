//! Read-only inspection of a cache directory, for operators' tools (the CLI's `stats`, `ls`,
//! `show` and the dry runs). Nothing here opens the cache: no owner file, no sweep, no
//! directory created. It reads the index and lists and reads files, so inspecting a cache that
//! other processes are using never changes it.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use cacache::Integrity;

use crate::content::{content_path, CHUNK_SIZE};
use crate::index::{disk, StoredEntry};
use crate::{files, layout};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FileStats {
    pub files: u64,
    pub bytes: u64,
}

impl FileStats {
    fn add(&mut self, len: u64) {
        self.files += 1;
        self.bytes += len;
    }
}

/// What a directory holds, as the index and the file system say.
#[derive(Debug)]
pub struct Inspection {
    /// Live entries (the newest line per key, deleted keys left out), sorted by key.
    pub entries: Vec<StoredEntry>,
    /// Index lines that could not be decoded (torn writes, other tools' lines).
    pub skipped_index_lines: usize,
    /// Every file under `content-v2/`.
    pub content: FileStats,
    /// Content files no live entry points at: what a garbage pass would remove.
    pub unreferenced: FileStats,
    /// Files under `tmp/`: writes in progress, or left by a crash.
    pub temp: FileStats,
    /// Live entries whose content file is not there.
    pub missing_content: Vec<String>,
    /// Directories (or entries) under `content-v2/` and `tmp/` that could not be read, with
    /// why: the counts above leave out whatever they hold.
    pub unreadable: Vec<Unreadable>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub path: PathBuf,
    pub error: String,
}

impl Inspection {
    /// Sum of the entries' body sizes, counting shared content once per entry.
    pub fn logical_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// Bytes the entries would take without deduplication, minus what they take with it.
    pub fn dedup_saved_bytes(&self) -> u64 {
        let mut seen = HashSet::new();
        let unique: u64 = self
            .entries
            .iter()
            .filter(|e| seen.insert(e.integrity.to_string()))
            .map(|e| e.size)
            .sum();
        self.logical_bytes() - unique
    }
}

/// An index that cannot be read is an error, not an empty cache (a failed read is not absence).
pub fn inspect(dir: &Path) -> crate::error::Result<Inspection> {
    let (mut entries, skipped_index_lines) = disk::load_all(dir)?;
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    let referenced: HashSet<PathBuf> = entries
        .iter()
        .map(|e| content_path(dir, &e.integrity))
        .collect();
    let mut content = FileStats::default();
    let mut unreferenced = FileStats::default();
    let mut unreadable = Vec::new();
    let mut note = |path: &Path, e: io::Error| {
        unreadable.push(Unreadable {
            path: path.to_path_buf(),
            error: e.to_string(),
        });
        Ok(())
    };
    let walked = files::walk_files_reporting(
        &dir.join(layout::CONTENT_DIR),
        &mut |path, meta| {
            content.add(meta.len());
            if !referenced.contains(path) {
                unreferenced.add(meta.len());
            }
            Ok(())
        },
        &mut note,
    );
    let mut temp = FileStats::default();
    let walked = walked.and_then(|()| {
        files::walk_files_reporting(
            &dir.join(layout::TMP_DIR),
            &mut |_, meta| {
                temp.add(meta.len());
                Ok(())
            },
            &mut note,
        )
    });
    // `note` never stops a walk and the visitors never fail.
    debug_assert!(walked.is_ok());
    let missing_content = entries
        .iter()
        .filter(|e| !content_path(dir, &e.integrity).is_file())
        .map(|e| e.key.clone())
        .collect();
    Ok(Inspection {
        entries,
        skipped_index_lines,
        content,
        unreferenced,
        temp,
        missing_content,
        unreadable,
    })
}

/// Why an entry's content failed its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentProblem {
    /// The bytes do not hash to the entry's integrity, or their length is not its size.
    Corrupt(String),
    /// The content file is gone.
    Missing,
    /// The file could not be read (permissions, I/O error): not evidence of corruption.
    Unreadable(String),
}

/// Reads every live entry's content and checks its SHA-256 (each content file once, however
/// many keys share it), in chunks of [`CHUNK_SIZE`]. Returns the entries with a problem, by key.
pub fn check_content(dir: &Path, entries: &[StoredEntry]) -> BTreeMap<String, ContentProblem> {
    let mut by_content: BTreeMap<String, Option<ContentProblem>> = BTreeMap::new();
    let mut problems = BTreeMap::new();
    for entry in entries {
        let problem = by_content
            .entry(entry.integrity.to_string())
            .or_insert_with(|| check_one(dir, &entry.integrity, entry.size).err())
            .clone();
        if let Some(problem) = problem {
            problems.insert(entry.key.clone(), problem);
        }
    }
    problems
}

fn check_one(dir: &Path, integrity: &Integrity, size: u64) -> Result<(), ContentProblem> {
    let unreadable = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound => ContentProblem::Missing,
        _ => ContentProblem::Unreadable(e.to_string()),
    };
    let mut file = File::open(content_path(dir, integrity)).map_err(unreadable)?;
    let mut checker = ssri::IntegrityChecker::new(integrity.clone());
    let mut buffer = vec![0; CHUNK_SIZE];
    let mut read = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        checker.input(&buffer[..n]);
    }
    if read != size {
        return Err(ContentProblem::Corrupt(format!(
            "{read} bytes on disk, {size} expected"
        )));
    }
    checker
        .result()
        .map(|_| ())
        .map_err(|_| ContentProblem::Corrupt("content does not match its hash".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EntryMeta;
    use serde_json::json;
    use std::fs;

    fn put(dir: &Path, key: &str, body: &[u8]) -> Integrity {
        let integrity = cacache::write_hash_sync(dir, body).unwrap();
        let meta = EntryMeta::from_value(json!({ "status": 200 })).unwrap();
        let entry = StoredEntry {
            key: key.into(),
            integrity: integrity.clone(),
            check: None,
            size: body.len() as u64,
            stored_at: 1,
            meta,
            seq: 0,
        };
        disk::insert(dir, &entry).unwrap();
        integrity
    }

    fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        files::walk_files(dir, &mut |path, _| {
            found.push((path.to_path_buf(), fs::read(path).unwrap()));
            Ok(())
        })
        .unwrap();
        found.sort();
        found
    }

    #[test]
    fn counts_entries_dedup_garbage_and_temp_files_without_changing_anything() {
        let dir = tempfile::tempdir().unwrap();
        put(dir.path(), "a", b"shared");
        put(dir.path(), "b", b"shared");
        put(dir.path(), "c", b"own body");
        disk::remove(dir.path(), "c").unwrap();
        fs::create_dir_all(dir.path().join("tmp")).unwrap();
        fs::write(dir.path().join("tmp/partial"), b"xyz").unwrap();
        let before = snapshot(dir.path());

        let seen = inspect(dir.path()).unwrap();
        let keys: Vec<_> = seen.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(seen.logical_bytes(), 12);
        assert_eq!(seen.dedup_saved_bytes(), 6);
        assert_eq!(
            seen.content,
            FileStats {
                files: 2,
                bytes: 14
            }
        );
        assert_eq!(seen.unreferenced, FileStats { files: 1, bytes: 8 });
        assert_eq!(seen.temp, FileStats { files: 1, bytes: 3 });
        assert!(seen.missing_content.is_empty());
        assert!(check_content(dir.path(), &seen.entries).is_empty());
        assert_eq!(snapshot(dir.path()), before);
    }

    #[test]
    fn check_names_corrupt_and_missing_content_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let flipped = put(dir.path(), "flipped", b"original");
        let gone = put(dir.path(), "gone", b"removed later");
        put(dir.path(), "fine", b"fine");
        fs::write(content_path(dir.path(), &flipped), b"originaL").unwrap();
        fs::remove_file(content_path(dir.path(), &gone)).unwrap();

        let seen = inspect(dir.path()).unwrap();
        assert_eq!(seen.missing_content, ["gone"]);
        let problems = check_content(dir.path(), &seen.entries);
        assert_eq!(problems.len(), 2);
        assert!(matches!(problems["flipped"], ContentProblem::Corrupt(_)));
        assert_eq!(problems["gone"], ContentProblem::Missing);
    }

    /// Directories nested under `parent` until their path is longer than the system allows:
    /// the deepest cannot be listed by path, even by root. Returns the first too-long path.
    #[cfg(target_os = "linux")]
    fn too_deep(parent: &Path) -> PathBuf {
        use std::ffi::CString;
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let name = "d".repeat(250);
        let c_name = CString::new(name.clone()).unwrap();
        let mut fd: OwnedFd = File::open(parent).unwrap().into();
        let mut path = parent.to_path_buf();
        while path.as_os_str().len() <= libc::PATH_MAX as usize {
            path.push(&name);
            unsafe {
                assert_eq!(libc::mkdirat(fd.as_raw_fd(), c_name.as_ptr(), 0o700), 0);
                let next = libc::openat(fd.as_raw_fd(), c_name.as_ptr(), libc::O_RDONLY);
                assert!(next >= 0);
                fd = OwnedFd::from_raw_fd(next);
            }
        }
        path
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn symlinks_are_not_followed_and_unreadable_directories_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("elsewhere"), b"not the cache's").unwrap();
        put(dir.path(), "seen", b"in the open");
        let _ = fs::remove_dir_all(dir.path().join("tmp"));
        std::os::unix::fs::symlink(outside.path(), dir.path().join("tmp")).unwrap();
        let unreachable = too_deep(&dir.path().join("content-v2"));

        let seen = inspect(dir.path()).unwrap();
        assert_eq!(seen.temp, FileStats::default(), "followed a symlinked tmp/");
        assert_eq!(
            seen.content,
            FileStats {
                files: 1,
                bytes: 11
            }
        );
        assert_eq!(seen.unreadable.len(), 1);
        assert_eq!(seen.unreadable[0].path, unreachable);
        assert!(
            seen.unreadable[0].error.contains("too long"),
            "{:?}",
            seen.unreadable
        );
    }

    #[test]
    fn an_empty_or_missing_directory_has_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let seen = inspect(&missing).unwrap();
        assert!(seen.entries.is_empty());
        assert!(!missing.exists());
    }
}
