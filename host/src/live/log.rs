//! [`LiveLog`]: the `live` tree, its write-behind cache and the journal, opened together;
//! when a group is written back, and when what was committed is durable.

use std::sync::{Arc, Weak};

use crate::journal::{BoxError, Checkpoint, FirstFailedWrite, Journal, Segments, WaitError};
use crate::live::error::LiveError;
use crate::live::keys::GroupKey;
use crate::live::recovery::{Replay, recover};
use crate::live::usage::SessionBytes;
use crate::live::write_behind::WriteBehind;

/// The journal's checkpoint: every cached call entry written back to sled, then sled flushed —
/// the journal segments it deletes then hold nothing sled lacks.
struct WriteBackAll {
    write_behind: Weak<WriteBehind>,
    db: sled::Db,
}

impl Checkpoint for WriteBackAll {
    fn write_staged(&self) -> Result<(), BoxError> {
        Ok(self.write_behind.upgrade().map_or(Ok(()), |w| w.write_back_all())?)
    }

    fn flush(&self) -> Result<(), BoxError> {
        self.db.flush()?;
        Ok(())
    }
}

/// Every group's live log: where live calls commit ([`LiveLog::commit_call`]) and are read
/// back. Cheap to clone; clones share everything.
#[derive(Clone)]
pub(crate) struct LiveLog {
    /// The `live` tree (keys in [`crate::live::keys`]).
    pub(crate) tree: sled::Tree,
    /// Where live calls become durable without waiting for sled (see [`crate::journal`]).
    pub(crate) journal: Arc<Journal>,
    /// Call entries, field values and markers of committed calls not yet written to `tree`.
    pub(crate) write_behind: Arc<WriteBehind>,
    /// Bytes of each session's log, for the researchers' stored-bytes quota.
    pub(crate) session_bytes: Arc<SessionBytes>,
}

impl LiveLog {
    /// The bytes `session`'s live log holds (see [`SessionBytes`]) plus `others`, the bytes of
    /// its other records, both counted the first time a session is asked about (`others` is
    /// called then only).
    pub(crate) fn session_bytes(&self, session: &str, others: impl FnOnce() -> Result<u64, LiveError>) -> Result<u64, LiveError> {
        self.session_bytes.count(&self.tree, &self.write_behind, session, others)
    }

    /// Opens the `live` tree of `db`. With `journal` (the journal's segments; none for a
    /// temporary store, whose calls need not survive a crash), replays into the tree the
    /// journal's records it lacks and starts the write-back thread; then applies again the
    /// committed calls a crash left unapplied.
    pub(crate) fn open(db: &sled::Db, journal: Option<Arc<dyn Segments>>) -> Result<LiveLog, LiveError> {
        let tree = db.open_tree("live")?;
        let write_back_at_close = journal.is_some();
        let halt = FirstFailedWrite::default();
        let write_behind = Arc::new(WriteBehind::new(tree.clone(), write_back_at_close, halt.clone()));
        let journal = match journal {
            None => Journal::disabled(),
            Some(segments) => {
                let checkpoint = Arc::new(WriteBackAll { write_behind: Arc::downgrade(&write_behind), db: db.clone() });
                let mut replay = Replay::new(&tree);
                let (journal, replayed) = Journal::open(segments.clone(), &mut |k, v| Ok(replay.record(k, v)?), checkpoint, halt)
                    .map_err(|e| LiveError::OpenJournal { journal: segments.to_string(), source: e.into() })?;
                if replayed > 0 {
                    tracing::info!("replayed {replayed} live call record(s) from the journal");
                }
                write_behind.start_thread().map_err(LiveError::WriteBackThread)?;
                journal
            }
        };
        let recovered = recover(&tree)?;
        if recovered > 0 {
            tracing::info!("recovered the effects of {recovered} committed live call(s) after a crash");
        }
        Ok(LiveLog { tree, journal: Arc::new(journal), write_behind, session_bytes: Arc::default() })
    }

    /// Why no live call is taken any more (a journal write failed), if so.
    pub(crate) fn refusal(&self) -> Option<LiveError> {
        self.write_behind.halted().map(|reason| LiveError::Halted(reason.to_string()))
    }

    /// Writes the group's cached call entries, field values and marker to sled; reads see
    /// them either way.
    pub(crate) fn write_back(&self, key: &GroupKey) -> Result<(), LiveError> {
        self.write_behind.write_back(key)
    }

    /// [`LiveLog::write_back`] on the write-back thread (at once without a journal).
    pub(crate) fn write_back_soon(&self, key: &GroupKey) -> Result<(), LiveError> {
        self.write_behind.write_back_soon(key)
    }

    /// [`LiveLog::write_back`] for every group (at shutdown).
    pub(crate) fn write_back_all(&self) -> Result<(), LiveError> {
        self.write_behind.write_back_all()
    }

    /// Returns once every call entry committed so far is on disk (blocks), or with the
    /// journal's reason it cannot be.
    pub(crate) fn wait_durable(&self) -> Result<(), WaitError> {
        self.journal.wait()
    }

    /// Runs `done` (on the journal's thread; it must not block) once every call entry
    /// committed so far is on disk, or with the reason it cannot be.
    pub(crate) fn after_durable(&self, done: crate::journal::Done) {
        self.journal.after(done);
    }

    /// Writes records that are not calls of a group in play — a new session's, written
    /// before anyone can reach it — straight to the `live` tree, in one batch (durable with
    /// the store's next flush, not the journal).
    pub(crate) fn insert_records(&self, records: Records) -> Result<(), LiveError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (k, v) in records {
            batch.insert(k, v);
        }
        Ok(self.tree.apply_batch(batch)?)
    }

    /// The journal's fsyncs so far (which make live calls durable).
    pub(crate) fn flushes(&self) -> u64 {
        self.journal.flushes()
    }
}

/// `live` records as keys and values, for [`LiveLog::insert_records`].
pub(crate) type Records = Vec<(Vec<u8>, Vec<u8>)>;
