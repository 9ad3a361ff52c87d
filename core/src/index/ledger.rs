//! Reference counting for content shared by several keys (dedup).
//!
//! The ledger records, for every key that has an index entry on disk, the content it points
//! at, and for every piece of content how many keys point at it. Content may be removed only
//! when its count drops to zero. The cache mutates the ledger and the disk under one lock, so
//! the two never disagree about what is referenced.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Keys and content addresses are shared strings: one allocation each, whatever holds them
/// (these maps, the in-memory index), which matters at a hundred thousand keys.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Ordered, so every key sharing a prefix (the variants of one URL) is one range away.
    keys: BTreeMap<Arc<str>, Arc<str>>,
    refs: HashMap<Arc<str>, usize>,
    /// Keys whose current entry this process stored. Count capacity evicts only these from
    /// disk: entries other processes (or earlier runs) stored are theirs to keep.
    own: HashSet<Arc<str>>,
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Points `key` at `integrity`. Returns content that no key references any more (the
    /// content `key` pointed at before, unless another key still shares it or it is the same).
    pub fn bind(&mut self, key: Arc<str>, integrity: Arc<str>) -> Option<Arc<str>> {
        // The same body bound again (a metadata update, a re-adoption) keeps its owner.
        if self.keys.get(&key) != Some(&integrity) {
            self.own.remove(&key);
        }
        // Keys sharing a body share its address string too.
        let integrity = match self.refs.get_key_value(&integrity) {
            Some((shared, _)) => shared.clone(),
            None => integrity,
        };
        *self.refs.entry(integrity.clone()).or_insert(0) += 1;
        let previous = self.keys.insert(key, integrity)?;
        self.release(previous)
    }

    /// `bind` for an entry this process stored.
    pub fn bind_own(&mut self, key: Arc<str>, integrity: Arc<str>) -> Option<Arc<str>> {
        let released = self.bind(key.clone(), integrity);
        self.own.insert(key);
        released
    }

    pub fn is_own(&self, key: &str) -> bool {
        self.own.contains(key)
    }

    /// Forgets `key`. Returns the content it pointed at and whether that is now unreferenced.
    pub fn unbind(&mut self, key: &str) -> Option<(Arc<str>, bool)> {
        self.own.remove(key);
        let integrity = self.keys.remove(key)?;
        let unreferenced = self.release(integrity.clone()).is_some();
        Some((integrity, unreferenced))
    }

    fn release(&mut self, integrity: Arc<str>) -> Option<Arc<str>> {
        let count = self.refs.get_mut(&integrity)?;
        *count -= 1;
        if *count == 0 {
            self.refs.remove(&integrity);
            Some(integrity)
        } else {
            None
        }
    }

    pub fn integrity_of(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(|i| &**i)
    }

    pub fn references(&self, integrity: &str) -> usize {
        self.refs.get(integrity).copied().unwrap_or(0)
    }

    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.keys.iter().map(|(k, i)| (&**k, &**i))
    }

    /// Keys starting with `prefix`, in order.
    pub fn keys_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.keys
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .map(|(k, _)| &**k)
            .take_while(move |k| k.starts_with(prefix))
    }

    /// Makes room for `additional` more bodies (a bulk load).
    pub fn reserve(&mut self, additional: usize) {
        self.refs.reserve(additional);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn clear(&mut self) {
        self.keys.clear();
        self.refs.clear();
        self.own.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_content_survives_until_its_last_key_goes() {
        let mut ledger = Ledger::new();
        assert_eq!(ledger.bind("a".into(), "h1".into()), None);
        assert_eq!(ledger.bind("b".into(), "h1".into()), None);
        assert_eq!(ledger.references("h1"), 2);
        assert_eq!(ledger.unbind("a"), Some(("h1".into(), false)));
        assert_eq!(ledger.unbind("b"), Some(("h1".into(), true)));
        assert_eq!(ledger.unbind("b"), None);
        assert!(ledger.is_empty());
    }

    #[test]
    fn finds_keys_by_prefix() {
        let mut ledger = Ledger::new();
        for key in ["GET a\n1", "GET a\n2", "GET ab", "GET b"] {
            ledger.bind(key.into(), "h".into());
        }
        let found: Vec<_> = ledger.keys_with_prefix("GET a\n").collect();
        assert_eq!(found, ["GET a\n1", "GET a\n2"]);
        assert_eq!(ledger.keys_with_prefix("").count(), 4);
    }

    #[test]
    fn rebinding_to_the_same_content_releases_nothing() {
        let mut ledger = Ledger::new();
        ledger.bind("a".into(), "h1".into());
        assert_eq!(ledger.bind("a".into(), "h1".into()), None);
        assert_eq!(ledger.references("h1"), 1);
    }

    #[test]
    fn rebinding_to_new_content_releases_the_old() {
        let mut ledger = Ledger::new();
        ledger.bind("a".into(), "h1".into());
        assert_eq!(ledger.bind("a".into(), "h2".into()), Some("h1".into()));
        assert_eq!(ledger.references("h1"), 0);
        assert_eq!(ledger.integrity_of("a"), Some("h2"));
    }
}
