//! What the store keeps of each group: its live log (commits, calls, messages and the
//! write-back of its cache, all through [`crate::live::LiveLog`]) and its field values.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::live::{CallEntry, FieldWrites, Group, GroupKey, Payload, Routed};
use crate::manifest::Manifest;
use crate::store::database::Store;
use crate::store::error::StoreError;

impl Store {
    /// The group's log position, read from the log's last entries.
    pub fn group(&self, key: GroupKey, players: u32) -> Result<Group, StoreError> {
        Ok(self.live.group(key, players)?)
    }

    /// Commits a successful call that ran at `time_ms` (what its game's clock read): its call
    /// entry (the atomic commit record, holding the field writes and messages); its field
    /// values are written back later.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn commit_call(
        &self,
        time_ms: u64,
        group: &mut Group,
        page: &str,
        sender: u32,
        payload: impl Into<Payload>,
        writes: FieldWrites,
        messages: Vec<(u32, Box<RawValue>)>,
    ) -> Result<(u64, Vec<Routed>), StoreError> {
        Ok(self.live.commit_call(time_ms, group, page, sender, payload, writes, messages)?)
    }

    /// Logs a failed call that ran at `time_ms`: its entry with the reason, nothing else.
    /// `hook`: whether it was a page hook.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn log_failure(
        &self,
        time_ms: u64,
        group: &mut Group,
        page: &str,
        sender: u32,
        payload: &str,
        hook: bool,
        reason: &str,
    ) -> Result<u64, StoreError> {
        Ok(self.live.log_failure(time_ms, group, page, sender, payload, hook, reason)?)
    }

    /// Every group of `session` with call entries written to sled, round by round, each
    /// round's group 0 (its `creating-session` call) first; on a store opened afresh (the
    /// server stopped), every group with a call.
    pub fn logged_groups(&self, session: &str) -> Result<Vec<GroupKey>, StoreError> {
        Ok(self.live.logged_groups(session)?)
    }

    /// The group's newest call entry, if any.
    pub fn last_call(&self, key: &GroupKey) -> Result<Option<CallEntry>, StoreError> {
        Ok(self.live.last_call(key)?)
    }

    /// Why no live call is taken any more (a journal write failed), if so.
    pub(crate) fn refusing_calls(&self) -> Option<String> {
        self.live.refusal().map(|refusal| refusal.to_string())
    }

    /// Refuses new work that writes (a session, a page move) once a journal write failed:
    /// it could not be made durable, and its answer would come only after writing to sled.
    pub(crate) fn refuse_if_halted(&self) -> Result<(), StoreError> {
        self.refusing_calls().map_or(Ok(()), |why| Err(StoreError::Halted(why)))
    }

    /// Writes the group's cached call entries, field values and marker back to sled; reads
    /// see them either way.
    pub fn write_back(&self, key: &GroupKey) -> Result<(), StoreError> {
        Ok(self.live.write_back(key)?)
    }

    /// [`Store::write_back`] on the store's write-back thread (at once on a temporary store).
    pub(crate) fn write_back_soon(&self, key: &GroupKey) -> Result<(), StoreError> {
        Ok(self.live.write_back_soon(key)?)
    }

    /// [`Store::write_back`] for every group (at shutdown).
    pub fn write_back_all(&self) -> Result<(), StoreError> {
        Ok(self.live.write_back_all()?)
    }

    /// The messages that reached `id_in_group` (directly or by broadcast) with seq > `after`, in order.
    pub fn messages_after(&self, key: &GroupKey, id_in_group: u32, page: Option<&str>, after: u64) -> Result<Vec<Routed>, StoreError> {
        Ok(self.live.messages_after(key, id_in_group, page, after)?)
    }

    /// Every routed message of a group, in seq order.
    pub fn messages(&self, key: &GroupKey) -> Result<Vec<Routed>, StoreError> {
        Ok(self.live.messages(key)?)
    }

    /// Every call entry of a group, in order.
    pub fn calls(&self, key: &GroupKey) -> Result<Vec<CallEntry>, StoreError> {
        Ok(self.live.calls(key)?)
    }

    /// Reads a field value of `group` (a `live` record, or its value still in the cache).
    pub(crate) fn field_record(&self, group: &GroupKey, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        Ok(self.live.field_record(group, key)?)
    }

    /// A group's fields, with initial values for those never written.
    pub fn group_fields(&self, manifest: &Manifest, group: &GroupKey) -> Result<BTreeMap<String, Value>, StoreError> {
        manifest.group_fields.iter().map(|(name, spec)| Ok((name.clone(), self.field(group, &group.group_field(name), &spec.initial)?))).collect()
    }

    /// A player's fields, with initial values for those never written.
    pub fn player_fields(&self, manifest: &Manifest, group: &GroupKey, id_in_group: u32) -> Result<BTreeMap<String, Value>, StoreError> {
        manifest
            .player_fields
            .iter()
            .map(|(name, spec)| Ok((name.clone(), self.field(group, &group.player_field(id_in_group, name), &spec.initial)?)))
            .collect()
    }

    /// The value of participant field `name` of player `id_in_group` of `group` (groups of
    /// `players`): the one its latest round up to `group`'s wrote, else the one
    /// `creating-session` gave it, else none.
    pub(crate) fn participant_record(&self, group: &GroupKey, players: u32, id_in_group: u32, name: &str) -> Result<Option<sled::IVec>, StoreError> {
        // The same participant may have sat in another group, at another id, in each round.
        let Some(position) = self.position_of(group, id_in_group, players)? else { return Ok(None) };
        for round in (1..=group.round).rev() {
            if let Some((g, id)) = self.seat_in_round(&group.session, round, position, players)?
                && let Some(v) = self.field_record(&g, &g.participant_field(id, name))?
            {
                return Ok(Some(v));
            }
        }
        let creation = GroupKey::creation(&group.session);
        self.field_record(&creation, &creation.participant_field(position, name))
    }

    /// The participant fields of player `id_in_group` of `group`, as they are in `group`'s
    /// round, with initial values for those never written.
    /// `players`: the size of the session's groups.
    pub fn participant_fields(
        &self,
        manifest: &Manifest,
        group: &GroupKey,
        players: u32,
        id_in_group: u32,
    ) -> Result<BTreeMap<String, Value>, StoreError> {
        let ppg = players;
        manifest
            .participant_fields
            .iter()
            .map(|(name, spec)| {
                let raw = self.participant_record(group, ppg, id_in_group, name)?;
                Ok((name.clone(), parse_field(&group.participant_field(id_in_group, name), raw.as_deref(), &spec.initial)?))
            })
            .collect()
    }

    /// The session's fields, with initial values for those never written.
    pub fn session_fields(&self, manifest: &Manifest, session: &str) -> Result<BTreeMap<String, Value>, StoreError> {
        let creation = GroupKey::creation(session);
        manifest
            .session_fields
            .iter()
            .map(|(name, spec)| Ok((name.clone(), self.field(&creation, &creation.session_field(name), &spec.initial)?)))
            .collect()
    }

    fn field(&self, group: &GroupKey, key: &[u8], initial: &str) -> Result<Value, StoreError> {
        let raw = self.field_record(group, key)?;
        parse_field(key, raw.as_deref(), initial)
    }
}

/// A stored field value (or, when none is, the initial one) as JSON; `key` names it if corrupt.
fn parse_field(key: &[u8], raw: Option<&[u8]>, initial: &str) -> Result<Value, StoreError> {
    let text = raw.unwrap_or(initial.as_bytes());
    serde_json::from_slice(text).map_err(|e| StoreError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::keys::{Tag, call_of};
    use crate::live::write_behind::write_back_calls;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_string()).expect("json")
    }

    fn bid(store: &Store, group: &mut Group, n: i64) {
        let mut w = FieldWrites::default();
        w.group.insert("max_bid".into(), raw(&n.to_string()));
        store.commit_call(crate::clock::now_ms(), group, "Bid", 1, raw(&n.to_string()), w, vec![(0, raw(&n.to_string()))]).expect("commit");
    }

    fn max_bid(store: &Store, key: &GroupKey) -> Option<Vec<u8>> {
        store.live.tree.get(key.group_field("max_bid")).expect("get").map(|v| v.to_vec())
    }

    #[test]
    fn cached_values_are_read_first_and_written_once_when_the_group_is_written_back() {
        let store = Store::temporary().expect("store");
        let key = GroupKey { session: "s1".into(), round: 1, group: 1 };
        let manifest = crate::manifest::Manifest::parse(
            std::path::Path::new("t/game.toml"),
            "name = \"t\"\nplayers_per_group = 1\ncomponent = \"x.wasm\"\n[group.fields]\nmax_bid = { type = \"integer\", initial = 0 }\n[[page]]\nname = \"Bid\"\ntemplate = \"Bid.hbs\"\nlive = true\n",
        )
        .expect("manifest");
        let mut group = store.group(key.clone(), 1).expect("group");
        bid(&store, &mut group, 10);
        bid(&store, &mut group, 20);
        // Not in sled yet — neither the values nor the call entries — but every reader sees them.
        assert!(max_bid(&store, &key).is_none());
        assert_eq!(store.live.tree.scan_prefix(key.prefix(Tag::Call)).count(), 0);
        assert_eq!(store.field_record(&key, &key.group_field("max_bid")).expect("read").as_deref(), Some(&b"20"[..]));
        assert_eq!(store.group_fields(&manifest, &key).expect("fields")["max_bid"], 20);
        assert_eq!(store.messages(&key).expect("messages").len(), 2);
        assert_eq!(store.messages_after(&key, 1, None, 1).expect("replay").len(), 1);
        assert_eq!(store.calls(&key).expect("calls").len(), 2);
        let reread = store.group(key.clone(), 1).expect("group");
        assert_eq!((reread.next_call, reread.next_seq), (3, 3));
        store.write_back(&key).expect("write back");
        // Both entries in one record, a run keyed by its last call.
        let records: Vec<_> = store.live.tree.scan_prefix(key.prefix(Tag::Call)).map(|kv| kv.expect("record")).collect();
        assert_eq!(records.len(), 1);
        assert_eq!(call_of(&records[0].0), Some(2));
        assert_eq!(records[0].1.first(), Some(&b'['));
        assert_eq!(store.calls(&key).expect("calls").len(), 2, "read from sled alone now");
        assert_eq!(max_bid(&store, &key).as_deref(), Some(&b"20"[..]));
        assert_eq!(store.live.tree.get(key.prefix(Tag::Applied)).expect("marker").as_deref(), Some(&2u64.to_be_bytes()[..]));
        // A group that keeps calling is written back by itself: once its count is reached, not before.
        let due = i64::from(write_back_calls(&key));
        for n in 0..due - 1 {
            bid(&store, &mut group, 100 + n);
        }
        assert_eq!(max_bid(&store, &key).as_deref(), Some(&b"20"[..]));
        bid(&store, &mut group, 100 + due - 1);
        assert_eq!(max_bid(&store, &key), Some((100 + due - 1).to_string().into_bytes()));
    }
}
