//! Model-based test: random sequences of put/get/delete/restart against a HashMap. With no
//! eviction possible, the cache must answer exactly like the map, and after every step the
//! content files on disk must be exactly the bodies live keys point at.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::*;
use proptest::prelude::*;
use streaming_cache_core::{CacheOptions, StreamingCache};

const KEYS: [&str; 4] = ["GET /a", "GET /b", "GET /a\nvary", "GET /c"];

fn bodies() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        b"x".to_vec(),
        body(1, 3),
        body(2, 65_537),
        body(3, 150_000),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Put {
        key: usize,
        body: usize,
        chunked: bool,
    },
    Get {
        key: usize,
    },
    Delete {
        key: usize,
    },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let n_bodies = bodies().len();
    prop_oneof![
        4 => (0..KEYS.len(), 0..n_bodies, any::<bool>())
            .prop_map(|(key, body, chunked)| Op::Put { key, body, chunked }),
        3 => (0..KEYS.len()).prop_map(|key| Op::Get { key }),
        2 => (0..KEYS.len()).prop_map(|key| Op::Delete { key }),
        1 => Just(Op::Restart),
    ]
}

fn check_disk(cache: &StreamingCache, model: &HashMap<usize, usize>, bodies: &[Vec<u8>]) {
    let live = assert_consistent(cache);
    let mut expected_keys: Vec<String> = model.keys().map(|k| KEYS[*k].to_string()).collect();
    expected_keys.sort();
    assert_eq!(live, expected_keys);
    let expected: BTreeSet<String> = model.values().map(|b| integrity_of(&bodies[*b])).collect();
    let files = content_files(cache.dir());
    assert_eq!(
        files.len(),
        expected.len(),
        "content files vs distinct live bodies"
    );
    for sri in &expected {
        let users = model
            .values()
            .filter(|b| integrity_of(&bodies[**b]) == *sri)
            .count();
        assert_eq!(cache.references(sri), users);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn cache_behaves_like_a_map(ops in proptest::collection::vec(op(), 1..40)) {
        let bodies = bodies();
        let dir = tempfile::tempdir().unwrap();
        let options = CacheOptions::default().with_max_entries(1_000);
        let mut cache = StreamingCache::open(dir.path(), options.clone()).unwrap();
        let mut model: HashMap<usize, usize> = HashMap::new();
        for op in ops {
            match op {
                Op::Put { key, body, chunked } => {
                    if chunked {
                        put_chunked(&cache, KEYS[key], &bodies[body]).unwrap();
                    } else {
                        cache.put_bytes(KEYS[key], meta(200), &bodies[body]).unwrap();
                    }
                    model.insert(key, body);
                }
                Op::Get { key } => {
                    let got = get(&cache, KEYS[key]).unwrap();
                    let want = model.get(&key).map(|b| bodies[*b].clone());
                    prop_assert!(got == want, "get {:?}: got {:?} bytes, want {:?}",
                        KEYS[key], got.map(|g| g.len()), want.map(|w| w.len()));
                }
                Op::Delete { key } => {
                    let was = cache.delete(KEYS[key]).unwrap();
                    prop_assert_eq!(was, model.remove(&key).is_some());
                }
                Op::Restart => {
                    drop(cache);
                    cache = StreamingCache::open(dir.path(), options.clone()).unwrap();
                    prop_assert_eq!(cache.skipped_on_load(), 0);
                }
            }
            check_disk(&cache, &model, &bodies);
        }
        // Everything the model holds reads back at the end.
        for (key, body) in &model {
            prop_assert!(get(&cache, KEYS[*key]).unwrap().as_ref() == Some(&bodies[*body]));
        }
    }
}
