//! The writer thread: group commit of what was appended.
//!
//! Appends and callbacks queue in [`State`]; the writer takes everything queued while its
//! previous write ran, writes it durably in one write (and sync), then runs the callbacks
//! waiting for it, in order. It writes the current segment until it is full and goes on in
//! the next, prepared as zeros on a thread of its own meanwhile (the first one of a run grows
//! until the next is ready); every [`Sizes::checkpoint`] bytes it starts a checkpoint.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::checkpoint::Checkpoints;
use super::error::{FirstFailedWrite, WriteFailed};
use super::format;
use super::segments::{SegmentFile, Segments};

/// A callback run on the writer thread once everything appended before it is on disk (or
/// with the failed write that keeps it from being). It must not block.
pub(crate) type Done = Box<dyn FnOnce(Result<(), &WriteFailed>) + Send>;

/// A write and sync slower than this is a disk stall every live message sent meanwhile
/// waited for: logged (at most every [`SLOW_WARN_EVERY`]) for the host.
const SLOW_FSYNC: Duration = Duration::from_millis(100);

/// At most one warning about slow fsyncs this often; it counts the ones in between.
const SLOW_WARN_EVERY: Duration = Duration::from_secs(10);

/// A segment's size: written as zeros before records go in.
pub(super) const SEGMENT_BYTES: u64 = 16 << 20;

/// A checkpoint follows this many bytes of records.
pub(super) const CHECKPOINT_BYTES: u64 = 64 << 20;

/// Segment and checkpoint sizes ([`SEGMENT_BYTES`] and [`CHECKPOINT_BYTES`]; smaller in tests).
#[derive(Clone, Copy)]
pub(super) struct Sizes {
    pub(super) segment: u64,
    pub(super) checkpoint: u64,
}

impl Sizes {
    /// The sizes of a server's journal.
    pub(super) const DEFAULT: Sizes = Sizes { segment: SEGMENT_BYTES, checkpoint: CHECKPOINT_BYTES };
}

/// What the journal's handle and its writer share.
pub(super) struct Shared {
    segments: Arc<dyn Segments>,
    /// Joined when the journal is dropped.
    pub(super) checkpoints: Checkpoints,
    /// Read before every write: once set, nothing is written or acknowledged again.
    failed: FirstFailedWrite,
    /// A std mutex: held only to move a buffer or a callback, never across a write.
    state: Mutex<State>,
    /// Wakes the writer when work comes to an idle queue, or the journal closes.
    wake: Condvar,
    sizes: Sizes,
}

/// The writer's queue.
#[derive(Default)]
pub(super) struct State {
    /// Appended, not yet written.
    pub(super) buffer: Vec<u8>,
    /// Callbacks waiting for everything appended before them.
    pub(super) waiting: Vec<Done>,
    /// The journal is dropped: the writer ends once the queue is empty.
    closing: bool,
    /// Writes (each with its sync) run so far.
    pub(super) flushes: u64,
}

impl Shared {
    /// The shared state of a journal whose writer has not started.
    pub(super) fn new(segments: Arc<dyn Segments>, checkpoints: Checkpoints, failed: FirstFailedWrite, sizes: Sizes) -> Shared {
        Shared { segments, checkpoints, failed, state: Mutex::new(State::default()), wake: Condvar::new(), sizes }
    }

    /// The queue (whose every update is whole, so a panic elsewhere leaves it usable).
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds work for the writer with `add`, waking it if it had none.
    pub(super) fn queue(&self, add: impl FnOnce(&mut State)) {
        let mut state = self.state();
        let idle = state.buffer.is_empty() && state.waiting.is_empty();
        add(&mut state);
        drop(state);
        if idle {
            self.wake.notify_one();
        }
    }

    /// Tells the writer to end once it has written what is queued.
    pub(super) fn close(&self) {
        self.state().closing = true;
        self.wake.notify_one();
    }
}

/// Starts the writer on a new segment `number`.
pub(super) fn start(shared: &Arc<Shared>, number: u64) -> io::Result<JoinHandle<()>> {
    let file = begin(&*shared.segments, number, None)?;
    let shared = shared.clone();
    std::thread::Builder::new().name("stoa-journal".into()).spawn(move || write_loop(&shared, file, number))
}

/// Segment `number` with its header, created empty (`prepare` None) or as `prepare` zeros.
/// The header is written without a sync of its own: the first write of records syncs it, or
/// writes its block again (a direct one).
fn begin(segments: &dyn Segments, number: u64, prepare: Option<u64>) -> io::Result<Box<dyn SegmentFile>> {
    let mut file = match prepare {
        Some(bytes) => segments.prepare(number, bytes)?,
        None => segments.create(number)?,
    };
    file.write_at(&format::header(), 0)?;
    Ok(file)
}

/// The segment being written.
struct Segment {
    number: u64,
    file: Box<dyn SegmentFile>,
    /// Where its records end (its header before them).
    written: u64,
    /// Whether it was prepared (zeros written ahead); the first of a run is not.
    prepared: bool,
}

impl Segment {
    fn new(number: u64, file: Box<dyn SegmentFile>, prepared: bool) -> Segment {
        Segment { number, file, written: format::HEADER_LEN as u64, prepared }
    }

    /// Writes `bytes` after the segment's records, durably (one write and one sync); notes in
    /// `stalls` how long it took.
    fn write(&mut self, bytes: &[u8], stalls: &mut Stalls) -> io::Result<()> {
        let started = Instant::now();
        let written = self.file.write_at(bytes, self.written).and_then(|()| self.file.sync());
        stalls.note(started.elapsed());
        written
    }
}

/// The next segment, being prepared on a thread of its own.
type Preparing = JoinHandle<io::Result<Box<dyn SegmentFile>>>;

fn start_preparing(shared: &Shared, number: u64) -> Option<Preparing> {
    let (segments, bytes) = (shared.segments.clone(), shared.sizes.segment);
    let spawned = std::thread::Builder::new().name("stoa-journal-prep".into()).spawn(move || begin(&*segments, number, Some(bytes)));
    spawned.map_err(|e| tracing::warn!("cannot start preparing journal segment {number} ({e}); it will grow as written")).ok()
}

fn write_loop(shared: &Shared, file: Box<dyn SegmentFile>, number: u64) {
    let mut segment = Segment::new(number, file, false);
    let mut next = start_preparing(shared, number + 1);
    let mut since_checkpoint = 0u64;
    let mut spare = Vec::new();
    let mut stalls = Stalls::default();
    loop {
        let (bytes, waiting) = {
            let mut state = shared.state();
            while state.buffer.is_empty() && state.waiting.is_empty() && !state.closing {
                state = shared.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            if state.buffer.is_empty() && state.waiting.is_empty() {
                break;
            }
            let bytes = std::mem::replace(&mut state.buffer, std::mem::take(&mut spare));
            (bytes, std::mem::take(&mut state.waiting))
        };
        // After a failed write nothing is durable, ever (the kernel may have dropped the
        // dirty pages): every later batch gets the first failure.
        let written = match shared.failed.get() {
            None if !bytes.is_empty() => segment.write(&bytes, &mut stalls),
            _ => Ok(()),
        };
        {
            let mut state = shared.state();
            state.flushes += u64::from(!bytes.is_empty());
            if let Err(e) = written
                && shared.failed.set(WriteFailed::new(e)).is_ok()
                && let Some(failed) = shared.failed.get()
            {
                tracing::error!(
                    "{failed}; from now on live calls, page moves and new sessions are refused: restart the server after fixing the disk (see docs/HOSTING.md, \"Storage and crashes\")"
                );
            }
        }
        let outcome = shared.failed.get().map_or(Ok(()), Err);
        for done in waiting {
            done(outcome);
        }
        segment.written += bytes.len() as u64;
        since_checkpoint += bytes.len() as u64;
        spare = bytes;
        spare.clear();
        // The next segment once this one is full, or as soon as it is ready if this one grows.
        let full = segment.written >= shared.sizes.segment;
        let ready = !segment.prepared && next.as_ref().is_some_and(|p| p.is_finished());
        if outcome.is_err() || !(full || ready) {
            continue;
        }
        let number = segment.number + 1;
        let opened = match next.take().map(|p| p.join()) {
            Some(Ok(Ok(file))) => Ok((file, true)),
            failed => {
                if let Some(Ok(Err(e))) = failed {
                    tracing::warn!("could not prepare journal segment {number} ({e}); it grows as written");
                }
                begin(&*shared.segments, number, None).map(|f| (f, false))
            }
        };
        match opened {
            Ok((file, prepared)) => {
                segment = Segment::new(number, file, prepared);
                next = start_preparing(shared, number + 1);
                if since_checkpoint >= shared.sizes.checkpoint && shared.checkpoints.start(number) {
                    since_checkpoint = 0;
                }
            }
            Err(e) => tracing::warn!("could not start a new journal segment ({e}); the current one grows"),
        }
    }
    // Not left running past the journal (its folder may go next).
    if let Some(p) = next {
        let _ = p.join();
    }
}

/// The writer's record of slow writes since its last warning.
#[derive(Default)]
struct Stalls {
    warned: Option<Instant>,
    count: u64,
    worst: Duration,
}

impl Stalls {
    /// Notes one write's time; true when it was slow. Warns for the slow ones at most every
    /// [`SLOW_WARN_EVERY`]: a host whose disk stalls should know that every live message
    /// waited for it.
    fn note(&mut self, took: Duration) -> bool {
        if took < SLOW_FSYNC {
            return false;
        }
        self.count += 1;
        self.worst = self.worst.max(took);
        if self.warned.is_none_or(|at| at.elapsed() >= SLOW_WARN_EVERY) {
            tracing::warn!(
                "the disk took up to {} ms to write and fdatasync the live journal ({} time(s) over {} ms since the last such warning); every live message sent meanwhile waited for it (see docs/HOSTING.md, \"Storage and crashes\")",
                self.worst.as_millis(),
                self.count,
                SLOW_FSYNC.as_millis()
            );
            *self = Stalls { warned: Some(Instant::now()), count: 0, worst: Duration::ZERO };
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::segments::mem::Mem;

    #[test]
    fn a_stalled_fsync_is_counted_and_a_fast_one_is_not() {
        let mem = Mem::default();
        let mut segment = Segment::new(1, begin(&mem, 1, None).expect("segment"), false);
        let mut stalls = Stalls::default();
        segment.write(b"fast", &mut stalls).expect("written");
        assert!(stalls.warned.is_none() && stalls.count == 0, "a fast write is not counted");
        mem.stall_next_write(SLOW_FSYNC + Duration::from_millis(20));
        segment.write(b"stalled", &mut stalls).expect("written, late");
        assert!(stalls.warned.is_some(), "the stalled write was counted (and warned of)");
        segment.write(b"fast again", &mut stalls).expect("written");
        assert_eq!((stalls.count, stalls.worst), (0, Duration::ZERO), "a fast write after it is not counted");
    }

    #[test]
    fn stall_warnings_come_at_most_every_interval_and_count_what_they_skipped() {
        let mut stalls = Stalls::default();
        assert!(!stalls.note(Duration::from_millis(1)));
        assert!(stalls.note(SLOW_FSYNC * 2));
        assert!(stalls.warned.is_some(), "the first slow one warns");
        assert!(stalls.note(SLOW_FSYNC * 3));
        assert!(stalls.note(SLOW_FSYNC));
        // Within the interval: counted for the next warning, not warned.
        assert_eq!((stalls.count, stalls.worst), (2, SLOW_FSYNC * 3));
    }
}
