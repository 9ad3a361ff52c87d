//! The on-disk layout, named once. It is cacache's (v2 content, v5 index), so cacache's own
//! tools read a cache written here; `tmp/` and `owners/` are this crate's additions.
//!
//! ```text
//! <dir>/content-v2/<algorithm>/<hex[0..2]>/<hex[2..4]>/<hex[4..]>   one file per body
//! <dir>/index-v5/<sha1(key)[0..2]>/<[2..4]>/<[4..]>                  one bucket per key hash
//! <dir>/blocks-v1/<algorithm>/<hex[0..2]>/<hex[2..4]>/<hex[4..]>    block checksums of a body
//!                                                                     (see `content::blocks`)
//! <dir>/tmp/                                                         bodies being written
//! <dir>/owners/<pid>-<nanos>.lock                                    one per open process
//! ```

use std::path::{Path, PathBuf};

use cacache::Integrity;
use sha1::{Digest, Sha1};

pub const CONTENT_DIR: &str = "content-v2";
pub const INDEX_DIR: &str = "index-v5";
pub const TMP_DIR: &str = "tmp";
pub const OWNERS_DIR: &str = "owners";

/// Where the content for `integrity` lives.
pub fn content_path(dir: &Path, integrity: &Integrity) -> PathBuf {
    let (algorithm, hex) = integrity.to_hex();
    dir.join(CONTENT_DIR)
        .join(algorithm.to_string())
        .join(&hex[0..2])
        .join(&hex[2..4])
        .join(&hex[4..])
}

/// The index bucket holding every line written for `key` (and for keys sharing its hash).
pub fn bucket_path(dir: &Path, key: &str) -> PathBuf {
    let hashed = hex::encode(Sha1::digest(key.as_bytes()));
    dir.join(INDEX_DIR)
        .join(&hashed[0..2])
        .join(&hashed[2..4])
        .join(&hashed[4..])
}

/// Whether a file name under `index-v5/` can be a bucket (the rest of a sha1 in hex). Temp
/// files of a compaction in progress are named otherwise and never read as buckets.
pub fn is_bucket_name(name: &str) -> bool {
    name.len() == 36 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn tmp_dir(dir: &Path) -> PathBuf {
    dir.join(TMP_DIR)
}

pub fn owners_dir(dir: &Path) -> PathBuf {
    dir.join(OWNERS_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the layout to cacache's own: what cacache writes, these paths find.
    #[test]
    fn paths_are_cacaches() {
        let dir = tempfile::tempdir().unwrap();
        let integrity = cacache::write_sync(dir.path(), "GET http://a/x", b"hello").unwrap();
        assert!(content_path(dir.path(), &integrity).is_file());
        assert!(bucket_path(dir.path(), "GET http://a/x").is_file());
        let name = bucket_path(dir.path(), "k")
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(is_bucket_name(&name));
        assert_eq!(
            content_path(Path::new("/c"), &"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".parse().unwrap()),
            Path::new("/c/content-v2/sha256/e3/b0/c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }
}
