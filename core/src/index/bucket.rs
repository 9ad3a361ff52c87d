//! One index bucket: the file of cacache index lines for the keys hashing to it. cacache's
//! line format is kept (`\n<sha256 of json>\t<json>`), but reading and writing live here:
//!
//! - a torn, invalid-UTF-8 or forged line is skipped (and counted), never fatal to the
//!   lines after it;
//! - every appender and the compactor of a bucket take an exclusive lock on the bucket file,
//!   so a compaction (write a new file, rename it over the old) never loses an append, in this
//!   process or another;
//! - files are created 0600 and directories 0700.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use cacache::Integrity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::files;
use crate::layout;

/// A bucket larger than this is checked for dead lines after each append, and rewritten when
/// at least half of its lines are superseded. Small enough that a key rewritten forever costs a
/// lookup about what a fresh key costs.
const COMPACT_AT_BYTES: u64 = 4096;

/// One decoded line. `integrity: None` is a tombstone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    pub key: String,
    pub integrity: Option<String>,
    pub time: u64,
    pub size: u64,
    pub metadata: Value,
    #[serde(default)]
    pub raw_metadata: Option<Value>,
}

impl Line {
    /// The line's integrity, if it is a valid one (a live line).
    pub fn parsed_integrity(&self) -> Option<Integrity> {
        parse_integrity(self.integrity.as_deref()?)
    }
}

/// What reading a bucket found: its lines in order, and how many were skipped.
#[derive(Debug, Default)]
pub struct Contents {
    pub lines: Vec<Line>,
    pub skipped: usize,
}

impl Contents {
    /// The latest line for `key` (a tombstone included).
    pub fn latest(&self, key: &str) -> Option<&Line> {
        self.lines.iter().rev().find(|line| line.key == key)
    }

    /// The latest line of every key, in first-seen order.
    pub fn latest_per_key(&self) -> Vec<&Line> {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<&Line> = self
            .lines
            .iter()
            .rev()
            .filter(|l| seen.insert(l.key.as_str()))
            .collect();
        out.reverse();
        out
    }
}

/// Parses an integrity string, refusing anything `Integrity::to_hex` would panic on.
pub fn parse_integrity(s: &str) -> Option<Integrity> {
    let integrity: Integrity = s.parse().ok()?;
    let first = integrity.hashes.first()?;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(&first.digest)
        .ok()?;
    (!digest.is_empty()).then_some(integrity)
}

/// Reads the bucket at `path`. A missing bucket is empty; any other failure is an error (a
/// bucket that could not be read says nothing about which keys are gone).
pub fn read(path: &Path) -> io::Result<Contents> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut file) => {
            file.read_to_end(&mut bytes)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Contents::default()),
        Err(e) => return Err(e),
    }
    Ok(decode(&bytes))
}

fn decode(bytes: &[u8]) -> Contents {
    let mut contents = Contents::default();
    for raw in bytes.split(|b| *b == b'\n') {
        if raw.is_empty() {
            continue;
        }
        match decode_line(raw) {
            Some(line) => contents.lines.push(line),
            None => contents.skipped += 1,
        }
    }
    contents
}

fn decode_line(raw: &[u8]) -> Option<Line> {
    let text = std::str::from_utf8(raw).ok()?;
    let (hash, json) = text.split_once('\t')?;
    if hash != hash_line(json) {
        return None;
    }
    let line: Line = serde_json::from_str(json).ok()?;
    // A line naming content must name it validly; a tombstone names none.
    if line.integrity.is_some() && line.parsed_integrity().is_none() {
        return None;
    }
    Some(line)
}

fn hash_line(json: &str) -> String {
    hex::encode(Sha256::digest(json.as_bytes()))
}

fn encode(line: &Line) -> io::Result<Vec<u8>> {
    let json = serde_json::to_string(line).map_err(io::Error::other)?;
    Ok(format!("\n{}\t{}", hash_line(&json), json).into_bytes())
}

/// A bucket held under its exclusive lock: read it, append to it; released on drop.
pub struct Locked {
    path: PathBuf,
    file: File,
}

impl Locked {
    /// Opens (creating it if needed) and locks the bucket at `path`. A compaction may have
    /// replaced the file between our open and our lock: then the lock is on a file nobody
    /// reads any more, so open again.
    pub fn acquire(path: &Path) -> io::Result<Locked> {
        if let Some(parent) = path.parent() {
            files::create_private_dir(parent)?;
        }
        loop {
            let file = files::private_file_options()
                .create(true)
                .read(true)
                .append(true)
                .open(path)?;
            file.lock()?;
            if same_file(&file, path)? {
                return Ok(Locked {
                    path: path.to_path_buf(),
                    file,
                });
            }
        }
    }

    pub fn read(&mut self) -> io::Result<Contents> {
        use std::io::Seek;
        (&self.file).seek(io::SeekFrom::Start(0))?;
        let mut bytes = Vec::new();
        (&self.file).read_to_end(&mut bytes)?;
        Ok(decode(&bytes))
    }

    /// Appends `line` (one write: a crash leaves at most a torn last line, which readers skip)
    /// and compacts the bucket when it has grown mostly dead.
    pub fn append(&mut self, line: &Line) -> io::Result<()> {
        let bytes = encode(line)?;
        self.file.write_all(&bytes)?;
        if self.file.metadata()?.len() > COMPACT_AT_BYTES {
            self.compact_if_mostly_dead()?;
        }
        Ok(())
    }

    fn compact_if_mostly_dead(&mut self) -> io::Result<()> {
        let contents = self.read()?;
        let keep: Vec<&Line> = contents
            .latest_per_key()
            .into_iter()
            .filter(|l| l.integrity.is_some())
            .collect();
        if keep.len() * 2 > contents.lines.len() + contents.skipped {
            return Ok(());
        }
        self.rewrite(&keep)
    }

    /// Replaces the bucket with `lines`: written to a temp file beside it and renamed over
    /// it. Appenders wait on our lock, then find the new file (see `acquire`).
    fn rewrite(&mut self, lines: &[&Line]) -> io::Result<()> {
        let name = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("bucket");
        let temp = self
            .path
            .with_file_name(format!("{name}.compact-{}", std::process::id()));
        let result = (|| {
            let mut out = files::private_file_options()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&temp)?;
            let mut bytes = Vec::new();
            for line in lines {
                bytes.extend(encode(line)?);
            }
            out.write_all(&bytes)?;
            // No fsync: like cacache's appends, the index survives a killed process (the page
            // cache does), and the rename publishes whole files only.
            fs::rename(&temp, &self.path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Keeps only the lines `keep` accepts among each key's latest line: `clear` uses it.
    pub fn retain(&mut self, keep: impl Fn(&Line) -> bool) -> io::Result<usize> {
        let contents = self.read()?;
        let latest = contents.latest_per_key();
        let kept: Vec<&Line> = latest
            .iter()
            .copied()
            .filter(|l| l.integrity.is_some() && keep(l))
            .collect();
        let dropped = latest.iter().filter(|l| l.integrity.is_some()).count() - kept.len();
        if dropped > 0 || contents.skipped > 0 || kept.len() != contents.lines.len() {
            self.rewrite(&kept)?;
        }
        Ok(dropped)
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata()?;
    match fs::symlink_metadata(path) {
        Ok(now) => Ok(open.dev() == now.dev() && open.ino() == now.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> io::Result<bool> {
    Ok(path.exists())
}

/// Every bucket file under the index directory (never through a symlink).
pub fn walk(dir: &Path, visit: &mut dyn FnMut(&Path) -> io::Result<()>) -> io::Result<()> {
    files::walk_files(&dir.join(layout::INDEX_DIR), &mut |path, _| {
        let is_bucket = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(layout::is_bucket_name);
        if is_bucket {
            visit(path)
        } else {
            Ok(())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(key: &str, n: u64) -> Line {
        Line {
            key: key.into(),
            integrity: Some("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()),
            time: n,
            size: 0,
            metadata: serde_json::json!({ "n": n, "pad": "x".repeat(300) }),
            raw_metadata: None,
        }
    }

    #[test]
    fn torn_and_invalid_utf8_lines_are_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = layout::bucket_path(dir.path(), "k");
        let mut bucket = Locked::acquire(&path).unwrap();
        bucket.append(&line("k", 1)).unwrap();
        drop(bucket);
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"\nabc\t{\"key\":\"k\xff\xfe").unwrap();
        drop(file);
        Locked::acquire(&path)
            .unwrap()
            .append(&line("k", 2))
            .unwrap();
        let contents = read(&path).unwrap();
        assert_eq!(contents.skipped, 1);
        assert_eq!(contents.latest("k").unwrap().time, 2);
    }

    #[test]
    fn a_key_rewritten_many_times_stays_small_and_keeps_its_latest_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = layout::bucket_path(dir.path(), "k");
        for n in 0..1000 {
            Locked::acquire(&path)
                .unwrap()
                .append(&line("k", n))
                .unwrap();
        }
        assert!(fs::metadata(&path).unwrap().len() <= 2 * COMPACT_AT_BYTES);
        assert_eq!(read(&path).unwrap().latest("k").unwrap().time, 999);
    }

    #[test]
    fn forged_integrity_lines_are_skipped() {
        assert!(parse_integrity("sha256-@@@").is_none());
        assert!(parse_integrity("").is_none());
        assert!(parse_integrity("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").is_some());
    }

    #[test]
    fn appends_from_many_threads_survive_concurrent_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = layout::bucket_path(dir.path(), "k");
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let path = &path;
                s.spawn(move || {
                    for n in 0..200 {
                        Locked::acquire(path)
                            .unwrap()
                            .append(&line(&format!("k{t}"), n))
                            .unwrap();
                    }
                });
            }
        });
        let contents = read(&path).unwrap();
        for t in 0..4 {
            assert_eq!(contents.latest(&format!("k{t}")).unwrap().time, 199);
        }
    }
}
