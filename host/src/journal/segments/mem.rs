//! [`Mem`]: segments in memory, for tests — the journal (or a store opened on it) without a
//! disk, and a disk that fails or stalls on demand. Clones share the segments: a store dropped
//! and opened again on a clone replays what the first one wrote, as after a restart.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{SegmentFile, Segments};

/// Segments in memory; a segment holds what was synced (what a disk would after a crash).
#[derive(Clone, Default)]
pub(crate) struct Mem {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    segments: Mutex<BTreeMap<u64, Vec<u8>>>,
    /// The next sync fails as a full disk makes it.
    fail_next_write: AtomicBool,
    /// The next sync takes this many milliseconds longer, as a stalling disk makes it.
    stall_next_write_ms: AtomicU64,
}

impl Mem {
    /// Makes the journal's next write fail with `ENOSPC`, as on a full disk: the next sync
    /// (of any segment) fails, and what was written since the last one is lost.
    pub(crate) fn fail_next_write(&self) {
        self.shared.fail_next_write.store(true, Ordering::Relaxed);
    }

    /// Makes the journal's next write (its sync) take `by` longer, as a stalling disk would.
    pub(crate) fn stall_next_write(&self, by: Duration) {
        self.shared.stall_next_write_ms.store(by.as_millis() as u64, Ordering::Relaxed);
    }

    fn segments(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Vec<u8>>> {
        self.shared.segments.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn file(&self, number: u64, bytes: Vec<u8>) -> Box<dyn SegmentFile> {
        self.segments().insert(number, bytes);
        Box::new(MemFile { mem: self.clone(), number, unsynced: Vec::new() })
    }
}

impl std::fmt::Display for Mem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memory")
    }
}

fn not_found(number: u64) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no segment {number}"))
}

impl Segments for Mem {
    fn create(&self, number: u64) -> io::Result<Box<dyn SegmentFile>> {
        Ok(self.file(number, Vec::new()))
    }

    fn prepare(&self, number: u64, bytes: u64) -> io::Result<Box<dyn SegmentFile>> {
        Ok(self.file(number, vec![0; bytes as usize]))
    }

    fn list(&self) -> io::Result<Vec<u64>> {
        Ok(self.segments().keys().copied().collect())
    }

    fn read(&self, number: u64) -> io::Result<Vec<u8>> {
        self.segments().get(&number).cloned().ok_or_else(|| not_found(number))
    }

    fn remove(&self, number: u64) -> io::Result<()> {
        self.segments().remove(&number).map(drop).ok_or_else(|| not_found(number))
    }
}

/// A segment of [`Mem`] being written: its writes reach the segment at the next sync.
struct MemFile {
    mem: Mem,
    number: u64,
    /// Written since the last sync: offset and bytes.
    unsynced: Vec<(usize, Vec<u8>)>,
}

impl SegmentFile for MemFile {
    fn write_at(&mut self, bytes: &[u8], at: u64) -> io::Result<()> {
        self.unsynced.push((at as usize, bytes.to_vec()));
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let shared = &self.mem.shared;
        if shared.fail_next_write.swap(false, Ordering::Relaxed) {
            // What the kernel could not write back it drops: those writes are gone.
            self.unsynced.clear();
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        std::thread::sleep(Duration::from_millis(shared.stall_next_write_ms.swap(0, Ordering::Relaxed)));
        let mut segments = self.mem.segments();
        let segment = segments.get_mut(&self.number).ok_or_else(|| not_found(self.number))?;
        for (at, bytes) in self.unsynced.drain(..) {
            if segment.len() < at + bytes.len() {
                segment.resize(at + bytes.len(), 0);
            }
            segment[at..at + bytes.len()].copy_from_slice(&bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_holds_what_was_synced_and_a_failed_sync_loses_the_rest() {
        let mem = Mem::default();
        let mut file = mem.create(1).expect("create");
        file.write_at(b"synced", 0).expect("write");
        file.sync().expect("sync");
        file.write_at(b" not yet", 6).expect("write");
        assert_eq!(mem.read(1).expect("read"), b"synced", "what a crash now would leave");
        mem.fail_next_write();
        let failed = file.sync().expect_err("a full disk");
        assert_eq!(failed.raw_os_error(), Some(libc::ENOSPC));
        file.sync().expect("the disk is fine again");
        assert_eq!(mem.read(1).expect("read"), b"synced", "the failed write is gone");
        let prepared = mem.prepare(2, 16).expect("prepare");
        drop(prepared);
        assert_eq!(mem.read(2).expect("read"), vec![0; 16]);
        assert_eq!(mem.list().expect("list"), vec![1, 2]);
        mem.remove(1).expect("remove");
        assert_eq!(mem.list().expect("list"), vec![2]);
    }
}
