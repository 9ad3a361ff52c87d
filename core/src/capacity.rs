//! The in-memory index and its two bounds: `max_entries` (how many keys) and `max_size` (bytes
//! of content). Whichever is reached first evicts.
//!
//! TinyLFU, weighted by body size: eviction candidates are taken from the least recently used
//! end, and a newcomer that does not fit is admitted only if it was asked for more often than
//! all the victims it would push out together (frequencies from `sketch`, fed by every lookup,
//! hit or miss). So one huge body cannot flush thousands of hot small ones unless its frequency
//! earns it, and a scan of one-hit wonders passes through without flushing anything. A
//! refused newcomer or an evicted key is handed to `on_evict` so its disk entry is cleaned up.
//!
//! Deduplicated content counts once: a body's bytes are charged while any key points at it,
//! and evicting a key frees them only if it was the body's last key here.
//!
//! One lean structure rather than moka (which this replaced): a key costs its slot, one hash
//! map entry and one list node (about 100 bytes besides the key and the slot), and a bulk load
//! of 100k keys takes milliseconds instead of seconds; lookups take one short lock.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::index::slot::Slot;
use crate::sketch::FrequencySketch;

/// Called for every key the bounds pushed out (after the index's lock is released, from the
/// thread that inserted). Must not block.
pub(crate) type OnEvict = Arc<dyn Fn(Victim) + Send + Sync>;

/// A key pushed out of the index: the content it pointed at and that content's size.
pub(crate) struct Victim {
    pub key: String,
    pub integrity: String,
    pub size: u64,
}

impl Victim {
    fn of(node: &Node) -> Victim {
        Victim {
            key: node.key.to_string(),
            integrity: node.slot.integrity().to_owned(),
            size: node.slot.size,
        }
    }
}

pub(crate) struct Index {
    state: Mutex<State>,
    on_evict: OnEvict,
}

const NONE: u32 = u32::MAX;

struct Node {
    key: Arc<str>,
    slot: Arc<Slot>,
    /// Hash of the key, for the sketch; hash of the content address, for the charges.
    key_hash: u64,
    body: u64,
    /// Neighbours in recency order (`NONE` at the ends).
    prev: u32,
    next: u32,
}

struct Body {
    size: u64,
    keys: u32,
}

struct State {
    max_entries: u64,
    max_size: u64,
    hasher: RandomState,
    sketch: FrequencySketch,
    /// Nodes by position; removed ones are `None` and reused through `free`.
    nodes: Vec<Option<Node>>,
    free: Vec<u32>,
    positions: HashMap<Arc<str>, u32>,
    /// Least and most recently used.
    head: u32,
    tail: u32,
    bodies: HashMap<u64, Body>,
    /// Bytes of the distinct bodies the keys point at, and of every key's body counted per key.
    distinct_bytes: u64,
    logical_bytes: u64,
}

impl Index {
    pub fn new(max_entries: u64, max_size: u64, on_evict: OnEvict) -> Index {
        let expected = usize::try_from(max_entries.min(1 << 16)).unwrap_or(1 << 16);
        Index {
            state: Mutex::new(State {
                max_entries,
                max_size,
                hasher: RandomState::new(),
                sketch: FrequencySketch::new(expected),
                nodes: Vec::new(),
                free: Vec::new(),
                positions: HashMap::new(),
                head: NONE,
                tail: NONE,
                bodies: HashMap::new(),
                distinct_bytes: 0,
                logical_bytes: 0,
            }),
            on_evict,
        }
    }

    /// Makes room for `additional` keys about to be inserted (a bulk load).
    pub fn reserve(&self, additional: usize) {
        let mut state = self.state.lock();
        state.positions.reserve(additional);
        state.nodes.reserve(additional);
        state.bodies.reserve(additional);
        let keys = state.positions.len() + additional;
        state.sketch.ensure_capacity(keys);
    }

    /// The slot for `key`, counting the request (hit or miss) for admission.
    pub fn get(&self, key: &str) -> Option<Arc<Slot>> {
        let mut state = self.state.lock();
        let hash = state.hasher.hash_one(key);
        state.sketch.increment(hash);
        let at = *state.positions.get(key)?;
        state.touch(at);
        Some(state.node(at).slot.clone())
    }

    /// The slot for `key`, for bookkeeping rather than a request (no count, no recency).
    pub fn get_quietly(&self, key: &str) -> Option<Arc<Slot>> {
        let state = self.state.lock();
        let at = *state.positions.get(key)?;
        Some(state.node(at).slot.clone())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.state.lock().positions.contains_key(key)
    }

    /// Inserts or replaces `key`. A newcomer that does not fit is admitted only if it is asked
    /// for more often than the victims it would push out; either way the losers go to
    /// `on_evict`.
    pub fn insert(&self, key: Arc<str>, slot: Arc<Slot>) {
        let evicted = self.state.lock().insert(key, slot);
        for victim in evicted {
            (self.on_evict)(victim);
        }
    }

    pub fn remove(&self, key: &str) -> Option<Arc<Slot>> {
        let mut state = self.state.lock();
        let at = *state.positions.get(key)?;
        Some(state.unlink(at).slot)
    }

    pub fn invalidate_all(&self) {
        let mut state = self.state.lock();
        state.nodes.clear();
        state.free.clear();
        state.positions.clear();
        state.bodies.clear();
        state.head = NONE;
        state.tail = NONE;
        state.distinct_bytes = 0;
        state.logical_bytes = 0;
    }

    /// Nothing is deferred here (moka, which this replaced, applied its writes in batches).
    pub fn run_pending_tasks(&self) {}

    pub fn entry_count(&self) -> u64 {
        self.state.lock().positions.len() as u64
    }

    /// Bytes of the distinct bodies live keys point at, and the bytes sharing saves (what
    /// keys pointing at a body another key already holds would take on their own).
    pub fn bytes(&self) -> (u64, u64) {
        let state = self.state.lock();
        (
            state.distinct_bytes,
            state.logical_bytes - state.distinct_bytes,
        )
    }

    /// Removes live keys, oldest stored first, until their bodies add up to `bytes`; returns
    /// them for the disk cleanup. The order every process can agree on for
    /// the shared budget: `stored_at` is on disk, TinyLFU frequencies are per process.
    pub fn evict_oldest(&self, bytes: u64) -> Vec<Victim> {
        let mut state = self.state.lock();
        let mut live: Vec<(u64, u32)> = state
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(at, node)| Some((node.as_ref()?.slot.stored_at, at as u32)))
            .collect();
        live.sort_unstable();
        let mut freed = 0u64;
        let mut victims = Vec::new();
        for (_, at) in live {
            if freed >= bytes {
                break;
            }
            let node = state.unlink(at);
            freed += node.slot.size;
            victims.push(Victim::of(&node));
        }
        victims
    }
}

impl State {
    fn node(&self, at: u32) -> &Node {
        self.nodes[at as usize]
            .as_ref()
            .expect("positions name live nodes")
    }

    fn node_mut(&mut self, at: u32) -> &mut Node {
        self.nodes[at as usize]
            .as_mut()
            .expect("positions name live nodes")
    }

    fn detach(&mut self, at: u32) {
        let (prev, next) = {
            let node = self.node(at);
            (node.prev, node.next)
        };
        match prev {
            NONE => self.head = next,
            p => self.node_mut(p).next = next,
        }
        match next {
            NONE => self.tail = prev,
            n => self.node_mut(n).prev = prev,
        }
    }

    fn push_back(&mut self, at: u32) {
        let tail = self.tail;
        {
            let node = self.node_mut(at);
            node.prev = tail;
            node.next = NONE;
        }
        match tail {
            NONE => self.head = at,
            t => self.node_mut(t).next = at,
        }
        self.tail = at;
    }

    /// Marks `at` most recently used.
    fn touch(&mut self, at: u32) {
        if self.tail != at {
            self.detach(at);
            self.push_back(at);
        }
    }

    /// What removing `at` would free: its body's bytes if it is the body's last key here.
    fn frees(&self, at: u32) -> u64 {
        let node = self.node(at);
        self.bodies
            .get(&node.body)
            .map_or(0, |b| if b.keys == 1 { b.size } else { 0 })
    }

    fn charge(&mut self, body: u64, size: u64) {
        self.logical_bytes += size;
        let entry = self.bodies.entry(body).or_insert(Body { size, keys: 0 });
        if entry.keys == 0 {
            self.distinct_bytes += entry.size;
        }
        entry.keys += 1;
    }

    fn release(&mut self, body: u64) {
        let Some(entry) = self.bodies.get_mut(&body) else {
            return;
        };
        self.logical_bytes -= entry.size;
        entry.keys -= 1;
        if entry.keys == 0 {
            self.distinct_bytes -= entry.size;
            self.bodies.remove(&body);
        }
    }

    fn unlink(&mut self, at: u32) -> Node {
        self.detach(at);
        let node = self.nodes[at as usize]
            .take()
            .expect("positions name live nodes");
        self.free.push(at);
        self.positions.remove(&node.key);
        self.release(node.body);
        node
    }

    fn insert(&mut self, key: Arc<str>, slot: Arc<Slot>) -> Vec<Victim> {
        let body = self.hasher.hash_one(slot.integrity());
        let size = slot.size;
        let mut evicted = Vec::new();
        if let Some(&at) = self.positions.get(&key) {
            // A replacement is always admitted; others make room for it if needed.
            let old = self.node(at).body;
            self.release(old);
            self.charge(body, size);
            let node = self.node_mut(at);
            node.slot = slot;
            node.body = body;
            self.touch(at);
            self.make_room(at, &mut evicted);
            return evicted;
        }
        let key_hash = self.hasher.hash_one(&*key);
        let node = Node {
            key: key.clone(),
            slot,
            key_hash,
            body,
            prev: NONE,
            next: NONE,
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.nodes[at as usize] = Some(node);
                at
            }
            None => {
                self.nodes.push(Some(node));
                (self.nodes.len() - 1) as u32
            }
        };
        self.positions.insert(key, at);
        self.charge(body, size);
        self.push_back(at);
        let keys = self.positions.len();
        self.sketch.ensure_capacity(keys);
        if self.over() {
            self.admit(at, &mut evicted);
        }
        evicted
    }

    fn over(&self) -> bool {
        self.positions.len() as u64 > self.max_entries || self.distinct_bytes > self.max_size
    }

    /// TinyLFU admission of the newcomer at `at`: gathers victims from the least recently used
    /// end until the bounds would hold without them; the newcomer stays only if it was asked
    /// for more often than all of them together (ties keep the incumbents).
    fn admit(&mut self, at: u32, evicted: &mut Vec<Victim>) {
        let candidate = self.sketch.frequency(self.node(at).key_hash);
        let mut victims = Vec::new();
        let mut victims_frequency = 0u32;
        let (mut count, mut bytes) = (self.positions.len() as u64, self.distinct_bytes);
        let mut next = self.head;
        while (count > self.max_entries || bytes > self.max_size) && next != NONE {
            if next != at {
                victims_frequency += u32::from(self.sketch.frequency(self.node(next).key_hash));
                if victims_frequency >= u32::from(candidate) {
                    break;
                }
                victims.push(next);
                count -= 1;
                bytes -= self.frees(next);
            }
            next = self.node(next).next;
        }
        let admitted = count <= self.max_entries && bytes <= self.max_size;
        let losers = if admitted { victims } else { vec![at] };
        for loser in losers {
            let node = self.unlink(loser);
            evicted.push(Victim::of(&node));
        }
    }

    /// After a replacement grew a body: evicts from the least recently used end (never `at`)
    /// until the bounds hold.
    fn make_room(&mut self, at: u32, evicted: &mut Vec<Victim>) {
        let mut next = self.head;
        while self.over() && next != NONE {
            let after = self.node(next).next;
            if next != at {
                let node = self.unlink(next);
                evicted.push(Victim::of(&node));
            }
            next = after;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(max_entries: u64, max_size: u64) -> (Index, Arc<Mutex<Vec<String>>>) {
        let evicted = Arc::new(Mutex::new(Vec::new()));
        let log = evicted.clone();
        let on_evict: OnEvict = Arc::new(move |victim: Victim| log.lock().push(victim.key));
        (Index::new(max_entries, max_size, on_evict), evicted)
    }

    fn put(index: &Index, key: &str, body: &str, size: u64) {
        let slot = Slot::lean(format!("sha256-{body}").into(), size, 0, 0);
        index.insert(key.into(), Arc::new(slot));
    }

    fn ask(index: &Index, key: &str, times: usize) {
        for _ in 0..times {
            index.get(key);
        }
    }

    #[test]
    fn a_newcomer_asked_for_more_often_replaces_the_least_recently_used() {
        let (index, evicted) = index(2, 1 << 30);
        put(&index, "a", "a", 1);
        put(&index, "b", "b", 1);
        ask(&index, "b", 2);
        // Never asked for: ties keep the incumbents, so a scan passes through.
        put(&index, "scan", "s", 1);
        assert_eq!(*evicted.lock(), ["scan"]);
        ask(&index, "c", 3);
        put(&index, "c", "c", 1);
        assert_eq!(*evicted.lock(), ["scan", "a"]);
        assert!(index.contains_key("b") && index.contains_key("c"));
        assert_eq!(index.entry_count(), 2);
    }

    #[test]
    fn one_huge_body_does_not_flush_hot_small_ones_unless_its_frequency_earns_it() {
        let (index, evicted) = index(100, 1000);
        for n in 0..10 {
            let key = format!("small{n}");
            ask(&index, &key, 1);
            put(&index, &key, &key, 100);
        }
        ask(&index, "huge", 5);
        put(&index, "huge", "huge", 900);
        assert_eq!(*evicted.lock(), ["huge"]);
        assert_eq!(index.entry_count(), 10);
        // Asked for more often than the nine bodies it displaces together: admitted.
        ask(&index, "huge", 7);
        put(&index, "huge", "huge", 900);
        assert_eq!(evicted.lock().len(), 10);
        assert_eq!(index.bytes().0, 1000);
        assert!(index.contains_key("huge") && index.contains_key("small9"));
    }

    #[test]
    fn shared_bodies_count_once() {
        let (index, evicted) = index(100, 250);
        put(&index, "a", "same", 100);
        put(&index, "b", "same", 100);
        put(&index, "c", "other", 100);
        assert_eq!(index.bytes(), (200, 100));
        index.remove("a");
        assert_eq!(index.bytes(), (200, 0));
        index.remove("b");
        assert_eq!(index.bytes(), (100, 0));
        assert!(evicted.lock().is_empty());
    }

    #[test]
    fn oldest_stored_go_first_for_the_shared_budget() {
        let (index, _) = index(100, 1 << 30);
        for (key, at) in [("new", 30), ("old", 10), ("mid", 20)] {
            let slot = Slot::lean(format!("sha256-{key}").into(), 10, at, 0);
            index.insert(key.into(), Arc::new(slot));
        }
        let victims: Vec<String> = index.evict_oldest(15).into_iter().map(|v| v.key).collect();
        assert_eq!(victims, ["old", "mid"]);
        assert_eq!(index.entry_count(), 1);
    }
}
