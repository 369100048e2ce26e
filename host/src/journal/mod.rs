//! The live journal: where a live call becomes durable.
//!
//! A live call's commit record (its `C` entry in the `live` tree) is appended here; it reaches
//! sled later, with the group's field values, on the store's settler thread. No live call waits
//! for sled: its writes wait for a busy disk, its flush is shared by every tree, and its IO
//! threads all wake for every buffer it writes. One writer thread ([`writer`]) writes
//! everything appended while its previous write ran in one durable write, then runs the
//! callbacks waiting for those records ([`Journal::after`]). The caller never waits: a group's
//! actor hands its batch over and goes on with the next, and its messages are routed by the
//! callback once they are on disk.
//!
//! The records go into numbered segments ([`format`]) kept by [`Segments`]: files in a folder
//! ([`Fs`]), or memory in tests. Segments are written as zeros ahead of use, so a write syncs
//! the records alone. Every [`writer::CHECKPOINT_BYTES`] a checkpoint ([`checkpoint`]) has the
//! store write and flush what it holds, then deletes the older segments. At open every record
//! is handed to the store again (which writes those it lacks); then the store is flushed and
//! the segments deleted. A torn or corrupt record ends the replay only at the end of the
//! journal (the last segment holding records, where a crash mid-write tears one); one followed
//! by more segments holding records refuses the open ([`OpenError::Corrupt`]), deleting nothing.
//!
//! After a failed write nothing appended is acknowledged again until the server restarts
//! ([`FirstFailedWrite`]). The journal knows nothing of the rest of Stoa: the store gives it
//! its segments, a replay callback and a [`Checkpoint`].

mod checkpoint;
mod error;
mod format;
mod segments;
#[cfg(test)]
mod tests;
mod writer;

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

pub(crate) use checkpoint::{Checkpoint, NothingElse};
pub(crate) use error::{BoxError, FirstFailedWrite, OpenError, WaitError, WriteFailed};
pub(crate) use format::TooLong;
#[cfg(test)]
pub(crate) use segments::mem;
pub(crate) use segments::{Fs, Segments};
#[cfg(test)]
pub(crate) use tests::retry_while_locked;
pub(crate) use writer::Done;

use checkpoint::Checkpoints;
use writer::{Shared, Sizes};

/// Given each record found at open, to write it to the store.
pub(crate) type ReplayRecord<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), BoxError> + 'a;

/// The journal of a store; disabled (callbacks run at once) for temporary stores.
pub(crate) struct Journal {
    shared: Option<Arc<Shared>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Journal {
    /// A journal that keeps nothing: callbacks run at once (temporary stores).
    pub(crate) fn disabled() -> Journal {
        Journal { shared: None, writer: Mutex::new(None) }
    }

    /// Opens the journal in `segments`: hands every record found to `replay` (which writes it
    /// to the store), then — once `store` holds them durably — deletes the old segments and
    /// starts the writer on a new one. Its first failed write goes to `failed`. Returns the
    /// journal and how many records were replayed.
    pub(crate) fn open(
        segments: Arc<dyn Segments>,
        replay: &mut ReplayRecord,
        store: Arc<dyn Checkpoint>,
        failed: FirstFailedWrite,
    ) -> Result<(Journal, usize), OpenError> {
        Journal::open_with(segments, replay, store, failed, Sizes::DEFAULT)
    }

    fn open_with(
        segments: Arc<dyn Segments>,
        replay: &mut ReplayRecord,
        store: Arc<dyn Checkpoint>,
        failed: FirstFailedWrite,
        sizes: Sizes,
    ) -> Result<(Journal, usize), OpenError> {
        let old = segments.list()?;
        let mut replayed = 0;
        // The first torn or corrupt record, and its segment: a crash mid-write leaves one only
        // at the end of the journal, so any record (or damage) in a later segment means the
        // damage is not a torn tail, and the journal is refused whole (nothing deleted).
        let mut torn: Option<(u64, format::Corruption)> = None;
        for &number in &old {
            let bytes = segments.read(number)?;
            let contents = format::read(&bytes).map_err(|unknown| OpenError::Format { segment: number, unknown })?;
            if let Some((damaged, corruption)) = torn
                && (!contents.records.is_empty() || contents.corruption.is_some())
            {
                let path = |n| format!("{segments}/{}", format::file_name(n));
                return Err(OpenError::Corrupt { segment: path(damaged), corruption, later: path(number) });
            }
            for (key, value) in &contents.records {
                replay(key, value).map_err(OpenError::Store)?;
            }
            replayed += contents.records.len();
            if let Some(corruption) = contents.corruption {
                torn = Some((number, corruption));
            }
        }
        if let Some((number, corruption)) = torn {
            tracing::warn!(
                "journal segment {segments}/{} ends in {corruption} (a crash mid-write): the records before it were kept, the rest of it was never acknowledged",
                format::file_name(number),
            );
        }
        let next = old.last().map_or(1, |n| n + 1);
        store.flush().map_err(OpenError::Store)?;
        for &number in &old {
            segments.remove(number)?;
        }
        let checkpoints = Checkpoints::new(store, segments.clone());
        let shared = Arc::new(Shared::new(segments, checkpoints, failed, sizes));
        let writer = writer::start(&shared, next)?;
        Ok((Journal { shared: Some(shared), writer: Mutex::new(Some(writer)) }, replayed))
    }

    /// Appends a record; it is on disk once a callback given to [`Journal::after`] later runs.
    /// A record too long for the format is refused, and nothing is appended (on a disabled
    /// journal too, so a temporary store refuses what a server's would).
    pub(crate) fn append(&self, key: &[u8], value: &[u8]) -> Result<(), TooLong> {
        format::lengths(key.len(), value.len())?;
        let mut appended = Ok(());
        if let Some(shared) = &self.shared {
            shared.queue(|state| appended = format::encode(&mut state.buffer, key, value));
        }
        appended
    }

    /// Runs `done` on the writer thread once everything appended so far is on disk. Callbacks
    /// run in the order they were given.
    pub(crate) fn after(&self, done: Done) {
        match &self.shared {
            None => done(Ok(())),
            Some(shared) => shared.queue(|state| state.waiting.push(done)),
        }
    }

    /// Returns once everything appended so far is on disk (blocks: never call it from a
    /// callback given to [`Journal::after`]), or with the reason it cannot be.
    pub(crate) fn wait(&self) -> Result<(), WaitError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.after(Box::new(move |r| {
            let _ = tx.send(r.map_err(|failed| WaitError::Failed(failed.clone())));
        }));
        rx.recv().unwrap_or(Err(WaitError::Stopped))
    }

    /// Writes (each with its sync) the writer has run so far.
    pub(crate) fn flushes(&self) -> u64 {
        self.shared.as_ref().map_or(0, |s| s.state().flushes)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.close();
        }
        // The last handle may go in one of the writer's own callbacks (one holding the
        // store): then it ends by itself once it returns, and joining it would deadlock.
        if let Some(writer) = self.writer.get_mut().unwrap_or_else(PoisonError::into_inner).take()
            && writer.thread().id() != std::thread::current().id()
        {
            let _ = writer.join();
        }
        if let Some(shared) = &self.shared {
            shared.checkpoints.join();
        }
    }
}
