//! The index layer: which key points at which content. `disk` is the durable copy (cacache's
//! index buckets), `ledger` the in-memory truth about references, so content is removed only
//! when no key points at it any more.

pub mod bucket;
pub mod disk;
pub mod ledger;
pub(crate) mod slot;
pub mod snapshot;

pub use disk::StoredEntry;
pub use ledger::Ledger;
