//! A session's creation: `creating-session` once per round, for the whole round (oTree's
//! `creating_session`), before the session exists for anyone. Its writes — every group's and
//! player's fields of the round, the participants' and the session's — are stored with the
//! session in one batch, with one log entry per round (group 0 of the round) saying what the
//! call wrote; a failure in any round creates nothing.

use std::collections::{BTreeMap, HashMap};

use serde_json::value::RawValue;

use crate::game::Game;
use crate::game::World;
use crate::game::calls::{At, Effects};
use crate::game::error::CallError;
use crate::game::json::raw_json;
use crate::game::state::{Creation, Mode, Owner, Write};
use crate::game::world::Context;
use crate::live::{CallEntry, FieldWrites, GroupKey, Records};
use crate::store::{Participant, Session, Store, StoreError, now_ms};

impl Game {
    /// Creates a session of this game with `participants` participants, treatment
    /// `treatment` and its resolved `config`, and `seed` (else one drawn at random), running
    /// `creating-session` for every round (0.2 games) and storing what it wrote with the
    /// session. A failed call refuses the session, naming the round and the reason; nothing
    /// is stored.
    pub fn create_session(
        &self,
        store: &Store,
        participants: u32,
        treatment: Option<String>,
        config: serde_json::Map<String, serde_json::Value>,
        seed: Option<u64>,
    ) -> Result<(Session, Vec<Participant>), StoreError> {
        let (session, people) = store.new_session(&self.manifest, participants, treatment, config, seed)?;
        let records = match self.world() {
            World::V0_1 => Vec::new(),
            World::V0_2 => self.creating_session(store, &session, &|_| now_ms()).map_err(|why| {
                tracing::warn!(game = %self.manifest.name, session = %session.code, "the session was not created: {why}");
                StoreError::Invalid(why)
            })?,
        };
        store.put_provenance(&session.code, &self.provenance)?;
        store.insert_session(&session, &people, records)?;
        Ok((session, people))
    }

    /// [`Game::create_session`] with the game's `[config]` and no treatment.
    pub fn create_default_session(&self, store: &Store, participants: u32) -> Result<(Session, Vec<Participant>), StoreError> {
        let config = self.manifest.session_config(None, &serde_json::Map::new()).map_err(StoreError::Invalid)?;
        self.create_session(store, participants, None, config, None)
    }

    /// Runs `creating-session` for each round, on one instance, round `r`'s at `time_of(r)`:
    /// the `live` records to store with the session (field values, and each round's entry
    /// and marker).
    pub(crate) fn creating_session(&self, store: &Store, session: &Session, time_of: &dyn Fn(u32) -> u64) -> Result<Records, String> {
        let n = session.participants.len() as u32;
        let config = serde_json::Value::Object(session.config.clone()).to_string();
        let key = GroupKey::creation(&session.code);
        let mut earlier: HashMap<Vec<u8>, Box<RawValue>> = HashMap::new();
        let mut records: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut slot = None;
        for round in 1..=self.manifest.num_rounds {
            let ctx = Context {
                session: session.code.clone(),
                round_number: round,
                page: String::new(),
                group_id: 0,
                players: n,
                num_rounds: self.manifest.num_rounds,
                config: config.clone(),
            };
            let seating = store.seating(session, round).map_err(|e| e.to_string())?;
            let creation = Creation { round, seating, earlier: std::mem::take(&mut earlier) };
            let what = format!("creating-session {round}");
            let at = At { time_ms: time_of(round), call: 1, what: &what, seed: Some(session.seed) };
            let time_ms = at.time_ms;
            let (result, Effects { writes, mode }) =
                self.run_at(&mut slot, store, &key, n, Mode::Creating(Box::new(creation)), at, |g, s| g.creating_session(s, &ctx));
            let failed = |e: CallError| format!("game `{}`: creating-session failed in round {round}: {e}", self.manifest.name);
            result.map_err(failed)?.map_err(|e| failed(CallError::Refused(e)))?;
            if let Mode::Creating(c) = mode {
                earlier = c.earlier;
            }
            let round_key = GroupKey { session: session.code.clone(), round, group: 0 };
            let entry = creation_entry(time_ms, writes.iter().map(|(_, w)| w));
            let entry = serde_json::to_vec(&entry).map_err(|e| e.to_string())?;
            records.insert(round_key.call(1), entry);
            records.insert(round_key.marker(), 1u64.to_be_bytes().to_vec());
            for (k, w) in writes {
                records.insert(k.clone(), w.value.get().as_bytes().to_vec());
                earlier.insert(k, w.value);
            }
        }
        Ok(records.into_iter().collect())
    }
}

/// A round's `creating-session` entry: call 1 of the round's group 0, holding what it wrote.
fn creation_entry<'a>(time_ms: u64, writes: impl Iterator<Item = &'a Write>) -> CallEntry {
    let mut out = FieldWrites::default();
    for w in writes {
        let value = w.value.clone();
        let name = w.name.clone();
        match w.owner {
            Owner::GroupIn(g) => out.groups.entry(g).or_default().insert(name, value),
            Owner::Player(p) => out.players.entry(p).or_default().insert(name, value),
            Owner::Participant(p) => out.participants.entry(p).or_default().insert(name, value),
            Owner::Session => out.session.insert(name, value),
            Owner::Group => None,
        };
    }
    CallEntry {
        call: 1,
        time_ms,
        page: String::new(),
        sender: 0,
        payload: raw_json(r#"{"hook":"creating-session"}"#.to_string()).unwrap_or_else(|_| RawValue::NULL.to_owned()),
        hook: true,
        seqs: None,
        error: None,
        writes: out,
        messages: Vec::new(),
    }
}
