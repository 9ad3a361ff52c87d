//! Per-block checksums of a body, so a byte range can be verified without reading the whole
//! body. Each 64 KiB block of a body larger than one block gets an xxh3-64 checksum, taken as
//! the body is written and kept in a sidecar file named after the body's content address:
//!
//! ```text
//! <dir>/blocks-v1/<algorithm>/<hex[0..2]>/<hex[2..4]>/<hex[4..]>
//! ```
//!
//! One sidecar per content file, so deduplicated bodies share it, and it describes whatever
//! bytes have that address (a sidecar left behind by a removal is still right if the same
//! content comes back). It lives in its own tree, not next to the content, so everything that
//! walks `content-v2/` (budget sweeps, inspection, cacache's tools) sees only bodies.
//!
//! Why 64 KiB: it is the chunk size everything streams in, so a verified block is exactly one
//! chunk handed out; a range reads at most one block on either side beyond what it asked for
//! (128 KiB, against 2 MiB with 1 MiB blocks: small ranges such as a player's probes stay
//! cheap); and the sidecar costs 8 bytes per block (128 KiB for 1 GiB), of which a range reads
//! only the checksums of the blocks it touches. A body of one block has no sidecar: verifying
//! its one block is verifying the whole body, which its index entry's checksum already does.
//!
//! Format (little-endian): magic `SCBLK1\0\0`, block size (u64), body size (u64), one u64
//! checksum per block, then an xxh3-64 of everything before it. The trailer is only read when
//! a block fails its check, to tell a damaged sidecar (rebuilt from the body) from a damaged
//! body (corruption).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use cacache::Integrity;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::layout::{self, CONTENT_DIR};

/// Bytes per checksummed block.
pub const BLOCK_SIZE: u64 = 64 * 1024;
/// The tree sidecars live in, beside `content-v2/`.
pub const BLOCKS_DIR: &str = "blocks-v1";

const MAGIC: &[u8; 8] = b"SCBLK1\0\0";
const HEADER_LEN: u64 = 24;
const SUM_LEN: u64 = 8;

/// How many blocks a body of `size` bytes has.
pub fn block_count(size: u64) -> u64 {
    size.div_ceil(BLOCK_SIZE)
}

/// Whether a body of `size` bytes gets a sidecar (more than one block).
pub fn has_sidecar(size: u64) -> bool {
    size > BLOCK_SIZE
}

/// The checksum of one block's bytes.
pub fn block_sum(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

/// Where the sidecar of the content at `address` lives.
pub fn sidecar_path(dir: &Path, address: &Integrity) -> PathBuf {
    sidecar_for_content(dir, &layout::content_path(dir, address))
        .expect("a content path is under the content directory")
}

/// The sidecar path of the content file at `content` (a path under `<dir>/content-v2/`).
pub fn sidecar_for_content(dir: &Path, content: &Path) -> Option<PathBuf> {
    let relative = content.strip_prefix(dir.join(CONTENT_DIR)).ok()?;
    Some(dir.join(BLOCKS_DIR).join(relative))
}

/// The content file a sidecar at `sidecar` describes.
pub fn content_for_sidecar(dir: &Path, sidecar: &Path) -> Option<PathBuf> {
    let relative = sidecar.strip_prefix(dir.join(BLOCKS_DIR)).ok()?;
    Some(dir.join(CONTENT_DIR).join(relative))
}

/// Removes the sidecar of the content file at `content`, if any (best effort: a sidecar left
/// behind is still correct for that address, and a garbage pass removes it).
pub fn remove_for_content(dir: &Path, content: &Path) {
    if let Some(sidecar) = sidecar_for_content(dir, content) {
        let _ = fs::remove_file(sidecar);
    }
}

/// Checksums of every block of a body, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSums {
    pub size: u64,
    pub sums: Vec<u64>,
}

impl BlockSums {
    fn encode(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity((HEADER_LEN + SUM_LEN * (self.sums.len() as u64 + 1)) as usize);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&BLOCK_SIZE.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        for sum in &self.sums {
            out.extend_from_slice(&sum.to_le_bytes());
        }
        let trailer = xxh3_64(&out);
        out.extend_from_slice(&trailer.to_le_bytes());
        out
    }
}

/// Builds the block checksums of a body from its bytes, in chunks of any size.
#[derive(Default)]
pub struct BlockHasher {
    current: Xxh3,
    filled: u64,
    size: u64,
    sums: Vec<u64>,
}

impl BlockHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn input(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = (BLOCK_SIZE - self.filled) as usize;
            let (head, rest) = bytes.split_at(room.min(bytes.len()));
            self.current.update(head);
            self.filled += head.len() as u64;
            self.size += head.len() as u64;
            if self.filled == BLOCK_SIZE {
                self.sums.push(self.current.digest());
                self.current.reset();
                self.filled = 0;
            }
            bytes = rest;
        }
    }

    pub fn finish(mut self) -> BlockSums {
        if self.filled > 0 {
            self.sums.push(self.current.digest());
        }
        BlockSums {
            size: self.size,
            sums: self.sums,
        }
    }
}

/// Writes the sidecar for `address` (through a temp file under `tmp/` and a rename, so a
/// reader never sees half of one). Bodies of one block get none.
pub fn write_sidecar(dir: &Path, address: &Integrity, sums: &BlockSums) -> io::Result<()> {
    if !has_sidecar(sums.size) {
        return Ok(());
    }
    let target = sidecar_path(dir, address);
    let tmp = layout::tmp_dir(dir);
    crate::files::create_private_dir(&tmp)?;
    let mut file = tempfile::Builder::new()
        .prefix(".blocks-")
        .tempfile_in(&tmp)?;
    file.write_all(&sums.encode())?;
    if let Some(parent) = target.parent() {
        crate::files::create_private_dir(parent)?;
    }
    file.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

/// The checksums of blocks `first..=last` of the body at `address`, `size` bytes, read from
/// its sidecar (only the header and those checksums). `None` when there is no usable sidecar
/// (missing, or not describing a body of this size): the caller builds one.
pub fn read_sums(
    dir: &Path,
    address: &Integrity,
    size: u64,
    first: u64,
    last: u64,
) -> io::Result<Option<Vec<u64>>> {
    let mut file = match crate::files::open_nofollow_nonblocking(&sidecar_path(dir, address)) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    let blocks = block_count(size);
    if !meta.file_type().is_file()
        || meta.len() != HEADER_LEN + SUM_LEN * (blocks + 1)
        || last >= blocks
        || first > last
    {
        return Ok(None);
    }
    let mut header = [0u8; HEADER_LEN as usize];
    file.read_exact(&mut header)?;
    if &header[0..8] != MAGIC || u64_at(&header, 8) != BLOCK_SIZE || u64_at(&header, 16) != size {
        return Ok(None);
    }
    let mut raw = vec![0u8; ((last - first + 1) * SUM_LEN) as usize];
    read_at(&file, &mut raw, HEADER_LEN + first * SUM_LEN)?;
    Ok(Some(raw.chunks_exact(8).map(|c| u64_at(c, 0)).collect()))
}

/// Whether the sidecar for `address` is whole and undamaged (its trailer checks out).
/// Read in full: only called once a block failed its check.
pub fn sidecar_intact(dir: &Path, address: &Integrity) -> io::Result<bool> {
    let bytes = match fs::read(sidecar_path(dir, address)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if bytes.len() < (HEADER_LEN + SUM_LEN) as usize {
        return Ok(false);
    }
    let (body, trailer) = bytes.split_at(bytes.len() - SUM_LEN as usize);
    Ok(xxh3_64(body) == u64_at(trailer, 0))
}

/// Removes the sidecar for `address` (a damaged one, about to be rebuilt).
pub fn remove_sidecar(dir: &Path, address: &Integrity) {
    let _ = fs::remove_file(sidecar_path(dir, address));
}

/// Fills `buf` from `offset` of `file`; a file ending early leaves `UnexpectedEof`.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom};
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn sums_do_not_depend_on_chunking() {
        let data = body(3 * BLOCK_SIZE as usize + 17);
        let mut whole = BlockHasher::new();
        whole.input(&data);
        let whole = whole.finish();
        let mut pieces = BlockHasher::new();
        for piece in data.chunks(1000) {
            pieces.input(piece);
        }
        assert_eq!(pieces.finish(), whole);
        assert_eq!(whole.sums.len(), 4);
        assert_eq!(whole.sums[3], block_sum(&data[3 * BLOCK_SIZE as usize..]));
    }

    #[test]
    fn sidecar_round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let data = body(2 * BLOCK_SIZE as usize + 5);
        let address = cacache::write_hash_sync(dir.path(), &data).unwrap();
        let mut hasher = BlockHasher::new();
        hasher.input(&data);
        let sums = hasher.finish();
        write_sidecar(dir.path(), &address, &sums).unwrap();
        let size = data.len() as u64;
        assert_eq!(
            read_sums(dir.path(), &address, size, 1, 2).unwrap(),
            Some(sums.sums[1..].to_vec())
        );
        assert_eq!(
            read_sums(dir.path(), &address, size + 1, 0, 0).unwrap(),
            None
        );
        assert!(sidecar_intact(dir.path(), &address).unwrap());
        let path = sidecar_path(dir.path(), &address);
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER_LEN as usize] ^= 1;
        fs::write(&path, bytes).unwrap();
        assert!(!sidecar_intact(dir.path(), &address).unwrap());
        assert_eq!(
            content_for_sidecar(dir.path(), &path).unwrap(),
            layout::content_path(dir.path(), &address)
        );
    }
}
