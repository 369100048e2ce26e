//! The page hooks of contract 0.2 that write: a submission's `before-next-page` (with the
//! form's values stored first) and a wait page's `after-all-players-arrive`. Each is a call in
//! the group's log like a live call — all or nothing, journaled, durable before the
//! participant moves on — and each runs once: a hook already committed for its page and
//! player (after a crash between the commit and the page move) is not run again.

use serde_json::value::RawValue;

use crate::game::calls::{At, field_writes};
use crate::game::error::CallError;
use crate::game::json::raw_json;
use crate::game::state::{Instance, Mode, Owner, Write};
use crate::game::{Committed, Game};
use crate::live::{Group, Payload};
use crate::store::Store;

/// A writing page hook.
#[derive(Debug, Clone)]
pub enum Hook {
    /// A page left by a submission (or its timeout): the form's typed values, stored in the
    /// player's fields, then `before-next-page`.
    Submit { values: Vec<(String, Box<RawValue>)>, timeout_happened: bool },
    /// The last of a group arriving on a wait page: `after-all-players-arrive`.
    Arrive,
}

impl Hook {
    /// What the log's entry holds as its payload: the hook and its input.
    fn payload(&self) -> String {
        match self {
            Hook::Submit { values, timeout_happened } => {
                let values: serde_json::Map<String, serde_json::Value> =
                    values.iter().map(|(k, v)| (k.clone(), serde_json::from_str(v.get()).unwrap_or(serde_json::Value::Null))).collect();
                serde_json::json!({ "hook": "before-next-page", "values": values, "timeout_happened": timeout_happened }).to_string()
            }
            Hook::Arrive => serde_json::json!({ "hook": "after-all-players-arrive" }).to_string(),
        }
    }

    /// The hook's name, as its entries' payloads say.
    fn name(&self) -> &'static str {
        match self {
            Hook::Submit { .. } => "before-next-page",
            Hook::Arrive => "after-all-players-arrive",
        }
    }
}

impl Game {
    /// Runs `hook` for player `id` (0 for a group's hook) on `page` of `group` and commits its
    /// writes; `Ok(None)` when it was committed already. A failure writes nothing but an
    /// error entry, and is the reason the participant stays where they are.
    pub fn hook_call_in(
        &self,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &mut Group,
        page: &str,
        id: u32,
        hook: &Hook,
    ) -> Result<Option<Committed>, CallError> {
        self.hook_call_at(slot, store, group, page, id, hook, crate::clock::now_ms())
    }

    /// [`Game::hook_call_in`] at `time_ms`: what the game's clock reads and its entry records
    /// (a replay re-issues a hook at its logged time).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn hook_call_at(
        &self,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &mut Group,
        page: &str,
        id: u32,
        hook: &Hook,
        time_ms: u64,
    ) -> Result<Option<Committed>, CallError> {
        if let Some(refusal) = store.refusing_calls() {
            return Err(CallError::Host(refusal));
        }
        if self.hook_done(store, group, page, id, hook)? {
            return Ok(None);
        }
        let payload = hook.payload();
        let result = self.try_hook(slot, store, group, page, id, hook, &payload, time_ms);
        if let Err(e) = &result {
            *slot = None;
            let key = &group.key;
            tracing::warn!(game = %self.manifest.name, session = %key.session, round = key.round, group = key.group, player = id, page, "{} failed: {e}", hook.name());
            store.log_failure(time_ms, group, page, id, &payload, true, &e.to_string())?;
        }
        result.map(Some)
    }

    /// Whether the group's log holds a committed `hook` of `id` on `page`.
    fn hook_done(&self, store: &Store, group: &Group, page: &str, id: u32, hook: &Hook) -> Result<bool, CallError> {
        let calls = store.calls(&group.key)?;
        // Only the host's own hook entries: a live call's payload, a client's, may look like one.
        Ok(calls.iter().rev().any(|c| {
            c.hook
                && c.error.is_none()
                && c.page == page
                && c.sender == id
                && serde_json::from_str::<serde_json::Value>(c.payload.get()).is_ok_and(|p| p["hook"] == hook.name())
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn try_hook(
        &self,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &mut Group,
        page: &str,
        id: u32,
        hook: &Hook,
        payload: &str,
        time_ms: u64,
    ) -> Result<Committed, CallError> {
        let ctx = self.context(store, &group.key, group.players, page);
        let at = At { time_ms, call: group.next_call, what: hook.name(), seed: None };
        let (result, effects) = self.run_at(slot, store, &group.key, group.players, Mode::Live, at, |g, s| match hook {
            Hook::Submit { values, timeout_happened } => {
                for (name, value) in values {
                    s.data_mut()
                        .writes
                        .insert(group.key.player_field(id, name), Write { owner: Owner::Player(id), name: name.clone(), value: value.clone() });
                }
                g.before_next_page(s, &ctx, id, *timeout_happened)
            }
            Hook::Arrive => g.after_all_players_arrive(s, &ctx),
        });
        result?.map_err(CallError::Refused)?;
        let stored = raw_json(payload.to_string()).map_err(|e| CallError::Host(format!("hook payload: {e}")))?;
        let (call, messages) = store.commit_call(time_ms, group, page, id, Payload::hook(stored), field_writes(effects.writes), Vec::new())?;
        Ok(Committed { call, messages })
    }
}
