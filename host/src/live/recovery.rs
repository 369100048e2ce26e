//! Recovery after a crash: the journal's records written to sled again ([`Replay`]), then the
//! effects of committed calls applied again ([`recover`]).

use std::collections::HashMap;

use crate::live::entry::{CallEntry, CallRecord};
use crate::live::error::LiveError;
use crate::live::keys::{GroupKey, Tag, numbered, split_call};

/// Writes the journal's records to `live` when the log opens after a crash, except call
/// entries sled holds already: the group may have written them back, as part of a run,
/// before the crash — inserting them again, alone, would list those calls twice.
pub(crate) struct Replay<'a> {
    live: &'a sled::Tree,
    /// The run of calls in sled found last, per group prefix: (first, last) call.
    found: HashMap<Vec<u8>, (u64, u64)>,
}

impl<'a> Replay<'a> {
    /// Replays into `live`.
    pub(crate) fn new(live: &'a sled::Tree) -> Replay<'a> {
        Replay { live, found: HashMap::new() }
    }

    /// Writes one journal record, unless it is a call entry sled holds.
    pub(crate) fn record(&mut self, key: &[u8], value: &[u8]) -> sled::Result<()> {
        if let Some((prefix, call)) = split_call(key) {
            let held = |&(first, last): &(u64, u64)| first <= call && call <= last;
            if self.found.get(prefix).is_some_and(held) {
                return Ok(());
            }
            // The first value at or after this call in the group: a run holding it, if any.
            if let Some((k, v)) = self.live.range(key..=numbered(prefix, u64::MAX).as_slice()).next().transpose()?
                && let (Some((_, last)), Some(n @ 1..)) = (split_call(&k), CallRecord::of(&v).count())
            {
                let run = (last.saturating_sub(n - 1), last);
                self.found.insert(prefix.to_vec(), run);
                if held(&run) {
                    return Ok(());
                }
            }
        }
        self.live.insert(key, value).map(|_| ())
    }
}

/// Applies again every successful call entry past its group's marker: the effects of calls
/// whose commit record reached the disk before a crash but whose derived records did not.
/// Returns how many entries were applied.
pub(crate) fn recover(tree: &sled::Tree) -> Result<usize, LiveError> {
    let mut applied = 0;
    let mut current: Option<(Vec<u8>, u64)> = None;
    for kv in tree.scan_prefix([Tag::Call.byte()]) {
        let (k, v) = kv?;
        // The value's last call: a value wholly at or below the marker is applied already.
        let Some((prefix, last)) = split_call(&k) else { continue };
        let body = &prefix[1..];
        if current.as_ref().is_none_or(|(b, _)| b.as_slice() != body) {
            let marker_key = Tag::Applied.with_body(body);
            let marker = tree.get(&marker_key)?.and_then(|m| m.as_ref().try_into().ok()).map(u64::from_be_bytes).unwrap_or(0);
            current = Some((body.to_vec(), marker));
        }
        let marker = current.as_ref().map(|(_, m)| *m).unwrap_or(0);
        if last <= marker {
            continue;
        }
        let entries = CallRecord::of(&v).entries(&k)?;
        let mut due = entries.iter().filter(|e| e.call > marker && e.error.is_none()).peekable();
        if due.peek().is_none() {
            continue;
        }
        let key = GroupKey::from_body(body)
            .ok_or_else(|| LiveError::Corrupt { key: String::from_utf8_lossy(&k).into_owned(), reason: "malformed group key".into() })?;
        for entry in due {
            materialize(tree, &key, entry)?;
            applied += 1;
        }
    }
    Ok(applied)
}

/// Writes what a committed call entry implies: field values and the group's marker.
/// Idempotent, so recovery may apply an entry again.
fn materialize(tree: &sled::Tree, key: &GroupKey, entry: &CallEntry) -> Result<(), LiveError> {
    for (field, value) in entry.writes.records(key) {
        tree.insert(field, value.get().as_bytes())?;
    }
    tree.insert(key.marker(), &entry.call.to_be_bytes())?;
    Ok(())
}
