//! The journal's errors: a failed write (and the cell that keeps the first one), a wait that
//! cannot end in durability, an open that cannot replay.

use std::sync::{Arc, OnceLock};

use super::format::{Corruption, UnknownVersion};

/// An error of the store the journal hands its records to (replay, checkpoints), as it
/// reported it: the journal only passes it on.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A write of the journal failed: what it held, and everything appended after it, is not
/// durable (the kernel may have dropped the dirty pages, so no later write can be trusted).
#[derive(Clone, Debug, thiserror::Error)]
#[error("the live journal failed to write: {0}")]
pub(crate) struct WriteFailed(Arc<std::io::Error>);

impl WriteFailed {
    /// The failure of a write that failed with `error`.
    pub(crate) fn new(error: std::io::Error) -> WriteFailed {
        WriteFailed(Arc::new(error))
    }
}

/// The journal's first failed write, once there was one: from then on nothing appended is
/// acknowledged, and the store, which holds the cell too, neither takes new calls nor writes
/// staged values to sled. Set by the writer before it runs the callbacks of the failed write.
pub(crate) type FirstFailedWrite = Arc<OnceLock<WriteFailed>>;

/// Why [`super::Journal::wait`] returned without everything on disk.
#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum WaitError {
    /// A write failed (this one or an earlier one).
    #[error(transparent)]
    Failed(#[from] WriteFailed),
    /// The writer thread is gone.
    #[error("the live journal's writer has stopped")]
    Stopped,
}

/// Why the journal could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// A segment could not be listed, read, created or deleted, or the writer not started.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A segment in a format this server does not know.
    #[error("journal segment {segment} is in {unknown}")]
    Format {
        segment: u64,
        #[source]
        unknown: UnknownVersion,
    },
    /// A torn or corrupt record with more records after it, in a later segment: not what a
    /// crash mid-write leaves (it tears only the end), so replaying past it would lose
    /// acknowledged calls. The server does not start; no segment was deleted.
    #[error(
        "journal segment {segment} has {corruption}, and {later} after it holds more: this is damage, not a crash mid-write, so nothing was replayed past it or deleted (see docs/HOSTING.md, \"Storage and crashes\")"
    )]
    Corrupt {
        /// The damaged segment's path.
        segment: String,
        /// What is wrong, and at which byte of it.
        corruption: Corruption,
        /// The first later segment holding records.
        later: String,
    },
    /// The store could not take a replayed record, or make them durable.
    #[error("{0}")]
    Store(BoxError),
}
