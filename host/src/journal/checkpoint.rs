//! Checkpoints: once the store holds every record of the older segments durably, they go.
//!
//! The journal's records are also written, later, to the store behind it (sled, for Stoa's
//! store). A checkpoint asks the store ([`Checkpoint`]) to write whatever of them it holds only
//! in memory and to flush, then deletes the segments before the one in use. It runs on a thread
//! of its own ([`Checkpoints`]), one at a time, so the writer never waits for the store.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use super::error::BoxError;
use super::segments::Segments;

/// What a checkpoint asks of the store behind the journal.
pub(crate) trait Checkpoint: Send + Sync {
    /// Writes to the store whatever of the journal's records it holds only in memory.
    fn write_staged(&self) -> Result<(), BoxError>;

    /// Makes everything written to the store durable.
    fn flush(&self) -> Result<(), BoxError>;
}

/// A journal whose records nothing else keeps (the durable echo): a checkpoint only deletes
/// the older segments.
pub(crate) struct NothingElse;

impl Checkpoint for NothingElse {
    fn write_staged(&self) -> Result<(), BoxError> {
        Ok(())
    }

    fn flush(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// The checkpoints of one journal.
pub(super) struct Checkpoints {
    store: Arc<dyn Checkpoint>,
    segments: Arc<dyn Segments>,
    /// The checkpoint thread last started: one at a time, joined when the journal is dropped
    /// (it holds the store, which one opened again in the same process must be able to lock).
    running: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpoints {
    /// Checkpoints asking `store`, deleting from `segments`.
    pub(super) fn new(store: Arc<dyn Checkpoint>, segments: Arc<dyn Segments>) -> Checkpoints {
        Checkpoints { store, segments, running: Mutex::new(None) }
    }

    /// Starts a checkpoint of the segments before `current`. Returns false when the previous
    /// one is still running (the next segment tries again).
    pub(super) fn start(&self, current: u64) -> bool {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.as_ref().is_some_and(|t| !t.is_finished()) {
            return false;
        }
        let (store, segments) = (self.store.clone(), self.segments.clone());
        let spawned = std::thread::Builder::new().name("stoa-checkpoint".into()).spawn(move || run(&*store, &*segments, current));
        match spawned {
            Ok(thread) => {
                if let Some(done) = running.replace(thread) {
                    let _ = done.join();
                }
                true
            }
            Err(e) => {
                tracing::warn!("checkpoint: cannot start its thread ({e}); the journal keeps its segments");
                false
            }
        }
    }

    /// Waits for the checkpoint running, if one is.
    pub(super) fn join(&self) {
        if let Some(running) = self.running.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = running.join();
        }
    }
}

/// Writes staged records to the store, flushes it and deletes the segments before `current`:
/// after that the store holds every record of those segments durably.
fn run(store: &dyn Checkpoint, segments: &dyn Segments, current: u64) {
    if let Err(e) = store.write_staged() {
        return tracing::warn!("checkpoint: could not write staged entries to sled ({e}); the journal keeps its segments");
    }
    if let Err(e) = store.flush() {
        return tracing::warn!("checkpoint: sled flush failed ({e}); the journal keeps its segments");
    }
    match segments.list() {
        Ok(found) => {
            for n in found.into_iter().filter(|n| *n < current) {
                if let Err(e) = segments.remove(n) {
                    tracing::warn!("checkpoint: cannot delete journal segment {n}: {e}");
                }
            }
        }
        Err(e) => tracing::warn!("checkpoint: cannot list the journal: {e}"),
    }
}
