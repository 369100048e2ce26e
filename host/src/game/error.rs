//! Why a game could not be loaded ([`LoadError`]) and why a call into it produced nothing
//! ([`CallError`]).

use std::time::Duration;

use crate::manifest::ManifestError;
use crate::store::StoreError;

/// Why a game could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The manifest is bad.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The component could not be read, compiled or linked.
    #[error("failed to load game `{game}`: {reason}")]
    Component { game: String, reason: String },
}

/// Why a call produced nothing. `Display` is the text the sender sees.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The game's own `err`.
    #[error("{0}")]
    Refused(String),
    /// The payload was not JSON, or the player not in the group.
    #[error("{0}")]
    BadInput(String),
    /// The call ran past its deadline.
    #[error("the game ran past its deadline of {} ms", .0.as_millis())]
    Deadline(Duration),
    /// The game grew memory past its cap.
    #[error("the game went over its memory limit of {} MiB", .0 >> 20)]
    Memory(u64),
    /// The game trapped (panic, abort, stack overflow...).
    #[error("the game crashed: {0}")]
    Trap(String),
    /// What the game routed broke a rule (too much, bad recipient, not JSON).
    #[error("the game's reply was refused: {0}")]
    Output(String),
    /// The host failed (storage).
    #[error("host error: {0}")]
    Host(String),
}

impl From<StoreError> for CallError {
    fn from(e: StoreError) -> Self {
        CallError::Host(e.to_string())
    }
}
