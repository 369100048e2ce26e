//! Where the journal's segments are kept: [`Segments`] creates, lists, reads and deletes them,
//! and a [`SegmentFile`] is one being written. The journal knows nothing else of them: they
//! are files in a folder ([`Fs`], written directly where it can, see [`direct`]), or memory in
//! tests ([`mem::Mem`], which also fails or stalls a write on demand).

mod direct;
mod fs;
#[cfg(test)]
pub(crate) mod mem;

use std::io;

pub(crate) use fs::Fs;

/// The numbered segments of one journal. Shown (in messages) as where they are.
pub(crate) trait Segments: Send + Sync + std::fmt::Display {
    /// Creates segment `number`, empty (it grows as written); its existence is durable.
    fn create(&self, number: u64) -> io::Result<Box<dyn SegmentFile>>;

    /// Creates segment `number` as `bytes` zeros, durable before it is returned: a write then
    /// syncs the records alone, where one that grows a file also commits the file system's own
    /// journal, which waits for whatever else the disk is writing. A crash meanwhile leaves a
    /// segment of zeros (or a shorter one): no records.
    fn prepare(&self, number: u64, bytes: u64) -> io::Result<Box<dyn SegmentFile>>;

    /// The segments there are, oldest first.
    fn list(&self) -> io::Result<Vec<u64>>;

    /// Segment `number`'s bytes, as the disk holds them.
    fn read(&self, number: u64) -> io::Result<Vec<u8>>;

    /// Deletes segment `number`.
    fn remove(&self, number: u64) -> io::Result<()>;
}

/// A segment being written, front to back.
pub(crate) trait SegmentFile: Send {
    /// Writes `bytes` at `at`: where the previous write ended (0 for the first).
    fn write_at(&mut self, bytes: &[u8], at: u64) -> io::Result<()>;

    /// Makes what was written durable (nothing to do where each write is: direct ones).
    fn sync(&mut self) -> io::Result<()>;
}
