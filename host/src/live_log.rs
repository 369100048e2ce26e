//! The append-only live log of each group, and the one atomic batch a live call commits.
//!
//! Per group, in the `live` tree:
//! - `C` + group + call number (u64 BE) → [`CallEntry`]: every call, succeeded or failed;
//! - `M` + group + seq (u64 BE) → [`StoredMessage`]: every routed message.
//!
//! A successful call writes its field values, its call entry and its messages in one
//! `apply_batch`, so after a crash either all of them exist or none does. A failed call
//! writes only its call entry, with the reason.

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
}

/// A routed message as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMessage {
    /// The call that routed it.
    pub call: u64,
    /// Recipient, 0 for everyone.
    pub to: u32,
    /// Payload.
    pub payload: Box<RawValue>,
}

fn keyed(prefix: &[u8], n: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

fn last_number(store: &Store, prefix: &[u8]) -> Result<u64, StoreError> {
    match store.live.scan_prefix(prefix).next_back() {
        Some(kv) => {
            let (k, _) = kv?;
            let tail: [u8; 8] = k[prefix.len()..].try_into().map_err(|_| StoreError::Corrupt {
                key: String::from_utf8_lossy(&k).into_owned(),
                reason: "log key is not 8 bytes after its prefix".into(),
            })?;
            Ok(u64::from_be_bytes(tail))
        }
        None => Ok(0),
    }
}

fn raw(json: &str) -> Result<Box<RawValue>, StoreError> {
    RawValue::from_string(json.to_string()).map_err(|e| StoreError::Invalid(format!("not JSON: {e}")))
}

impl Store {
    /// The group's log position, read from the log's last entries.
    pub fn group(&self, key: GroupKey, players: u32) -> Result<Group, StoreError> {
        let next_seq = last_number(self, &key.prefix(b'M'))? + 1;
        let next_call = last_number(self, &key.prefix(b'C'))? + 1;
        Ok(Group { key, players, next_seq, next_call })
    }

    /// Commits a successful call: field writes, call entry and messages in one atomic batch.
    /// `payload` and every message payload must be JSON text (the caller has checked).
    pub(crate) fn commit_call(
        &self,
        group: &mut Group,
        page: &str,
        sender: u32,
        payload: &str,
        writes: Vec<(Vec<u8>, String)>,
        messages: Vec<(u32, String)>,
    ) -> Result<(u64, Vec<Routed>), StoreError> {
        let call = group.next_call;
        let first = group.next_seq;
        let mut batch = sled::Batch::default();
        for (key, value) in writes {
            batch.insert(key, value.into_bytes());
        }
        let mprefix = group.key.prefix(b'M');
        let mut routed = Vec::with_capacity(messages.len());
        for (i, (to, payload)) in messages.into_iter().enumerate() {
            let seq = first + i as u64;
            let stored = StoredMessage { call, to, payload: raw(&payload)? };
            batch.insert(keyed(&mprefix, seq), serde_json::to_vec(&stored).unwrap_or_default());
            routed.push(Routed { seq, to, payload });
        }
        let entry = CallEntry {
            call,
            time_ms: now_ms(),
            page: page.to_string(),
            sender,
            payload: raw(payload)?,
            seqs: routed.last().map(|last| (first, last.seq)),
            error: None,
        };
        batch.insert(keyed(&group.key.prefix(b'C'), call), serde_json::to_vec(&entry).unwrap_or_default());
        self.live.apply_batch(batch)?;
        group.next_call += 1;
        group.next_seq += routed.len() as u64;
        Ok((call, routed))
    }

    /// Logs a failed call: its entry with the reason, nothing else.
    pub(crate) fn log_failure(
        &self,
        group: &mut Group,
        page: &str,
        sender: u32,
        payload: &str,
        reason: &str,
    ) -> Result<u64, StoreError> {
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
        };
        self.live.insert(keyed(&group.key.prefix(b'C'), call), serde_json::to_vec(&entry).unwrap_or_default())?;
        group.next_call += 1;
        Ok(call)
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
        let prefix = key.prefix(b'M');
        let mut out = Vec::new();
        for kv in self.live.range(keyed(&prefix, after.saturating_add(1))..=keyed(&prefix, u64::MAX)) {
            let (k, v) = kv?;
            let seq = u64::from_be_bytes(k[prefix.len()..].try_into().unwrap_or([0xff; 8]));
            let m: StoredMessage = serde_json::from_slice(&v)
                .map_err(|e| StoreError::Corrupt { key: format!("{key} seq {seq}"), reason: e.to_string() })?;
            if reaching.is_none_or(|id| m.to == 0 || m.to == id) {
                out.push(Routed { seq, to: m.to, payload: m.payload.get().to_string() });
            }
        }
        Ok(out)
    }

    /// Every call entry of a group, in order.
    pub fn calls(&self, key: &GroupKey) -> Result<Vec<CallEntry>, StoreError> {
        self.live
            .scan_prefix(key.prefix(b'C'))
            .map(|kv| {
                let (_, v) = kv?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt { key: format!("{key} call"), reason: e.to_string() })
            })
            .collect()
    }
}
