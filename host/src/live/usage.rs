//! [`SessionBytes`]: how many bytes each session's live log holds — counted once, by a scan,
//! when first asked, then kept up to date as its calls are logged — for the researchers'
//! stored-bytes quota.
//!
//! An estimate: the count is of call entries as logged (key and JSON; a run of entries in sled
//! is counted as stored), and a call logged while its session is being scanned for the first
//! time may be missed. It is never reset while the server runs.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::live::error::LiveError;
use crate::live::keys::Tag;
use crate::live::write_behind::WriteBehind;

/// Bytes of each session's live log, by session code: only sessions counted once are kept up
/// to date (the others are counted whole when first asked).
#[derive(Default)]
pub(crate) struct SessionBytes {
    /// A std mutex: held for one addition, never across a scan.
    counted: Mutex<HashMap<String, u64>>,
}

impl SessionBytes {
    /// Adds a logged entry's `bytes` to `session`'s count, if it has one.
    pub(crate) fn add(&self, session: &str, bytes: usize) {
        if let Some(count) = self.counted.lock().unwrap_or_else(PoisonError::into_inner).get_mut(session) {
            *count += bytes as u64;
        }
    }
}

impl SessionBytes {
    /// The bytes `session`'s live log holds — its entries in `tree` and those `write_behind`
    /// still holds — plus `others`, the bytes of its other records, both counted the first
    /// time a session is asked about (`others` is called then only).
    pub(crate) fn count(
        &self,
        tree: &sled::Tree,
        write_behind: &WriteBehind,
        session: &str,
        others: impl FnOnce() -> Result<u64, LiveError>,
    ) -> Result<u64, LiveError> {
        let counted = || self.counted.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(&bytes) = counted().get(session) {
            return Ok(bytes);
        }
        let mut prefix = Tag::Call.with_body(session.as_bytes());
        prefix.push(0);
        let mut bytes = others()?;
        for kv in tree.scan_prefix(&prefix) {
            let (k, v) = kv?;
            bytes += (k.len() + v.len()) as u64;
        }
        bytes += write_behind.pending_entry_bytes(session);
        Ok(*counted().entry(session.to_string()).or_insert(bytes))
    }
}
