//! Reads a byte range of a stored body, verifying only the blocks it touches (see `blocks`).
//!
//! Each touched block is read whole with one positioned read, checked against its checksum,
//! and only then handed out (at most 64 KiB per block), so no unverified byte ever leaves.
//! A block that fails its check is corruption (the cache drops the entry, as for a full read)
//! unless the sidecar itself turns out damaged: then it is rebuilt from the body.
//!
//! Bodies without a sidecar (one block long, or written before sidecars existed) are verified
//! whole the first time a range of them is read, against the entry's own checksum; for the
//! larger ones that pass also writes the sidecar, so every later range is cheap ("lazy"
//! migration: no upgrade step, and bodies nobody asks ranges of cost nothing).

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cacache::Integrity;

use super::blocks::{self, BlockHasher, BlockSums, BLOCK_SIZE};
use super::hasher::{HashOutcome, IncrementalHash};
use super::reader::CorruptionHook;
use crate::error::{CacheError, Result};

pub struct RangeReader {
    file: Option<File>,
    dir: PathBuf,
    address: Integrity,
    verify_with: Integrity,
    /// The whole body's size.
    size: u64,
    /// Next byte to hand out, and one past the last (absolute offsets in the body).
    position: u64,
    end: u64,
    /// Checksums of the touched blocks, from `first_block` on; loaded on the first read.
    sums: Option<Vec<u64>>,
    first_block: u64,
    /// The verified block `position` is in, and its index.
    block: Vec<u8>,
    block_index: Option<u64>,
    on_corrupt: Option<CorruptionHook>,
    meter: Option<Arc<AtomicU64>>,
}

pub(crate) struct RangeParts {
    pub file: File,
    pub dir: PathBuf,
    pub address: Integrity,
    pub verify_with: Integrity,
    pub size: u64,
    pub on_corrupt: Option<CorruptionHook>,
    pub meter: Option<Arc<AtomicU64>>,
}

impl RangeReader {
    /// Bytes `start..end` (end exclusive, both already within the body) of the body `parts`
    /// describes. Nothing is read until the first `read`.
    pub(crate) fn new(parts: RangeParts, start: u64, end: u64) -> RangeReader {
        RangeReader {
            file: (start < end).then_some(parts.file),
            dir: parts.dir,
            address: parts.address,
            verify_with: parts.verify_with,
            size: parts.size,
            position: start,
            end,
            sums: None,
            first_block: start / BLOCK_SIZE,
            block: Vec::new(),
            block_index: None,
            on_corrupt: parts.on_corrupt,
            meter: parts.meter,
        }
    }

    pub fn remaining(&self) -> u64 {
        self.end - self.position
    }

    /// Fills `buf` with the next verified bytes of the range; 0 once it is all out.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.position == self.end {
            self.close();
            return Ok(0);
        }
        if self.file.is_none() {
            return Err(CacheError::closed("the body reader is closed"));
        }
        let mut filled = 0;
        while filled < buf.len() && self.position < self.end {
            let index = self.position / BLOCK_SIZE;
            if self.block_index != Some(index) {
                self.load_block(index)?;
            }
            let block_start = index * BLOCK_SIZE;
            let from = (self.position - block_start) as usize;
            let until = ((self.end - block_start) as usize).min(self.block.len());
            let n = (until - from).min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&self.block[from..from + n]);
            filled += n;
            self.position += n as u64;
        }
        if self.position == self.end {
            self.close();
        }
        if let Some(meter) = &self.meter {
            meter.fetch_add(filled as u64, Ordering::Relaxed);
        }
        Ok(filled)
    }

    pub fn close(&mut self) {
        self.file = None;
        self.block = Vec::new();
        self.block_index = None;
    }

    /// Reads block `index` into `self.block` and checks it.
    fn load_block(&mut self, index: u64) -> Result<()> {
        if !blocks::has_sidecar(self.size) {
            // One block: it is the whole body, checked against the entry's own checksum.
            let whole = self.verify_whole()?;
            self.block = whole;
            self.block_index = Some(index);
            return Ok(());
        }
        if self.sums.is_none() {
            self.sums = Some(self.load_sums()?);
        }
        self.read_block(index)?;
        if self.block_matches(index) {
            return Ok(());
        }
        // A mismatch: the body is corrupt, unless the sidecar is what got damaged.
        match blocks::sidecar_intact(&self.dir, &self.address) {
            Ok(true) => {
                return Err(self.corrupt(format!(
                    "cached content failed verification in block {index}"
                )))
            }
            Ok(false) => {}
            Err(e) => return Err(self.unreadable(&e, "reading block checksums")),
        }
        blocks::remove_sidecar(&self.dir, &self.address);
        self.sums = Some(self.rebuild_sums()?);
        self.read_block(index)?;
        if self.block_matches(index) {
            Ok(())
        } else {
            // The body verified whole a moment ago: it changed under us.
            Err(self.corrupt(format!(
                "cached content failed verification in block {index}"
            )))
        }
    }

    fn read_block(&mut self, index: u64) -> Result<()> {
        let start = index * BLOCK_SIZE;
        let len = (self.size - start).min(BLOCK_SIZE) as usize;
        self.block.resize(len, 0);
        self.block_index = None;
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| CacheError::closed("the body reader is closed"))?;
        match blocks::read_at(file, &mut self.block, start) {
            Ok(()) => {
                self.block_index = Some(index);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(self.corrupt(format!(
                "cached content is truncated: block {index} ends before {} bytes",
                start + len as u64
            ))),
            Err(e) => Err(self.unreadable(&e, "reading cached content")),
        }
    }

    fn block_matches(&self, index: u64) -> bool {
        let Some(sums) = &self.sums else { return false };
        let Some(expected) = sums.get((index - self.first_block) as usize) else {
            return false;
        };
        blocks::block_sum(&self.block) == *expected
    }

    /// The checksums of the touched blocks: from the sidecar, else built by a verified pass
    /// over the whole body (which also writes the sidecar).
    fn load_sums(&mut self) -> Result<Vec<u64>> {
        let last = (self.end - 1) / BLOCK_SIZE;
        match blocks::read_sums(&self.dir, &self.address, self.size, self.first_block, last) {
            Ok(Some(sums)) => Ok(sums),
            // No usable sidecar, or one that cannot be read: the body's own checksum decides.
            Ok(None) | Err(_) => self.rebuild_sums(),
        }
    }

    fn rebuild_sums(&mut self) -> Result<Vec<u64>> {
        let last = (self.end - 1) / BLOCK_SIZE;
        let mut hasher = BlockHasher::new();
        self.pass_over_whole(|chunk| hasher.input(chunk))?;
        let all: BlockSums = hasher.finish();
        // Best effort: without it, the next range verifies the whole body again.
        let _ = blocks::write_sidecar(&self.dir, &self.address, &all);
        Ok(all.sums[self.first_block as usize..=last as usize].to_vec())
    }

    /// The whole body, verified (bodies of one block).
    fn verify_whole(&mut self) -> Result<Vec<u8>> {
        let mut whole = Vec::with_capacity(self.size as usize);
        self.pass_over_whole(|chunk| whole.extend_from_slice(chunk))?;
        Ok(whole)
    }

    /// Reads the whole body in chunks, handing each to `visit`, and checks it against the
    /// entry's checksum; a mismatch or a short file is corruption.
    fn pass_over_whole(&mut self, mut visit: impl FnMut(&[u8])) -> Result<()> {
        let mut hash = IncrementalHash::checking(&self.verify_with, self.size);
        let mut chunk = vec![0u8; super::CHUNK_SIZE];
        let mut at = 0u64;
        while at < self.size {
            let len = (self.size - at).min(chunk.len() as u64) as usize;
            let file = self
                .file
                .as_ref()
                .ok_or_else(|| CacheError::closed("the body reader is closed"))?;
            match blocks::read_at(file, &mut chunk[..len], at) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(self.corrupt(format!(
                        "cached content is truncated: shorter than {} bytes",
                        self.size
                    )))
                }
                Err(e) => return Err(self.unreadable(&e, "reading cached content")),
            }
            hash.input(&chunk[..len], at == 0);
            visit(&chunk[..len]);
            at += len as u64;
        }
        match hash.finish() {
            Some(HashOutcome::Checked(Ok(_))) => Ok(()),
            Some(HashOutcome::Checked(Err(e))) => {
                Err(self.corrupt(format!("cached content failed verification: {e}")))
            }
            _ => Err(CacheError::internal("the content hash was lost")),
        }
    }

    /// A read that failed for a reason other than the content (EIO, EMFILE...): not
    /// corruption, the entry stays.
    fn unreadable(&mut self, e: &io::Error, doing: &str) -> CacheError {
        self.close();
        CacheError::io(e, doing)
    }

    fn corrupt(&mut self, message: String) -> CacheError {
        self.close();
        if let Some(hook) = self.on_corrupt.take() {
            hook();
        }
        CacheError::integrity(message)
    }
}
