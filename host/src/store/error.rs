//! [`StoreError`]: why the store could not read, write or make durable.

use crate::live::LiveError;
use crate::store::flush::FlushError;

/// A storage failure. Nothing a client or a game sends can cause one; the disk can.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported an error.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record could not be decoded.
    #[error("corrupt record `{key}`: {reason}")]
    Corrupt { key: String, reason: String },
    /// What was written could not be made durable.
    #[error("{0}")]
    Flush(#[from] FlushError),
    /// The live log failed (see [`crate::live`]).
    #[error(transparent)]
    Live(#[from] LiveError),
    /// A journal write failed: nothing more is made durable, so no new work that writes (a
    /// session, a page move) is taken until the server restarts. The text says why.
    #[error("{0}")]
    Halted(String),
    /// A request the store cannot satisfy (bad participant count...).
    #[error("{0}")]
    Invalid(String),
}
