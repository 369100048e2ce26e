//! A call's entry in the log ([`CallEntry`], with its [`FieldWrites`]) and how a `live` value
//! holds entries ([`CallRecord`]): one entry, as the journal writes it, or a run of them, as
//! the write-back writes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::live::error::LiveError;
use crate::live::keys::GroupKey;

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
    /// Whether it was a page hook (`before-next-page`, `after-all-players-arrive`,
    /// `creating-session`), whose payload the host wrote; absent for a live call, whose
    /// payload a client sent (which may look like a hook's: a replay tells them apart by this).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hook: bool,
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

/// What a call is committed with: its payload, and whether the host wrote it for a page hook
/// (a payload alone is a live call's).
#[derive(Debug)]
pub struct Payload {
    /// The payload, JSON.
    pub json: Box<RawValue>,
    /// Whether the call is a page hook.
    pub hook: bool,
}

impl Payload {
    /// A page hook's payload.
    pub(crate) fn hook(json: Box<RawValue>) -> Payload {
        Payload { json, hook: true }
    }
}

impl From<Box<RawValue>> for Payload {
    /// A live call's payload.
    fn from(json: Box<RawValue>) -> Payload {
        Payload { json, hook: false }
    }
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
    /// The players' participant fields by id in group, then name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub participants: BTreeMap<u32, BTreeMap<String, Box<RawValue>>>,
    /// Only in a round's `creating-session` entry (group 0): each group's fields by group id.
    /// There, `players` and `participants` are keyed by position in the session, and the
    /// values were stored with the session, whose creation wrote the entry's marker too.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<u32, BTreeMap<String, Box<RawValue>>>,
    /// Only in a `creating-session` entry: the session's fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub session: BTreeMap<String, Box<RawValue>>,
}

impl FieldWrites {
    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.group.is_empty() && self.players.is_empty() && self.participants.is_empty() && self.groups.is_empty() && self.session.is_empty()
    }

    /// The `live` keys and values of these writes by a call of `key`'s group (a group's call:
    /// a creation entry's are stored with the session).
    pub(crate) fn records<'a>(&'a self, key: &'a GroupKey) -> impl Iterator<Item = (Vec<u8>, &'a RawValue)> {
        let group = self.group.iter().map(|(name, value)| (key.group_field(name), &**value));
        let players =
            self.players.iter().flat_map(move |(id, fields)| fields.iter().map(move |(name, value)| (key.player_field(*id, name), &**value)));
        let participants = self
            .participants
            .iter()
            .flat_map(move |(id, fields)| fields.iter().map(move |(name, value)| (key.participant_field(*id, name), &**value)));
        group.chain(players).chain(participants)
    }
}

/// A `live` value under a `C` key, told apart by its first byte. The key's number is the
/// value's last call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CallRecord<'a> {
    /// One entry, a JSON object: as the journal holds it (and as sled held every entry before
    /// runs).
    One(&'a [u8]),
    /// Consecutive entries, oldest first, a JSON array: as a group's write-back writes them,
    /// one record for many calls instead of one each, since sled's inserts cost per record.
    Run(&'a [u8]),
}

impl<'a> CallRecord<'a> {
    /// Which kind of value `value` is.
    pub(crate) fn of(value: &'a [u8]) -> CallRecord<'a> {
        if value.first() == Some(&b'[') { CallRecord::Run(value) } else { CallRecord::One(value) }
    }

    /// The value's entries, oldest first; `key` names it if it does not decode.
    pub(crate) fn entries(self, key: &[u8]) -> Result<Vec<CallEntry>, LiveError> {
        let corrupt = |e: serde_json::Error| LiveError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason: e.to_string() };
        match self {
            CallRecord::Run(value) => serde_json::from_slice(value).map_err(corrupt),
            CallRecord::One(value) => serde_json::from_slice(value).map(|e| vec![e]).map_err(corrupt),
        }
    }

    /// How many entries the value holds, counted without building them (`None` if it does not
    /// decode).
    pub(crate) fn count(self) -> Option<u64> {
        match self {
            CallRecord::Run(value) => serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(value).ok().map(|v| v.len() as u64),
            CallRecord::One(_) => Some(1),
        }
    }

    /// The [`CallRecord::Run`] value of consecutive entries (each one entry's JSON), oldest first.
    pub(crate) fn run(entries: &[(u64, sled::IVec)]) -> Vec<u8> {
        let mut value = Vec::with_capacity(entries.iter().map(|(_, v)| v.len() + 1).sum::<usize>() + 1);
        for (i, (_, entry)) in entries.iter().enumerate() {
            value.push(if i == 0 { b'[' } else { b',' });
            value.extend_from_slice(entry);
        }
        value.push(b']');
        value
    }
}
