//! One group's live log, and how a live call commits atomically.
//!
//! A live call commits with one record, its [`CallEntry`]: every call has one, succeeded or
//! failed, and a successful call's entry holds its field writes and its messages with their
//! seqs (replay reads them from there). `LiveLog::commit_call` appends the entry to the
//! journal, which makes it durable (`crate::journal`); nothing else is written on the call's
//! path, so no call waits for sled.
//!
//! The entries, their field values and the group's marker (the last call applied) reach the
//! `live` tree (`keys` has its key scheme) later. They wait in the write-behind cache
//! (`write_behind`), where every read of a field or of the log looks first, and are written
//! back once for many calls, on a thread of their own: when the group has cached a few dozen
//! calls or 256 KiB of values, when its owner says so (`LiveLog::write_back`: when a group
//! goes idle), at a journal checkpoint, and when the log is dropped (unless it is a temporary
//! one, as bot runs use). A field written by ten calls in a row is then written to sled once,
//! and the entries go as runs, one sled record for many calls (`entry::CallRecord`), since
//! sled's inserts cost per record.
//!
//! When the log is opened after a crash, the journal's entries that sled lacks are inserted
//! into sled again (`recovery::Replay`), then every entry past its group's marker is applied
//! again, in order (applying is idempotent): a call either happened entirely or not at all.
//! This is as atomic as a sled batch, and cheaper: sled rolls and writes its IO buffer for
//! every batch, with several thread hand-offs per call. A failed call writes only its entry,
//! with the reason, and leaves the marker where it was.

mod commit;
mod entry;
mod error;
pub(crate) mod keys;
mod log;
mod read;
mod recovery;
mod usage;
pub(crate) mod write_behind;

#[cfg(test)]
mod tests;

pub use entry::{CallEntry, FieldWrites, Payload};
pub use error::LiveError;
pub use keys::GroupKey;
pub(crate) use log::{LiveLog, Records};

/// A group's log position, owned by whoever serializes the group's calls.
#[derive(Debug, Clone)]
pub struct Group {
    /// Which group.
    pub key: GroupKey,
    /// Players in the group.
    pub players: u32,
    /// The seq the next routed message gets.
    pub next_seq: u64,
    /// The number the next call entry gets.
    pub next_call: u64,
}

/// A message as routed: its seq, recipient (0 = whole group) and JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// Position in the group's message sequence.
    pub seq: u64,
    /// id in group, or 0 for everyone.
    pub to: u32,
    /// The payload, JSON text.
    pub payload: String,
}

impl Routed {
    /// Whether the player `id_in_group` receives this message.
    pub fn reaches(&self, id_in_group: u32) -> bool {
        self.to == 0 || self.to == id_in_group
    }

    /// The server frame `{"seq": N, "data": P}`.
    pub fn frame(&self) -> String {
        format!("{{\"seq\":{},\"data\":{}}}", self.seq, self.payload)
    }
}
