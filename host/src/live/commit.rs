//! How a live call commits: its entry appended to the journal and staged in the write-behind
//! cache ([`LiveLog::commit_call`], [`LiveLog::log_failure`]).

use serde_json::value::RawValue;

use crate::live::entry::{CallEntry, FieldWrites, Payload};
use crate::live::error::LiveError;
use crate::live::keys::GroupKey;
use crate::live::log::LiveLog;
use crate::live::{Group, Routed};

impl LiveLog {
    /// Commits a successful call that ran at `time_ms`: its call entry (the atomic commit
    /// record, holding the field writes and messages); its field values are written back later.
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
    ) -> Result<(u64, Vec<Routed>), LiveError> {
        let call = group.next_call;
        let first = group.next_seq;
        let entry = CallEntry {
            seqs: (!messages.is_empty()).then(|| (first, first + messages.len() as u64 - 1)),
            writes,
            messages,
            ..stamped(time_ms, call, page, sender, payload)
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

    /// Logs a failed call that ran at `time_ms` (the time its game's clock read): its entry
    /// with the reason, nothing else. `hook`: whether it was a page hook.
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
    ) -> Result<u64, LiveError> {
        let call = group.next_call;
        let json = raw(payload).or_else(|_| raw(&serde_json::Value::String(payload.to_string()).to_string()))?;
        let payload = Payload { json, hook };
        let entry = CallEntry { error: Some(reason.to_string()), ..stamped(time_ms, call, page, sender, payload) };
        self.log_entry(&group.key, &entry, false)?;
        group.next_call += 1;
        Ok(call)
    }

    /// Appends a call entry to the journal, where it becomes durable (see
    /// [`crate::journal`]), and stages it with its field writes, to be written to `live`
    /// when the group is written back. `applied`: whether the call succeeded (moves the marker).
    fn log_entry(&self, key: &GroupKey, entry: &CallEntry, applied: bool) -> Result<(), LiveError> {
        if let Some(refusal) = self.refusal() {
            return Err(refusal);
        }
        let value = serde_json::to_vec(entry).unwrap_or_default();
        let call_key = key.call(entry.call);
        self.journal.append(&call_key, &value).map_err(|e| LiveError::TooLong(e.to_string()))?;
        self.session_bytes.add(&key.session, call_key.len() + value.len());
        if self.write_behind.stage(key, entry.call, sled::IVec::from(value), &entry.writes, applied) {
            self.write_behind.write_back_soon(key)?;
        }
        Ok(())
    }
}

/// The entry of call `call`, sent by `sender` on `page` at `time_ms`: nothing routed,
/// written or refused yet.
fn stamped(time_ms: u64, call: u64, page: &str, sender: u32, payload: impl Into<Payload>) -> CallEntry {
    let Payload { json, hook } = payload.into();
    CallEntry {
        call,
        time_ms,
        page: page.to_string(),
        sender,
        payload: json,
        hook,
        seqs: None,
        error: None,
        writes: FieldWrites::default(),
        messages: Vec::new(),
    }
}

/// `json` as a raw JSON value.
pub(super) fn raw(json: &str) -> Result<Box<RawValue>, LiveError> {
    Ok(RawValue::from_string(json.to_string())?)
}
