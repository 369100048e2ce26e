//! Direct writes of a prepared segment: `O_DIRECT | O_DSYNC`, whole blocks from an aligned
//! buffer. One system call per batch instead of a `pwrite` and an `fdatasync`, and no page
//! cache to write back. The block the records end in is written again, whole, with the next
//! batch: the records already in it are the same bytes, so a torn write can only tear the new
//! ones (which their checksum then ends).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt as _;
use std::path::Path;

/// The unit of direct writes: offsets, lengths and buffer addresses are multiples of it.
pub(super) const BLOCK: usize = 4096;

/// The state of a file written directly, between writes.
pub(super) struct Direct {
    /// The bytes of the block the records end in, up to their end.
    tail: Vec<u8>,
    /// Reused for each write: a block-aligned window of it is written.
    scratch: Vec<u8>,
}

/// The segment at `path` opened for direct writes, or None where the file system does not
/// take them (tmpfs before Linux 6.6): then it is written through the page cache.
pub(super) fn open(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match OpenOptions::new().write(true).custom_flags(libc::O_DIRECT | libc::O_DSYNC).open(path) {
        Ok(file) => Some(file),
        Err(e) => {
            tracing::debug!("journal segment {} cannot be written directly ({e}); writing through the page cache", path.display());
            None
        }
    }
}

impl Direct {
    /// A file none of whose blocks was written yet.
    pub(super) fn new() -> Direct {
        Direct { tail: Vec::with_capacity(BLOCK), scratch: Vec::new() }
    }

    /// Writes `bytes` at `written` (where the previous write ended) with the block they start
    /// in, padded with zeros to whole blocks; synchronous (`O_DSYNC`). Keeps the last partial
    /// block for the next write.
    pub(super) fn write(&mut self, file: &File, written: u64, bytes: &[u8]) -> std::io::Result<()> {
        let start = written - written % BLOCK as u64;
        let head = self.tail.len();
        let total = head + bytes.len();
        let padded = total.div_ceil(BLOCK) * BLOCK;
        self.scratch.clear();
        self.scratch.resize(padded + BLOCK, 0);
        let at = self.scratch.as_ptr().align_offset(BLOCK);
        let window = &mut self.scratch[at..at + padded];
        window[..head].copy_from_slice(&self.tail);
        window[head..total].copy_from_slice(bytes);
        file.write_all_at(window, start)?;
        let keep = total - total % BLOCK;
        self.tail.clear();
        self.tail.extend_from_slice(&window[keep..total]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_rewrite_the_block_they_start_in_and_leave_zeros_after_their_end() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("segment");
        let file = File::create(&path).expect("create");
        let mut direct = Direct::new();
        let (mut expected, mut written) = (Vec::new(), 0u64);
        // Writes that end inside a block, fill one exactly, and cross several.
        for len in [12, 100, BLOCK - 112, 5000, 1, 3 * BLOCK + 7] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
            direct.write(&file, written, &bytes).expect("write");
            expected.extend_from_slice(&bytes);
            written += len as u64;
            let on_disk = std::fs::read(&path).expect("read");
            assert_eq!(on_disk.len() % BLOCK, 0, "whole blocks");
            assert_eq!(&on_disk[..expected.len()], &expected[..], "after {len}");
            assert!(on_disk[expected.len()..].iter().all(|&b| b == 0), "zeros after the end");
        }
    }
}
