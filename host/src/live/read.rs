//! Reading a group's log back: its position ([`LiveLog::group`]), its messages (for a socket's
//! replay), its calls and its field values — the write-behind cache first, then sled.

use crate::live::entry::CallEntry;
use crate::live::entry::CallRecord;
use crate::live::error::LiveError;
use crate::live::keys::{GroupKey, Tag, numbered, split_call};
use crate::live::log::LiveLog;
use crate::live::{Group, Routed};

/// The most call entries a socket's replay reads back from the end of its group's log.
pub(crate) const MAX_REPLAY_SCAN: usize = 10_000;

impl LiveLog {
    /// The group's log position, read from the log's last entries.
    pub(crate) fn group(&self, key: GroupKey, players: u32) -> Result<Group, LiveError> {
        let next_call = self.entries_newest_first(&key).next().transpose()?.map_or(0, |e| e.call) + 1;
        let next_seq = self.entries_routing_after(&key, 0, true, None)?.first().and_then(|e| e.seqs).map_or(1, |(_, last)| last + 1);
        Ok(Group { key, players, next_seq, next_call })
    }

    /// The messages that reached `id_in_group` (directly or by broadcast) with seq > `after`, in
    /// order; with `page`, only those routed by calls made on that page. Reads at most [`MAX_REPLAY_SCAN`] of the group's last entries: a replay's work does not
    /// grow with a run of calls that routed nothing (a flood of refused calls).
    pub(crate) fn messages_after(&self, key: &GroupKey, id_in_group: u32, page: Option<&str>, after: u64) -> Result<Vec<Routed>, LiveError> {
        self.scan_messages(key, after, Some(id_in_group), page, Some(MAX_REPLAY_SCAN))
    }

    /// Every routed message of a group, in seq order.
    pub(crate) fn messages(&self, key: &GroupKey) -> Result<Vec<Routed>, LiveError> {
        self.scan_messages(key, 0, None, None, None)
    }

    /// Every call entry of a group, in order.
    pub(crate) fn calls(&self, key: &GroupKey) -> Result<Vec<CallEntry>, LiveError> {
        let mut entries = self.entries_newest_first(key).collect::<Result<Vec<CallEntry>, LiveError>>()?;
        entries.reverse();
        Ok(entries)
    }

    /// The group's newest call entry, if any.
    pub(crate) fn last_call(&self, key: &GroupKey) -> Result<Option<CallEntry>, LiveError> {
        self.entries_newest_first(key).next().transpose()
    }

    /// Every group of `session` with call entries in the `live` tree, in key order (round,
    /// then group: each round's group 0 first). Entries still in the write-behind cache are
    /// not seen: a store opened afresh holds every entry in the tree.
    pub(crate) fn logged_groups(&self, session: &str) -> Result<Vec<GroupKey>, LiveError> {
        let mut prefix = vec![Tag::Call.byte()];
        prefix.extend_from_slice(session.as_bytes());
        prefix.push(0);
        let mut groups: Vec<GroupKey> = Vec::new();
        for kv in self.tree.scan_prefix(&prefix) {
            let (key, _) = kv?;
            let Some((group_prefix, _)) = split_call(&key) else { continue };
            let Some(group) = GroupKey::from_body(&group_prefix[1..]) else { continue };
            if groups.last() != Some(&group) {
                groups.push(group);
            }
        }
        Ok(groups)
    }

    /// Reads a field value of `group` (a `live` record, or its value still in the cache).
    pub(crate) fn field_record(&self, group: &GroupKey, key: &[u8]) -> Result<Option<sled::IVec>, LiveError> {
        if let Some(value) = self.write_behind.get(group, key) {
            return Ok(Some(value));
        }
        Ok(self.tree.get(key)?)
    }

    fn scan_messages(
        &self,
        key: &GroupKey,
        after: u64,
        reaching: Option<u32>,
        page: Option<&str>,
        max_scan: Option<usize>,
    ) -> Result<Vec<Routed>, LiveError> {
        let mut out = Vec::new();
        for entry in self.entries_routing_after(key, after, false, max_scan)? {
            if page.is_some_and(|p| p != entry.page) {
                continue;
            }
            let first = entry.seqs.map_or(0, |(first, _)| first);
            for (i, (to, payload)) in entry.messages.iter().enumerate() {
                let seq = first + i as u64;
                if seq > after && reaching.is_none_or(|id| *to == 0 || *to == id) {
                    out.push(Routed { seq, to: *to, payload: payload.get().to_string() });
                }
            }
        }
        Ok(out)
    }

    /// The call entries that routed a message with seq > `after`, in order — read from the
    /// end of the log back, so a replay of the last few messages reads the last few entries.
    /// `last_only`: stop at the first (newest) such entry; `max_scan`: stop after reading this
    /// many entries.
    fn entries_routing_after(&self, key: &GroupKey, after: u64, last_only: bool, max_scan: Option<usize>) -> Result<Vec<CallEntry>, LiveError> {
        let mut found = Vec::new();
        for entry in self.entries_newest_first(key).take(max_scan.unwrap_or(usize::MAX)) {
            let entry = entry?;
            match entry.seqs {
                Some((_, last)) if last <= after => break,
                Some(_) => found.push(entry),
                None => continue,
            }
            if last_only {
                break;
            }
        }
        found.reverse();
        Ok(found)
    }

    /// A group's call entries, newest first: those still in the cache, then those in sled.
    fn entries_newest_first(&self, key: &GroupKey) -> impl Iterator<Item = Result<CallEntry, LiveError>> {
        let cached = self.write_behind.entries(key);
        let below = cached.first().map_or(u64::MAX, |(c, _)| *c);
        let prefix = key.prefix(Tag::Call);
        let cached = cached.into_iter().rev().map(move |(call, v)| {
            serde_json::from_slice::<CallEntry>(&v)
                .map_err(|e| LiveError::Corrupt { key: format!("{key} call {call} (unsettled)"), reason: e.to_string() })
        });
        let stored = self.tree.range(numbered(&prefix, 0)..numbered(&prefix, below)).rev().flat_map(move |kv| {
            let entries = kv.map_err(LiveError::from).and_then(|(k, v)| CallRecord::of(&v).entries(&k));
            let entries: Vec<Result<CallEntry, LiveError>> = match entries {
                // A run that a crash left partly replayed from the journal too is never read
                // twice: only entries below the cached ones, each once (runs don't overlap).
                Ok(run) => run.into_iter().rev().filter(|e| e.call < below).map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            entries
        });
        cached.chain(stored)
    }
}
