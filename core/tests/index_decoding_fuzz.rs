//! Property-based fuzzing of the on-disk index decoder: whatever bytes a bucket file holds
//! (torn writes, other tools' lines, hand edits, lines with valid checksums but nonsense
//! inside), opening the cache never panics, skips what it cannot read, and keeps serving
//! the entries that are intact.

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use streaming_cache_core::{CacheOptions, EntryMeta, StreamingCache};

/// A bucket line in cacache's format: `\n<sha256 hex of json>\t<json>`.
fn line(json: &str) -> String {
    format!(
        "\n{}\t{}",
        hex::encode(Sha256::digest(json.as_bytes())),
        json
    )
}

fn bucket_path(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join("index-v5").join("ab").join("cd").join(name)
}

fn json_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#"{"key":"k","integrity":"sha256-!!notbase64","time":1,"size":1,"metadata":null}"#.to_string()),
        Just(r#"{"key":"k","integrity":"md5-abc","time":1,"size":1,"metadata":{"v":1}}"#.to_string()),
        Just(r#"{"key":"k","integrity":null,"time":1,"size":0,"metadata":null}"#.to_string()),
        Just(r#"{"key":"k","integrity":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","time":1,"size":0,"metadata":{"v":1,"meta":{"status":"x"}}}"#.to_string()),
        Just(r#"{"key":"k","integrity":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","time":1,"size":0,"metadata":{"v":1,"meta":{"status":200,"headers":{"a":7}}}}"#.to_string()),
        Just(r#"{"key":"k","integrity":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","time":1,"size":0,"metadata":{"v":1,"meta":{"status":200,"policy":{"bogus":true}}}}"#.to_string()),
        "[ -~]{0,80}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn malformed_index_lines_are_skipped_never_panic(
        raw in proptest::collection::vec(any::<u8>(), 0..400),
        checked in proptest::collection::vec(json_fragment(), 0..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        {
            let cache = StreamingCache::open(dir.path(), CacheOptions::default()).unwrap();
            let meta = EntryMeta::from_json(r#"{"status":200}"#).unwrap();
            cache.put_bytes("intact", meta, b"still here").unwrap();
        }
        let bucket = bucket_path(dir.path(), "0123456789abcdef0123456789abcdef0123");
        fs::create_dir_all(bucket.parent().unwrap()).unwrap();
        let mut bytes = raw.clone();
        for json in &checked {
            bytes.extend_from_slice(line(json).as_bytes());
        }
        fs::write(&bucket, &bytes).unwrap();

        let cache = StreamingCache::open(dir.path(), CacheOptions::default()).unwrap();
        let (entry, mut reader) = cache.open_body("intact").unwrap().expect("intact entry survives");
        let mut buf = vec![0u8; 64];
        let n = reader.read(&mut buf).unwrap();
        prop_assert_eq!(&buf[..n], b"still here");
        prop_assert_eq!(entry.meta.status, 200);
        prop_assert_eq!(cache.entry_count(), 1);
    }
}
