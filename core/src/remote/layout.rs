//! The key layout in Redis and the two records stored there.
//!
//! - `<prefix>:k:<cache key>`: metadata of one cache key: the integrity of its body, its
//!   size and the caller's fields (status, headers, policy), as JSON.
//! - `<prefix>:m:<algo>:<hex>`: manifest of one body: size, chunk size and count, checksum.
//!   Written last: a body without a manifest is not there.
//! - `<prefix>:c:<algo>:<hex>:<n>`: chunk `n` of that body.
//! - `<prefix>:u:<id>:<n>`: chunk `n` of an upload whose hash is not known yet; renamed to
//!   its `c:` key once it is (or deleted if the body is already there).
//! - `<prefix>:l:<cache key>`: the cross-host fetch lock of a cache key.
//!
//! Bodies are stored once per integrity, whatever the number of keys or hosts pointing at them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ssri::Integrity;

use super::error::{RemoteError, RemoteResult};
use super::options::{MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};

pub(crate) const RECORD_VERSION: u8 = 1;

#[derive(Clone)]
pub(crate) struct Layout {
    prefix: String,
}

impl Layout {
    pub fn new(prefix: &str) -> Self {
        Layout {
            prefix: prefix.to_string(),
        }
    }

    pub fn meta(&self, key: &str) -> Vec<u8> {
        self.join("k", key.as_bytes())
    }

    pub fn lock(&self, key: &str) -> Vec<u8> {
        self.join("l", key.as_bytes())
    }

    pub fn manifest(&self, integrity: &Integrity) -> Vec<u8> {
        self.join("m", body_id(integrity).as_bytes())
    }

    pub fn chunk(&self, integrity: &Integrity, index: u64) -> Vec<u8> {
        self.join("c", format!("{}:{index}", body_id(integrity)).as_bytes())
    }

    pub fn upload_chunk(&self, upload: &str, index: u64) -> Vec<u8> {
        self.join("u", format!("{upload}:{index}").as_bytes())
    }

    fn join(&self, kind: &str, rest: &[u8]) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.prefix.len() + kind.len() + rest.len() + 2);
        key.extend_from_slice(self.prefix.as_bytes());
        key.push(b':');
        key.extend_from_slice(kind.as_bytes());
        key.push(b':');
        key.extend_from_slice(rest);
        key
    }
}

/// `sha256:<hex>`: the address of a body (its strongest hash), safe in a key.
fn body_id(integrity: &Integrity) -> String {
    let (algorithm, hex) = integrity.to_hex();
    format!("{algorithm}:{hex}")
}

/// Number of chunks a body of `size` bytes takes (an empty body has none).
pub(crate) fn chunk_count(size: u64, chunk_size: usize) -> u64 {
    size.div_ceil(chunk_size as u64)
}

/// Bytes in chunk `index`.
pub(crate) fn chunk_len(size: u64, chunk_size: usize, index: u64) -> usize {
    let start = index * chunk_size as u64;
    (size - start).min(chunk_size as u64) as usize
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    pub v: u8,
    pub integrity: String,
    /// A fast checksum of the same bytes (xxh3), verified on reads instead of the address
    /// hash; absent, reads verify the address itself.
    #[serde(default)]
    pub check: Option<String>,
    pub size: u64,
    pub chunk_size: usize,
    pub chunks: u64,
}

impl Manifest {
    /// Parses a manifest and checks it describes `integrity` coherently; anything else is garbage.
    pub fn decode(
        bytes: &[u8],
        integrity: &Integrity,
        max_body_size: u64,
    ) -> RemoteResult<Manifest> {
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| RemoteError::garbage(format!("body manifest is not valid: {e}")))?;
        let coherent = manifest.v == RECORD_VERSION
            && manifest.integrity.parse::<Integrity>().ok().as_ref() == Some(integrity)
            && (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&manifest.chunk_size)
            && manifest.chunks == chunk_count(manifest.size, manifest.chunk_size)
            && manifest
                .check
                .as_deref()
                .is_none_or(|c| c.parse::<Integrity>().is_ok());
        if !coherent {
            return Err(RemoteError::garbage(
                "body manifest does not describe its body",
            ));
        }
        if manifest.size > max_body_size {
            return Err(RemoteError::new(
                super::error::RemoteErrorKind::BodyTooLarge,
                format!(
                    "body of {} bytes is larger than maxBodySize ({max_body_size})",
                    manifest.size
                ),
            ));
        }
        Ok(manifest)
    }

    /// What reads verify: the fast checksum when there is one.
    pub fn verify_with(&self) -> Integrity {
        self.check
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| self.integrity.parse().expect("checked in decode"))
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MetaRecord {
    pub v: u8,
    pub integrity: String,
    pub size: u64,
    /// Milliseconds since the Unix epoch.
    pub stored_at: u64,
    #[serde(default)]
    pub meta: Value,
}

/// A cache key's entry in the shared tier: where its body is and what the caller stored with it.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteEntry {
    pub key: String,
    pub integrity: Integrity,
    pub size: u64,
    pub stored_at: u64,
    /// The caller's fields, as given to the upload (the engine stores an `EntryMeta` here).
    pub meta: Value,
}

impl MetaRecord {
    pub fn decode(key: &str, bytes: &[u8]) -> RemoteResult<RemoteEntry> {
        let record: MetaRecord = serde_json::from_slice(bytes)
            .map_err(|e| RemoteError::garbage(format!("metadata of {key:?} is not valid: {e}")))?;
        if record.v != RECORD_VERSION {
            return Err(RemoteError::garbage(format!(
                "metadata of {key:?} has version {}",
                record.v
            )));
        }
        let integrity = record.integrity.parse::<Integrity>().map_err(|_| {
            RemoteError::garbage(format!("metadata of {key:?} has no valid integrity"))
        })?;
        Ok(RemoteEntry {
            key: key.to_string(),
            integrity,
            size: record.size,
            stored_at: record.stored_at,
            meta: record.meta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_arithmetic() {
        assert_eq!(chunk_count(0, 65536), 0);
        assert_eq!(chunk_count(1, 65536), 1);
        assert_eq!(chunk_count(65536, 65536), 1);
        assert_eq!(chunk_count(65537, 65536), 2);
        assert_eq!(chunk_len(65537, 65536, 0), 65536);
        assert_eq!(chunk_len(65537, 65536, 1), 1);
    }

    #[test]
    fn incoherent_manifests_are_garbage() {
        let sri: Integrity = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
            .parse()
            .unwrap();
        let good =
            format!(r#"{{"v":1,"integrity":"{sri}","size":70000,"chunkSize":65536,"chunks":2}}"#);
        assert!(Manifest::decode(good.as_bytes(), &sri, u64::MAX).is_ok());
        let wrong_count = good.replace("\"chunks\":2", "\"chunks\":3");
        assert!(Manifest::decode(wrong_count.as_bytes(), &sri, u64::MAX).is_err());
        let huge_chunks = good.replace("65536", "99999999");
        assert!(Manifest::decode(huge_chunks.as_bytes(), &sri, u64::MAX).is_err());
        assert!(Manifest::decode(b"\x00garbage", &sri, u64::MAX).is_err());
        assert!(Manifest::decode(good.as_bytes(), &sri, 100).is_err());
    }
}
