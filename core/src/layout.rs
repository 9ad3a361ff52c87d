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

use base64::prelude::{Engine, BASE64_STANDARD};
use cacache::{Algorithm, Integrity};
use sha1::{Digest, Sha1};

pub const CONTENT_DIR: &str = "content-v2";
pub const INDEX_DIR: &str = "index-v5";
pub const TMP_DIR: &str = "tmp";
pub const OWNERS_DIR: &str = "owners";

/// Where the content for `integrity` lives. Built on every disk hit, so in one allocation:
/// `Integrity::to_hex` and `Algorithm`'s `Display` allocate several strings each, and the
/// joins as many paths (a tenth of a small hit's native time in a profile).
pub fn content_path(dir: &Path, integrity: &Integrity) -> PathBuf {
    let Some(hash) = integrity.hashes.first() else {
        return content_path_slow(dir, integrity);
    };
    let mut digest = [0u8; 96];
    let Ok(len) = BASE64_STANDARD.decode_slice(&hash.digest, &mut digest) else {
        return content_path_slow(dir, integrity);
    };
    let mut hex = [0u8; 192];
    let hex = &mut hex[..2 * len];
    if len < 3 || hex::encode_to_slice(&digest[..len], hex).is_err() {
        return content_path_slow(dir, integrity);
    }
    let Some(algorithm) = algorithm_name(hash.algorithm) else {
        return content_path_slow(dir, integrity);
    };
    // Hex digits are ASCII.
    let hex = std::str::from_utf8(hex).unwrap_or_default();
    let mut path = PathBuf::with_capacity(
        dir.as_os_str().len() + CONTENT_DIR.len() + algorithm.len() + hex.len() + 8,
    );
    path.push(dir);
    path.push(CONTENT_DIR);
    path.push(algorithm);
    path.push(&hex[0..2]);
    path.push(&hex[2..4]);
    path.push(&hex[4..]);
    path
}

/// The path as ssri spells it, for what the fast path does not handle (it panics where ssri
/// does: callers check an integrity's digest before it gets here).
fn content_path_slow(dir: &Path, integrity: &Integrity) -> PathBuf {
    let (algorithm, hex) = integrity.to_hex();
    dir.join(CONTENT_DIR)
        .join(algorithm.to_string())
        .join(&hex[0..2])
        .join(&hex[2..4])
        .join(&hex[4..])
}

/// `algorithm`'s name as `Algorithm`'s `Display` writes it, without allocating (None for an
/// algorithm added to ssri after this was written).
fn algorithm_name(algorithm: Algorithm) -> Option<&'static str> {
    Some(match algorithm {
        Algorithm::Sha512 => "sha512",
        Algorithm::Sha384 => "sha384",
        Algorithm::Sha256 => "sha256",
        Algorithm::Sha1 => "sha1",
        Algorithm::Xxh3 => "xxh3",
        _ => return None,
    })
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

    /// The one-allocation path is ssri's, for every algorithm and for several digests each.
    #[test]
    fn fast_content_path_matches_ssris() {
        let dir = Path::new("/some/cache dir");
        for algorithm in [
            Algorithm::Sha512,
            Algorithm::Sha384,
            Algorithm::Sha256,
            Algorithm::Sha1,
            Algorithm::Xxh3,
        ] {
            assert_eq!(algorithm_name(algorithm).unwrap(), algorithm.to_string());
            for data in [&b""[..], b"a", b"hello world", &[0xffu8; 1000]] {
                let integrity = ssri::IntegrityOpts::new()
                    .algorithm(algorithm)
                    .chain(data)
                    .result();
                assert_eq!(
                    content_path(dir, &integrity),
                    content_path_slow(dir, &integrity)
                );
            }
        }
    }
}
