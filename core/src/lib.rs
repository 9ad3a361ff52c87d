//! streaming-cache core: a disk-backed HTTP response cache that streams bodies in bounded
//! chunks both ways. Content is stored once per hash (cacache), the index of keys is bounded
//! by a TinyLFU policy (`capacity`), and evictions are cleaned from disk in the background.
//! Nothing here knows about Node: the napi binding is a separate crate.

pub mod cache;
mod capacity;
pub mod content;
pub mod entry;
pub mod error;
mod eviction;
pub mod eviction_log;
mod files;
pub mod garbage;
pub mod index;
pub mod inspect;
pub mod layout;
pub mod memory_tier;
pub mod options;
pub mod policy;
mod presence;
pub mod remote;
mod runtime;
mod sketch;
pub mod stats;
mod usage;

pub use cache::{PendingDelete, StreamingCache, VerifyReport};
pub use content::{reader::BodyReader, writer::BodyWriter, CHUNK_SIZE};
pub use entry::{EntryMeta, HeaderMap, HeaderValue};
pub use error::{CacheError, ErrorKind, Result};
pub use index::StoredEntry;
pub use memory_tier::{HotBody, MemoryTierOptions};
pub use options::CacheOptions;
pub use policy::{
    Freshness, Policy, PolicyOptions, RequestDirectives, RequestInfo, ResponseDirectives,
    Revalidated,
};
pub use stats::{Evictions, Stats};
