//! The write-behind cache: call entries and field values of committed calls, durable in the
//! journal, waiting in memory to be written back to the `live` tree, many calls at once, on a
//! thread of their own (so no call waits for sled).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::live::entry::{CallRecord, FieldWrites};
use crate::live::error::LiveError;
use crate::live::keys::{GroupKey, Tag, numbered};

/// Most bytes of entries in one `live` value. sled splits a leaf past 16 keys and writes a
/// node above 128 KiB (a quarter of its 512 KiB segment) as a file of its own: runs of up to
/// 4 KiB keep a leaf of them at most 64 KiB.
pub(crate) const RUN_BYTES: usize = 4 << 10;

/// A group is written back after about this many calls in the cache ([`write_back_calls`])...
const WRITE_BACK_CALLS: u32 = 64;
/// ...or once values of this many bytes were staged since it was last written back (a field
/// written twice counts twice).
const WRITE_BACK_BYTES: usize = 256 << 10;

/// How many calls in the cache make `group` written back: between half and one and a half
/// times [`WRITE_BACK_CALLS`], fixed per group by its key. Groups that play in step (as a
/// lab's do, or a load test's) would otherwise all reach the same count at once and be
/// written back in one burst every few seconds — the write-back thread, sled and the disk
/// then busy for a moment while the live calls wait for the cores and the journal's writes;
/// spread, the same writes are even.
pub(crate) fn write_back_calls(group: &GroupKey) -> u32 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    group.hash(&mut h);
    WRITE_BACK_CALLS / 2 + (h.finish() % u64::from(WRITE_BACK_CALLS)) as u32
}

/// Call entries and field values of committed calls not yet written to the `live` tree, per
/// group (see [`crate::live`]). Dropping it (with the last clone of its log) writes back every
/// group.
pub(crate) struct WriteBehind {
    live: sled::Tree,
    groups: Mutex<HashMap<GroupKey, Pending>>,
    /// One write-back at a time, so an older copy is never written over a newer one.
    writing: Mutex<()>,
    /// Whether dropping writes back every group (not for a temporary store).
    write_back_at_close: bool,
    /// The write-back thread's queue, when there is one (else groups are written back on the
    /// caller).
    thread: Mutex<Option<std::sync::mpsc::Sender<GroupKey>>>,
    /// Set once a journal write failed (see [`crate::journal::Halt`]): what is staged may
    /// include calls whose senders were told they failed, and the durable ones are in the
    /// journal, which the next open replays. So nothing more is written to sled (not even at
    /// close) and no call is staged.
    halt: crate::journal::FirstFailedWrite,
}

#[derive(Default)]
struct Pending {
    /// `live` key → value, the latest of each.
    records: HashMap<Vec<u8>, sled::IVec>,
    /// Call entries not yet in the `live` tree, by call number (durable in the journal).
    entries: BTreeMap<u64, sled::IVec>,
    /// The last call staged.
    marker: u64,
    /// Stages so far: a write-back removes the group only if nothing was staged meanwhile.
    version: u64,
    calls: u32,
    bytes: usize,
    /// Whether the group is in the write-back thread's queue.
    requested: bool,
}

impl WriteBehind {
    pub(crate) fn new(live: sled::Tree, write_back_at_close: bool, halt: crate::journal::FirstFailedWrite) -> WriteBehind {
        WriteBehind { live, groups: Mutex::new(HashMap::new()), writing: Mutex::new(()), write_back_at_close, thread: Mutex::new(None), halt }
    }

    /// Starts the thread that writes back the groups given to [`WriteBehind::write_back_soon`]:
    /// then no caller waits for sled's writes (which wait for the disk when it is busy).
    pub(crate) fn start_thread(self: &Arc<Self>) -> std::io::Result<()> {
        let (tx, rx) = std::sync::mpsc::channel::<GroupKey>();
        let weak = Arc::downgrade(self);
        std::thread::Builder::new().name("stoa-write-back".into()).spawn(move || {
            while let Ok(key) = rx.recv() {
                let Some(cache) = weak.upgrade() else { return };
                if let Err(e) = cache.write_back(&key) {
                    // Nothing is lost: the values stay in memory and the entries in the journal.
                    tracing::warn!(%key, "could not write a group's cached values back to sled: {e}");
                }
            }
        })?;
        *self.thread.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tx);
        Ok(())
    }

    /// The reason a journal write failed, once one did.
    pub(crate) fn halted(&self) -> Option<&crate::journal::WriteFailed> {
        self.halt.get()
    }

    /// Writes back `group` on the write-back thread, or here when there is none.
    pub(crate) fn write_back_soon(&self, group: &GroupKey) -> Result<(), LiveError> {
        let queued = {
            let thread = self.thread.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            thread.as_ref().is_some_and(|tx| tx.send(group.clone()).is_ok())
        };
        if queued { Ok(()) } else { self.write_back(group) }
    }

    /// Bytes (keys and values) of the call entries of `session`'s groups not yet in sled.
    pub(crate) fn pending_entry_bytes(&self, session: &str) -> u64 {
        let groups = self.groups();
        let pending = groups.iter().filter(|(group, _)| group.session == session);
        pending.map(|(group, p)| p.entries.values().map(|v| (group.call(0).len() + v.len()) as u64).sum::<u64>()).sum()
    }

    /// The call entries of `group` not yet in sled, oldest first.
    pub(crate) fn entries(&self, group: &GroupKey) -> Vec<(u64, sled::IVec)> {
        self.groups().get(group).map(|p| p.entries.iter().map(|(c, v)| (*c, v.clone())).collect()).unwrap_or_default()
    }

    fn groups(&self) -> std::sync::MutexGuard<'_, HashMap<GroupKey, Pending>> {
        // The map stays consistent even if a holder panicked: every update is one insert.
        self.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached value of `key` in `group`, if any.
    pub(crate) fn get(&self, group: &GroupKey, key: &[u8]) -> Option<sled::IVec> {
        self.groups().get(group)?.records.get(key).cloned()
    }

    /// Stages call `call`'s entry and writes; true when the group should be written back now
    /// (once, until it has been).
    /// A failed call (`applied` false) leaves the group's marker where it was.
    pub(crate) fn stage(&self, group: &GroupKey, call: u64, entry: sled::IVec, writes: &FieldWrites, applied: bool) -> bool {
        let mut groups = self.groups();
        let pending = match groups.get_mut(group) {
            Some(p) => p,
            None => groups.entry(group.clone()).or_default(),
        };
        pending.bytes += entry.len();
        pending.entries.insert(call, entry);
        for (key, value) in writes.records(group) {
            pending.bytes += value.get().len();
            pending.records.insert(key, sled::IVec::from(value.get().as_bytes()));
        }
        if applied {
            pending.marker = call;
        }
        pending.version += 1;
        pending.calls += 1;
        let due = pending.calls >= write_back_calls(group) || pending.bytes >= WRITE_BACK_BYTES;
        due && !std::mem::replace(&mut pending.requested, true)
    }

    /// Writes the group's cached call entries (as runs), field values and marker to sled.
    pub(crate) fn write_back(&self, group: &GroupKey) -> Result<(), LiveError> {
        // Written from a copy, and removed only once written, so a reader meanwhile sees the
        // cached value or the same value in sled, never an older one. Entries go first, the
        // marker last: sled keeps its writes in order, so a marker that survives a crash
        // comes with everything before it.
        let _one = self.writing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.halt.get().is_some() {
            return Ok(());
        }
        let copy = self.groups().get_mut(group).map(|p| {
            p.requested = false;
            let records: Vec<(Vec<u8>, sled::IVec)> = p.records.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let entries: Vec<(u64, sled::IVec)> = p.entries.iter().map(|(c, v)| (*c, v.clone())).collect();
            (records, entries, p.marker, p.version)
        });
        let Some((records, entries, marker, version)) = copy else {
            return Ok(());
        };
        let prefix = group.prefix(Tag::Call);
        for run in runs(&entries) {
            if let Some((last, _)) = run.last() {
                self.live.insert(numbered(&prefix, *last), CallRecord::run(run))?;
            }
        }
        for (key, value) in records {
            self.live.insert(key, value)?;
        }
        if marker > 0 {
            self.live.insert(group.marker(), &marker.to_be_bytes())?;
        }
        let mut groups = self.groups();
        if let Some(p) = groups.get_mut(group) {
            if p.version == version {
                groups.remove(group);
            } else if let Some((last, _)) = entries.last() {
                // Calls staged meanwhile stay; the entries written leave memory.
                p.entries = p.entries.split_off(&(last + 1));
            }
        }
        Ok(())
    }

    /// What a crash does to the cache: it is gone.
    #[cfg(test)]
    pub(crate) fn forget(&self) {
        self.groups().clear();
    }

    /// [`WriteBehind::write_back`] for every group in the cache.
    pub(crate) fn write_back_all(&self) -> Result<(), LiveError> {
        let keys: Vec<GroupKey> = self.groups().keys().cloned().collect();
        keys.iter().try_for_each(|k| self.write_back(k))
    }
}

impl Drop for WriteBehind {
    fn drop(&mut self) {
        if !self.write_back_at_close {
            return;
        }
        if let Err(e) = self.write_back_all() {
            // Nothing is lost: the next open re-applies the calls from their entries.
            tracing::warn!("could not write field values back at close ({e}); the next start recovers them from the log");
        }
    }
}

/// Consecutive entries, split into runs of at most [`RUN_BYTES`] (an entry longer than that
/// makes a run alone).
fn runs(entries: &[(u64, sled::IVec)]) -> impl Iterator<Item = &[(u64, sled::IVec)]> {
    let mut rest = entries;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let n = rest.iter().take_while(|(_, v)| {
            bytes += v.len() + 1;
            bytes <= RUN_BYTES
        });
        let n = n.count().max(1);
        let (run, after) = rest.split_at(n);
        rest = after;
        Some(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_written_back_after_different_counts_around_write_back_calls() {
        let counts: std::collections::BTreeSet<u32> =
            (1..=200).map(|g| write_back_calls(&GroupKey { session: "s1".into(), round: 1, group: g })).collect();
        assert!(counts.iter().all(|c| (WRITE_BACK_CALLS / 2..WRITE_BACK_CALLS * 3 / 2).contains(c)), "{counts:?}");
        assert!(counts.len() > 40, "200 groups in step would settle together: {counts:?}");
    }
}
