//! The append-only live log of each group, and how a live call commits atomically.
//!
//! Per group, in the `live` tree:
//! - `C` + group + call number (u64 BE) → [`CallEntry`]s: every call, succeeded or failed;
//!   a successful call's entry holds its field writes and its messages (with their seqs:
//!   replay reads them from here). A value is one entry (a JSON object, as the journal holds
//!   it) or a run of consecutive entries, oldest first (a JSON array, as a group settles
//!   them); the key's number is the value's last call. One record for the 64 calls a group
//!   settles at once, instead of one each: measured at saturation, sled's inserts of single
//!   entries were a tenth of the server's CPU;
//! - `G`/`P` + group + field → the field's current value;
//! - `A` + group → the number of the last call whose effects are materialized.
//!
//! The call entry is the commit record, appended to the live journal, which makes it durable
//! ([`crate::journal`]). The entries, their field values and the `A` marker are *settled*
//! into sled later (on the store's settler thread, so no call waits for sled): they wait in
//! memory ([`Unsettled`], where every read of a field or of the log looks first) and are
//! written once for many calls — when the group has 64 unsettled calls or 256 KiB of values,
//! when its owner says so ([`Store::settle`]: when a group goes idle), at a journal checkpoint
//! and when the store is dropped (unless it is a temporary one, as bot runs use). A field
//! written by ten calls in a row is then written to sled once.
//! When the store is opened after a crash, the journal's entries that sled lacks are inserted
//! into sled again ([`Replay`]), then every entry past its group's marker is applied again, in
//! order (applying is idempotent), so after a crash a call either happened entirely or not at
//! all. This is as
//! atomic as a sled batch, and much cheaper: sled 0.34 rolls and writes its IO buffer for
//! every batch (`pin_log`), which costs tens of microseconds and several thread hand-offs per
//! call.
//! A failed call writes only its call entry, with the reason.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::store::{GroupKey, Store, StoreError, now_ms};

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

/// One call in the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallEntry {
    /// The call's number in the group.
    pub call: u64,
    /// When it was committed, ms since the Unix epoch.
    pub time_ms: u64,
    /// The page it was made on.
    pub page: String,
    /// The sender's id in group.
    pub sender: u32,
    /// The payload it was called with.
    pub payload: Box<RawValue>,
    /// The seqs of the messages it routed, first and last (absent when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seqs: Option<(u64, u64)>,
    /// Why it failed (absent on success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The field values it wrote.
    #[serde(default, skip_serializing_if = "FieldWrites::is_empty")]
    pub writes: FieldWrites,
    /// The messages it routed, `(to, payload)`, with seqs from `seqs.0` on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<(u32, Box<RawValue>)>,
}

/// Field values written by one call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FieldWrites {
    /// Group fields by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group: BTreeMap<String, Box<RawValue>>,
    /// Player fields by id in group, then name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub players: BTreeMap<u32, BTreeMap<String, Box<RawValue>>>,
}

impl FieldWrites {
    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.group.is_empty() && self.players.is_empty()
    }
}

/// The `live` keys and values of a call's field writes.
fn field_records<'a>(key: &'a GroupKey, writes: &'a FieldWrites) -> impl Iterator<Item = (Vec<u8>, &'a RawValue)> {
    let group = writes.group.iter().map(|(name, value)| (key.group_field(name), &**value));
    let players = writes.players.iter().flat_map(move |(id, fields)| fields.iter().map(move |(name, value)| (key.player_field(*id, name), &**value)));
    group.chain(players)
}

/// Most bytes of entries in one `live` value. sled splits a leaf past 16 keys and writes a
/// node above 128 KiB (a quarter of its 512 KiB segment) as a file of its own: runs of up to
/// 4 KiB keep a leaf of them at most 64 KiB.
const RUN_BYTES: usize = 4 << 10;

/// A group settles after about this many unsettled calls ([`settle_calls`])...
const SETTLE_CALLS: u32 = 64;
/// ...or once values of this many bytes were staged since it last settled (a field written
/// twice counts twice).
const SETTLE_BYTES: usize = 256 << 10;

/// How many unsettled calls make `group` settle: between half and one and a half times
/// [`SETTLE_CALLS`], fixed per group by its key. Groups that play in step (as a lab's do, or
/// a load test's) would otherwise all reach the same count at once and settle in one burst
/// every few seconds — the settler, sled and the disk then busy for a moment while the live
/// calls wait for the cores and the journal's writes; spread, the same writes are even.
fn settle_calls(group: &GroupKey) -> u32 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    group.hash(&mut h);
    SETTLE_CALLS / 2 + (h.finish() % u64::from(SETTLE_CALLS)) as u32
}

/// Call entries and field values of committed calls not yet written to the `live` tree, per
/// group (see the module's documentation). Dropping it (with the last [`Store`] clone) settles every group.
pub(crate) struct Unsettled {
    live: sled::Tree,
    groups: Mutex<HashMap<GroupKey, Pending>>,
    /// One settle at a time, so an older copy is never written over a newer one.
    settling: Mutex<()>,
    /// Whether dropping settles every group (not for a temporary store).
    settle_at_close: bool,
    /// The settler thread's queue, when there is one (else groups settle on the caller).
    settler: Mutex<Option<std::sync::mpsc::Sender<GroupKey>>>,
    /// Set once a journal write failed (see [`crate::journal::FirstFailedWrite`]): what is staged may
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
    /// Stages so far: a settle removes the group only if nothing was staged meanwhile.
    version: u64,
    calls: u32,
    bytes: usize,
    /// Whether the group is in the settler's queue.
    requested: bool,
}

impl Unsettled {
    pub(crate) fn new(live: sled::Tree, settle_at_close: bool, halt: crate::journal::FirstFailedWrite) -> Unsettled {
        Unsettled { live, groups: Mutex::new(HashMap::new()), settling: Mutex::new(()), settle_at_close, settler: Mutex::new(None), halt }
    }

    /// Starts the thread that settles groups asked to settle by [`Unsettled::settle_soon`]:
    /// then no caller waits for sled's writes (which wait for the disk when it is busy).
    pub(crate) fn start_settler(self: &Arc<Self>) -> std::io::Result<()> {
        let (tx, rx) = std::sync::mpsc::channel::<GroupKey>();
        let weak = Arc::downgrade(self);
        std::thread::Builder::new().name("stoa-settler".into()).spawn(move || {
            while let Ok(key) = rx.recv() {
                let Some(unsettled) = weak.upgrade() else { return };
                if let Err(e) = unsettled.settle(&key) {
                    // Nothing is lost: the values stay in memory and the entries in the journal.
                    tracing::warn!(%key, "could not write a group's settled values to sled: {e}");
                }
            }
        })?;
        *self.settler.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tx);
        Ok(())
    }

    /// Settles `group` on the settler thread, or here when there is none.
    pub(crate) fn settle_soon(&self, group: &GroupKey) -> Result<(), StoreError> {
        let queued = {
            let settler = self.settler.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            settler.as_ref().is_some_and(|tx| tx.send(group.clone()).is_ok())
        };
        if queued { Ok(()) } else { self.settle(group) }
    }

    /// The call entries of `group` not yet in sled, oldest first.
    fn entries(&self, group: &GroupKey) -> Vec<(u64, sled::IVec)> {
        self.groups().get(group).map(|p| p.entries.iter().map(|(c, v)| (*c, v.clone())).collect()).unwrap_or_default()
    }

    fn groups(&self) -> std::sync::MutexGuard<'_, HashMap<GroupKey, Pending>> {
        // The map stays consistent even if a holder panicked: every update is one insert.
        self.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The unsettled value of `key` in `group`, if any.
    pub(crate) fn get(&self, group: &GroupKey, key: &[u8]) -> Option<sled::IVec> {
        self.groups().get(group)?.records.get(key).cloned()
    }

    /// Stages call `call`'s entry and writes; true when the group should settle now (once,
    /// until it has settled).
    /// A failed call (`applied` false) leaves the group's marker where it was.
    fn stage(&self, group: &GroupKey, call: u64, entry: sled::IVec, writes: &FieldWrites, applied: bool) -> bool {
        let mut groups = self.groups();
        let pending = match groups.get_mut(group) {
            Some(p) => p,
            None => groups.entry(group.clone()).or_default(),
        };
        pending.bytes += entry.len();
        pending.entries.insert(call, entry);
        for (key, value) in field_records(group, writes) {
            pending.bytes += value.get().len();
            pending.records.insert(key, sled::IVec::from(value.get().as_bytes()));
        }
        if applied {
            pending.marker = call;
        }
        pending.version += 1;
        pending.calls += 1;
        let due = pending.calls >= settle_calls(group) || pending.bytes >= SETTLE_BYTES;
        due && !std::mem::replace(&mut pending.requested, true)
    }

    fn settle(&self, group: &GroupKey) -> Result<(), StoreError> {
        // Written from a copy, and removed only once written, so a reader meanwhile sees the
        // unsettled value or the same value in sled, never an older one. Entries go first,
        // the marker last: sled keeps its writes in order, so a marker that survives a crash
        // comes with everything before it.
        let _one = self.settling.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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
        let prefix = group.prefix(b'C');
        for run in runs(&entries) {
            if let Some((last, _)) = run.last() {
                self.live.insert(keyed(&prefix, *last), run_of(run))?;
            }
        }
        for (key, value) in records {
            self.live.insert(key, value)?;
        }
        if marker > 0 {
            self.live.insert(group.prefix(b'A'), &marker.to_be_bytes())?;
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

    /// What a crash does to the unsettled values: they are gone.
    #[cfg(test)]
    fn forget(&self) {
        self.groups().clear();
    }

    pub(crate) fn settle_all(&self) -> Result<(), StoreError> {
        let keys: Vec<GroupKey> = self.groups().keys().cloned().collect();
        keys.iter().try_for_each(|k| self.settle(k))
    }
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        if !self.settle_at_close {
            return;
        }
        if let Err(e) = self.settle_all() {
            // Nothing is lost: the next open re-applies the calls from their entries.
            tracing::warn!("could not settle field values at close ({e}); the next start recovers them from the log");
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

/// The `live` value of consecutive call entries: a JSON array of them, oldest first.
fn run_of(entries: &[(u64, sled::IVec)]) -> Vec<u8> {
    let mut value = Vec::with_capacity(entries.iter().map(|(_, v)| v.len() + 1).sum::<usize>() + 1);
    for (i, (_, entry)) in entries.iter().enumerate() {
        value.push(if i == 0 { b'[' } else { b',' });
        value.extend_from_slice(entry);
    }
    value.push(b']');
    value
}

/// The entries of a `live` value (one entry, or a run of them), oldest first.
fn entries_of(key: &[u8], value: &[u8]) -> Result<Vec<CallEntry>, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason: e.to_string() };
    if value.first() == Some(&b'[') {
        serde_json::from_slice(value).map_err(corrupt)
    } else {
        serde_json::from_slice(value).map(|e| vec![e]).map_err(corrupt)
    }
}

/// How many entries a `live` value holds, counted without building them.
fn run_length(value: &[u8]) -> Option<u64> {
    if value.first() == Some(&b'[') { serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(value).ok().map(|v| v.len() as u64) } else { Some(1) }
}

/// The call number at the end of a `C` key.
fn call_of(key: &[u8]) -> Option<u64> {
    key.len().checked_sub(8).and_then(|at| key[at..].try_into().ok()).map(u64::from_be_bytes)
}

/// Writes the journal's records to `live` when the store opens after a crash, except call
/// entries sled holds already: the group may have settled them, as part of a run, before the
/// crash — inserting them again, alone, would list those calls twice.
pub(crate) struct Replay<'a> {
    live: &'a sled::Tree,
    /// The run of calls in sled found last, per group prefix: (first, last) call.
    found: HashMap<Vec<u8>, (u64, u64)>,
}

impl<'a> Replay<'a> {
    pub(crate) fn new(live: &'a sled::Tree) -> Replay<'a> {
        Replay { live, found: HashMap::new() }
    }

    /// Writes one journal record, unless it is a call entry sled holds.
    pub(crate) fn record(&mut self, key: &[u8], value: &[u8]) -> sled::Result<()> {
        if key.first() == Some(&b'C') && key.len() > 9 {
            let (prefix, _) = key.split_at(key.len() - 8);
            let call = call_of(key).unwrap_or(0);
            let held = |&(first, last): &(u64, u64)| first <= call && call <= last;
            if self.found.get(prefix).is_some_and(held) {
                return Ok(());
            }
            // The first value at or after this call in the group: a run holding it, if any.
            if let Some((k, v)) = self.live.range(key..=keyed(prefix, u64::MAX).as_slice()).next().transpose()?
                && let (Some(last), Some(n @ 1..)) = (call_of(&k), run_length(&v))
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

fn keyed(prefix: &[u8], n: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

fn raw(json: &str) -> Result<Box<RawValue>, StoreError> {
    RawValue::from_string(json.to_string()).map_err(|e| StoreError::Invalid(format!("not JSON: {e}")))
}

impl Store {
    /// The group's log position, read from the log's last entries.
    pub fn group(&self, key: GroupKey, players: u32) -> Result<Group, StoreError> {
        let next_call = self.entries_newest_first(&key).next().transpose()?.map_or(0, |e| e.call) + 1;
        let next_seq = self.entries_routing_after(&key, 0, true)?.first().and_then(|e| e.seqs).map_or(1, |(_, last)| last + 1);
        Ok(Group { key, players, next_seq, next_call })
    }

    /// The call entries that routed a message with seq > `after`, in order — read from the
    /// end of the log back, so a replay of the last few messages reads the last few entries.
    /// `last_only`: stop at the first (newest) such entry.
    fn entries_routing_after(&self, key: &GroupKey, after: u64, last_only: bool) -> Result<Vec<CallEntry>, StoreError> {
        let mut found = Vec::new();
        for entry in self.entries_newest_first(key) {
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

    /// A group's call entries, newest first: those still in memory, then those in sled.
    fn entries_newest_first(&self, key: &GroupKey) -> impl Iterator<Item = Result<CallEntry, StoreError>> {
        let staged = self.unsettled.entries(key);
        let below = staged.first().map_or(u64::MAX, |(c, _)| *c);
        let prefix = key.prefix(b'C');
        let staged = staged.into_iter().rev().map(move |(call, v)| {
            serde_json::from_slice::<CallEntry>(&v)
                .map_err(|e| StoreError::Corrupt { key: format!("{key} call {call} (unsettled)"), reason: e.to_string() })
        });
        let stored = self.live.range(keyed(&prefix, 0)..keyed(&prefix, below)).rev().flat_map(move |kv| {
            let entries = kv.map_err(StoreError::from).and_then(|(k, v)| entries_of(&k, &v));
            let entries: Vec<Result<CallEntry, StoreError>> = match entries {
                // A run that a crash left partly replayed from the journal too is never read
                // twice: only entries below the unsettled ones, each once (runs don't overlap).
                Ok(run) => run.into_iter().rev().filter(|e| e.call < below).map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            entries
        });
        staged.chain(stored)
    }

    /// Commits a successful call: its call entry (the atomic commit record, holding the field
    /// writes and messages); its field values settle later.
    pub(crate) fn commit_call(
        &self,
        group: &mut Group,
        page: &str,
        sender: u32,
        payload: Box<RawValue>,
        writes: FieldWrites,
        messages: Vec<(u32, Box<RawValue>)>,
    ) -> Result<(u64, Vec<Routed>), StoreError> {
        let call = group.next_call;
        let first = group.next_seq;
        let entry = CallEntry {
            call,
            time_ms: now_ms(),
            page: page.to_string(),
            sender,
            payload,
            seqs: (!messages.is_empty()).then(|| (first, first + messages.len() as u64 - 1)),
            error: None,
            writes,
            messages,
        };
        self.log_entry(&group.key, &entry, true)?;
        group.next_call += 1;
        group.next_seq += entry.messages.len() as u64;
        let routed = entry
            .messages
            .iter()
            .enumerate()
            .map(|(i, (to, payload))| Routed { seq: first + i as u64, to: *to, payload: payload.get().to_string() })
            .collect();
        Ok((call, routed))
    }

    /// Writes the group's unsettled call entries, field values and marker to sled; reads see
    /// them either way.
    pub fn settle(&self, key: &GroupKey) -> Result<(), StoreError> {
        self.unsettled.settle(key)
    }

    /// [`Store::settle`] on the store's settler thread (at once on a temporary store).
    pub(crate) fn settle_soon(&self, key: &GroupKey) -> Result<(), StoreError> {
        self.unsettled.settle_soon(key)
    }

    /// [`Store::settle`] for every group (at shutdown).
    pub fn settle_all(&self) -> Result<(), StoreError> {
        self.unsettled.settle_all()
    }

    /// Writes what a committed call entry implies: field values and the group's marker.
    /// Idempotent, so recovery may apply an entry again.
    fn materialize(&self, key: &GroupKey, entry: &CallEntry) -> Result<(), StoreError> {
        for (field, value) in field_records(key, &entry.writes) {
            self.live.insert(field, value.get().as_bytes())?;
        }
        self.live.insert(key.prefix(b'A'), &entry.call.to_be_bytes())?;
        Ok(())
    }

    /// Applies again every successful call entry past its group's marker: the effects of calls
    /// whose commit record reached the disk before a crash but whose derived records did not.
    /// Returns how many entries were applied.
    pub(crate) fn recover(&self) -> Result<usize, StoreError> {
        let mut applied = 0;
        let mut current: Option<(Vec<u8>, u64)> = None;
        for kv in self.live.scan_prefix([b'C']) {
            let (k, v) = kv?;
            if k.len() < 9 {
                continue;
            }
            let (body, _) = k[1..].split_at(k.len() - 9);
            // The value's last call: a value wholly at or below the marker is applied already.
            let last = call_of(&k).unwrap_or(0);
            if current.as_ref().is_none_or(|(b, _)| b.as_slice() != body) {
                let mut marker_key = vec![b'A'];
                marker_key.extend_from_slice(body);
                let marker = self.live.get(&marker_key)?.and_then(|m| m.as_ref().try_into().ok()).map(u64::from_be_bytes).unwrap_or(0);
                current = Some((body.to_vec(), marker));
            }
            let marker = current.as_ref().map(|(_, m)| *m).unwrap_or(0);
            if last <= marker {
                continue;
            }
            let entries = entries_of(&k, &v)?;
            let mut due = entries.iter().filter(|e| e.call > marker && e.error.is_none()).peekable();
            if due.peek().is_none() {
                continue;
            }
            let key = GroupKey::from_body(body)
                .ok_or_else(|| StoreError::Corrupt { key: String::from_utf8_lossy(&k).into_owned(), reason: "malformed group key".into() })?;
            for entry in due {
                self.materialize(&key, entry)?;
                applied += 1;
            }
        }
        Ok(applied)
    }

    /// Logs a failed call: its entry with the reason, nothing else.
    pub(crate) fn log_failure(&self, group: &mut Group, page: &str, sender: u32, payload: &str, reason: &str) -> Result<u64, StoreError> {
        let call = group.next_call;
        let payload = raw(payload).or_else(|_| raw(&serde_json::Value::String(payload.to_string()).to_string()))?;
        let entry = CallEntry {
            call,
            time_ms: now_ms(),
            page: page.to_string(),
            sender,
            payload,
            seqs: None,
            error: Some(reason.to_string()),
            writes: FieldWrites::default(),
            messages: Vec::new(),
        };
        self.log_entry(&group.key, &entry, false)?;
        group.next_call += 1;
        Ok(call)
    }

    /// Why no live call is taken any more (a journal write failed), if so.
    pub(crate) fn refusing_calls(&self) -> Option<String> {
        self.unsettled.halt.get().map(|reason| format!("{reason}; live calls are refused until the server is restarted"))
    }

    /// Appends a call entry to the journal, where it becomes durable (see
    /// [`crate::journal`]), and stages it with its field writes, to be written to `live`
    /// when the group settles. `applied`: whether the call succeeded (moves the marker).
    fn log_entry(&self, key: &GroupKey, entry: &CallEntry, applied: bool) -> Result<(), StoreError> {
        if let Some(refusal) = self.refusing_calls() {
            return Err(StoreError::Flush(refusal));
        }
        let value = serde_json::to_vec(entry).unwrap_or_default();
        self.journal.append(&keyed(&key.prefix(b'C'), entry.call), &value);
        if self.unsettled.stage(key, entry.call, sled::IVec::from(value), &entry.writes, applied) {
            self.unsettled.settle_soon(key)?;
        }
        Ok(())
    }

    /// The messages that reached `id_in_group` (directly or by broadcast) with seq > `after`, in order.
    pub fn messages_after(&self, key: &GroupKey, id_in_group: u32, after: u64) -> Result<Vec<Routed>, StoreError> {
        self.scan_messages(key, after, Some(id_in_group))
    }

    /// Every routed message of a group, in seq order.
    pub fn messages(&self, key: &GroupKey) -> Result<Vec<Routed>, StoreError> {
        self.scan_messages(key, 0, None)
    }

    fn scan_messages(&self, key: &GroupKey, after: u64, reaching: Option<u32>) -> Result<Vec<Routed>, StoreError> {
        let mut out = Vec::new();
        for entry in self.entries_routing_after(key, after, false)? {
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

    /// Every call entry of a group, in order.
    pub fn calls(&self, key: &GroupKey) -> Result<Vec<CallEntry>, StoreError> {
        let mut entries = self.entries_newest_first(key).collect::<Result<Vec<CallEntry>, StoreError>>()?;
        entries.reverse();
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_writes() -> FieldWrites {
        let mut w = FieldWrites::default();
        w.group.insert("max_bid".into(), raw("10").expect("json"));
        w.players.entry(2).or_default().insert("bids".into(), raw("1").expect("json"));
        w
    }

    fn bid(store: &Store, group: &mut Group, n: i64) {
        let mut w = FieldWrites::default();
        w.group.insert("max_bid".into(), raw(&n.to_string()).expect("json"));
        store.commit_call(group, "Bid", 1, raw(&n.to_string()).expect("json"), w, vec![(0, raw(&n.to_string()).expect("json"))]).expect("commit");
    }

    fn max_bid(store: &Store, key: &GroupKey) -> Option<Vec<u8>> {
        store.live.get(key.group_field("max_bid")).expect("get").map(|v| v.to_vec())
    }

    #[test]
    fn wait_durable_waits_for_the_live_call_entries_and_reports_their_failed_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let disk = crate::journal::mem::Mem::default();
        let store = Store::open_on(dir.path(), disk.clone()).expect("open");
        let key = GroupKey { session: "s1".into(), round: 1, group: 1 };
        let mut group = store.group(key.clone(), 1).expect("group");
        bid(&store, &mut group, 10);
        store.wait_durable().expect("a good disk");
        // The entry's write fails (a full disk): whoever waits for durability hears of it.
        disk.fail_next_write();
        bid(&store, &mut group, 20);
        let err = store.wait_durable().expect_err("the call entry was not written").to_string();
        assert!(err.contains("No space left"), "{err}");
    }

    #[test]
    fn after_a_failed_journal_write_no_call_is_taken_and_nothing_staged_reaches_sled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = GroupKey { session: "s1".into(), round: 1, group: 1 };
        let disk = crate::journal::mem::Mem::default();
        {
            let store = Store::open_on(dir.path(), disk.clone()).expect("open");
            let mut group = store.group(key.clone(), 1).expect("group");
            bid(&store, &mut group, 10);
            store.wait_durable().expect("a good disk");
            // The next write fails: its sender is told so (the actor routes nothing) ...
            disk.fail_next_write();
            bid(&store, &mut group, 20);
            store.wait_durable().expect_err("the call entry was not written");
            // ... every later call is refused before anything is staged ...
            let err = store
                .commit_call(&mut group, "Bid", 1, raw("30").expect("json"), FieldWrites::default(), vec![])
                .expect_err("a call after the failure")
                .to_string();
            assert!(err.contains("No space left") && err.contains("refused until the server is restarted"), "{err}");
            // ... and the failed call's values never reach sled, neither when settling nor at
            // close (here, when the store is dropped).
            store.settle_all().expect("settle");
            assert!(max_bid(&store, &key).is_none(), "a value staged before the failure reached sled");
        }
        // Reopened: the durable call is back from the journal, the failed one is not.
        let store = Store::open_on(dir.path(), disk).expect("reopen");
        assert_eq!(max_bid(&store, &key).as_deref(), Some(&b"10"[..]));
        assert_eq!(store.calls(&key).expect("calls").len(), 1);
        assert_eq!(store.group(key, 1).expect("group").next_call, 2);
    }

    #[test]
    fn reopening_recovers_a_committed_call_whose_derived_records_were_lost() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = GroupKey { session: "s1".into(), round: 1, group: 3 };
        {
            let store = Store::open(dir.path()).expect("open");
            let mut group = store.group(key.clone(), 3).expect("group");
            store
                .commit_call(
                    &mut group,
                    "Bid",
                    2,
                    raw(r#"{"bid":10}"#).expect("json"),
                    entry_writes(),
                    vec![(0, raw(r#"{"new_max":10}"#).expect("json"))],
                )
                .expect("commit");
            // What a crash right after the commit record would leave: the entry alone.
            store.unsettled.forget();
            assert!(max_bid(&store, &key).is_none());
            store.wait_durable().expect("flush");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(max_bid(&store, &key).as_deref(), Some(&b"10"[..]));
        assert_eq!(store.live.get(key.player_field(2, "bids")).expect("get").as_deref(), Some(&b"1"[..]));
        let replay = store.messages_after(&key, 1, 0).expect("replay");
        assert_eq!(replay.len(), 1);
        assert_eq!(replay[0].seq, 1);
        assert_eq!(store.group(key, 3).expect("group").next_seq, 2);
    }

    #[test]
    fn unsettled_values_are_read_first_and_written_once_when_the_group_settles() {
        let store = Store::temporary().expect("store");
        let key = GroupKey { session: "s1".into(), round: 1, group: 1 };
        let manifest = crate::game::manifest::Manifest::parse(
            std::path::Path::new("t/game.toml"),
            "name = \"t\"\nplayers_per_group = 1\ncomponent = \"x.wasm\"\n[group.fields]\nmax_bid = { type = \"integer\", initial = 0 }\n[[page]]\nname = \"Bid\"\ntemplate = \"Bid.hbs\"\nlive = true\n",
        )
        .expect("manifest");
        let mut group = store.group(key.clone(), 1).expect("group");
        bid(&store, &mut group, 10);
        bid(&store, &mut group, 20);
        // Not in sled yet — neither the values nor the call entries — but every reader sees them.
        assert!(max_bid(&store, &key).is_none());
        assert_eq!(store.live.scan_prefix(key.prefix(b'C')).count(), 0);
        assert_eq!(store.field_record(&key, &key.group_field("max_bid")).expect("read").as_deref(), Some(&b"20"[..]));
        assert_eq!(store.group_fields(&manifest, &key).expect("fields")["max_bid"], 20);
        assert_eq!(store.messages(&key).expect("messages").len(), 2);
        assert_eq!(store.messages_after(&key, 1, 1).expect("replay").len(), 1);
        assert_eq!(store.calls(&key).expect("calls").len(), 2);
        let reread = store.group(key.clone(), 1).expect("group");
        assert_eq!((reread.next_call, reread.next_seq), (3, 3));
        store.settle(&key).expect("settle");
        // Both entries in one record, a run keyed by its last call.
        let records: Vec<_> = store.live.scan_prefix(key.prefix(b'C')).map(|kv| kv.expect("record")).collect();
        assert_eq!(records.len(), 1);
        assert_eq!(call_of(&records[0].0), Some(2));
        assert_eq!(records[0].1.first(), Some(&b'['));
        assert_eq!(store.calls(&key).expect("calls").len(), 2, "read from sled alone now");
        assert_eq!(max_bid(&store, &key).as_deref(), Some(&b"20"[..]));
        assert_eq!(store.live.get(key.prefix(b'A')).expect("marker").as_deref(), Some(&2u64.to_be_bytes()[..]));
        // A group that keeps calling settles by itself: once its count is reached, not before.
        let due = i64::from(settle_calls(&key));
        for n in 0..due - 1 {
            bid(&store, &mut group, 100 + n);
        }
        assert_eq!(max_bid(&store, &key).as_deref(), Some(&b"20"[..]));
        bid(&store, &mut group, 100 + due - 1);
        assert_eq!(max_bid(&store, &key), Some((100 + due - 1).to_string().into_bytes()));
    }

    #[test]
    fn groups_settle_after_different_counts_around_settle_calls() {
        let counts: std::collections::BTreeSet<u32> =
            (1..=200).map(|g| settle_calls(&GroupKey { session: "s1".into(), round: 1, group: g })).collect();
        assert!(counts.iter().all(|c| (SETTLE_CALLS / 2..SETTLE_CALLS * 3 / 2).contains(c)), "{counts:?}");
        assert!(counts.len() > 40, "200 groups in step would settle together: {counts:?}");
    }

    #[test]
    fn a_crash_with_several_unsettled_calls_recovers_the_last_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = GroupKey { session: "s1".into(), round: 1, group: 2 };
        {
            let store = Store::open(dir.path()).expect("open");
            let mut group = store.group(key.clone(), 1).expect("group");
            bid(&store, &mut group, 10);
            store.settle(&key).expect("settle");
            bid(&store, &mut group, 20);
            bid(&store, &mut group, 30);
            store.unsettled.forget();
            store.wait_durable().expect("flush");
            assert_eq!(max_bid(&store, &key).as_deref(), Some(&b"10"[..]));
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(max_bid(&store, &key).as_deref(), Some(&b"30"[..]));
        assert_eq!(store.live.get(key.prefix(b'A')).expect("marker").as_deref(), Some(&3u64.to_be_bytes()[..]));
    }

    #[test]
    fn a_server_store_settles_on_its_settler_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let key = GroupKey { session: "s1".into(), round: 1, group: 4 };
        let mut group = store.group(key.clone(), 1).expect("group");
        let due = settle_calls(&key);
        for n in 0..i64::from(due) {
            bid(&store, &mut group, n + 1);
        }
        // The last call asked the settler; the caller did not write to sled itself.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // (The marker is written last.)
        while store.live.get(key.prefix(b'A')).expect("marker").as_deref() != Some(&u64::from(due).to_be_bytes()[..]) {
            assert!(std::time::Instant::now() < deadline, "the settler never wrote the entries");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // In runs of at most RUN_BYTES, far fewer records than calls, each call once in order.
        let records: Vec<_> = store.live.scan_prefix(key.prefix(b'C')).map(|kv| kv.expect("record")).collect();
        assert!(records.len() > 1 && records.len() < due as usize / 8, "{} records", records.len());
        assert!(records.iter().all(|(_, v)| v.len() <= RUN_BYTES + 2), "a run over {RUN_BYTES} bytes");
        assert_eq!(max_bid(&store, &key), Some(due.to_string().into_bytes()));
        let calls: Vec<u64> = store.calls(&key).expect("calls").iter().map(|e| e.call).collect();
        assert_eq!(calls, (1..=u64::from(due)).collect::<Vec<_>>());
        assert_eq!(store.messages(&key).expect("messages").len(), due as usize);
    }

    #[test]
    fn a_failed_call_is_never_applied_by_recovery() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = GroupKey { session: "s1".into(), round: 1, group: 1 };
        {
            let store = Store::open(dir.path()).expect("open");
            let mut group = store.group(key.clone(), 3).expect("group");
            store.log_failure(&mut group, "Bid", 1, "1", "nope").expect("log");
            store.wait_durable().expect("flush");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert!(store.live.get(key.prefix(b'A')).expect("get").is_none());
        assert_eq!(store.calls(&key).expect("calls").len(), 1);
    }

    /// Journal records: keys and values.
    type Records = Vec<(Vec<u8>, Vec<u8>)>;

    /// The `live` value of calls `first..=last`, as a group settles them, and their journal records.
    fn run_and_records(key: &GroupKey, first: u64, last: u64) -> (Vec<u8>, Records) {
        let mut group = Group { key: key.clone(), players: 1, next_seq: first, next_call: first };
        let mut entries = Vec::new();
        for n in first..=last {
            let message = raw(&n.to_string()).expect("json");
            let mut w = FieldWrites::default();
            w.group.insert("max_bid".into(), raw(&n.to_string()).expect("json"));
            let entry = CallEntry {
                call: group.next_call,
                time_ms: 0,
                page: "Bid".into(),
                sender: 1,
                payload: raw(&n.to_string()).expect("json"),
                seqs: Some((group.next_seq, group.next_seq)),
                error: None,
                writes: w,
                messages: vec![(0, message)],
            };
            group.next_call += 1;
            group.next_seq += 1;
            entries.push((n, sled::IVec::from(serde_json::to_vec(&entry).expect("entry"))));
        }
        let records = entries.iter().map(|(n, v)| (keyed(&key.prefix(b'C'), *n), v.to_vec())).collect();
        (run_of(&entries), records)
    }

    #[test]
    fn a_restart_replays_only_the_journal_entries_sled_lacks() {
        // A group settled calls 60..=70 in one run before a crash; a checkpoint had dropped
        // the journal's records of calls up to 65, so the journal replays 66..=72. Inserted
        // alone, record 70 would replace the run (losing 60..=65) and 66..=69 would be listed
        // twice.
        let store = Store::temporary().expect("store");
        let key = GroupKey { session: "s1".into(), round: 1, group: 1 };
        let (earlier, earlier_records) = run_and_records(&key, 1, 59);
        store.live.insert(keyed(&key.prefix(b'C'), 59), earlier).expect("insert");
        let (run, _) = run_and_records(&key, 60, 70);
        store.live.insert(keyed(&key.prefix(b'C'), 70), run).expect("insert");
        let (_, journal) = run_and_records(&key, 66, 72);
        let mut replay = Replay::new(&store.live);
        for (k, v) in &journal {
            replay.record(k, v).expect("replay");
        }
        // A value of no entries (never written, but sled's bytes are not ours to trust) is no run.
        let other = GroupKey { session: "s1".into(), round: 1, group: 2 };
        store.live.insert(keyed(&other.prefix(b'C'), 5), &b"[]"[..]).expect("insert");
        let (_, other_records) = run_and_records(&other, 3, 3);
        replay.record(&other_records[0].0, &other_records[0].1).expect("replay");
        assert!(store.live.get(&other_records[0].0).expect("get").is_some());
        // Records of another group, and older ones of this group already in a run, change nothing.
        for (k, v) in &earlier_records[..3] {
            replay.record(k, v).expect("replay");
        }
        let calls: Vec<u64> = store.calls(&key).expect("calls").iter().map(|e| e.call).collect();
        assert_eq!(calls, (1..=72).collect::<Vec<_>>());
        let seqs: Vec<u64> = store.messages(&key).expect("messages").iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=72).collect::<Vec<_>>());
        // Old single-entry records (as the journal writes them, and as sled held every entry
        // before runs) read like runs: 71 and 72 are singles here.
        assert_eq!(store.live.scan_prefix(key.prefix(b'C')).count(), 4);
        let reread = store.group(key, 1).expect("group");
        assert_eq!((reread.next_call, reread.next_seq), (73, 73));
    }

    #[test]
    fn recovery_applies_the_calls_of_a_run_past_the_marker() {
        // A crash after a settle wrote its runs but before its marker: the run's calls past
        // the old marker are applied again.
        let dir = tempfile::tempdir().expect("tempdir");
        let key = GroupKey { session: "s1".into(), round: 1, group: 5 };
        {
            let store = Store::open(dir.path()).expect("open");
            let mut group = store.group(key.clone(), 1).expect("group");
            for n in [10, 20, 30] {
                bid(&store, &mut group, n);
            }
            store.settle(&key).expect("settle");
            store.live.insert(key.prefix(b'A'), &1u64.to_be_bytes()).expect("marker");
            store.live.insert(key.group_field("max_bid"), &b"10"[..]).expect("field");
            assert_eq!(store.recover().expect("recover"), 2);
            assert_eq!(max_bid(&store, &key).as_deref(), Some(&b"30"[..]));
            assert_eq!(store.live.get(key.prefix(b'A')).expect("marker").as_deref(), Some(&3u64.to_be_bytes()[..]));
            store.wait_durable().expect("flush");
        }
        // And after a restart (the journal replays calls the run holds): each call once.
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.calls(&key).expect("calls").iter().map(|e| e.call).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(max_bid(&store, &key).as_deref(), Some(&b"30"[..]));
    }
}
