//! [`LiveError`]: why the live log could not commit, read or write back.

/// A failure of the live log. Nothing a client or a game sends causes one (but an entry too
/// long for the journal); the disk can.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// sled reported an error.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record could not be decoded.
    #[error("corrupt record `{key}`: {reason}")]
    Corrupt {
        /// The record's key, or which group and call.
        key: String,
        /// What did not decode.
        reason: String,
    },
    /// A payload to log was not JSON.
    #[error("not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// A journal write failed (its reason): nothing committed since is durable, so no call,
    /// page move or session is taken until a restart replays the journal.
    #[error("{0}; restart the server after fixing the disk")]
    Halted(String),
    /// A call entry too long for the journal's format: the call is refused, nothing of it
    /// appended.
    #[error("{0}")]
    TooLong(String),
    /// The journal could not be opened (or replayed).
    #[error("cannot open the live journal in `{journal}`: {source}")]
    OpenJournal {
        /// Where the journal is (its folder).
        journal: String,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The write-back thread could not be started.
    #[error("cannot start the thread that writes settled values: {0}")]
    WriteBackThread(std::io::Error),
}
