//! The records of sessions and participants ([`Session`], [`Participant`]), in the
//! `sessions` and `participants` trees, and how a session is created and its participants
//! moved.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::live::GroupKey;
use crate::manifest::Grouping;
use crate::manifest::Manifest;
use crate::store::codes::random_code;
use crate::store::database::Store;
use crate::store::error::StoreError;

/// A session of one game.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// Session code.
    pub code: String,
    /// The game's name.
    pub game: String,
    /// Players per group when the session was made.
    pub players_per_group: u32,
    /// Participant codes in order of position (see [`crate::store::seating`]).
    pub participants: Vec<String>,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: u64,
    /// The `[[session_config]]` chosen at creation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment: Option<String>,
    /// The session's config: `[config]`, the treatment's values and the edits made at creation
    /// (sessions made before configs existed have none: `{}`).
    #[serde(default)]
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The session's secret seed: the random a game draws in a call comes from it and the
    /// call's position (see `crate::game::determinism`). Sessions made before seeds: 0.
    #[serde(default)]
    pub seed: u64,
    /// How its groups are drawn each round (sessions made before groupings: fixed).
    #[serde(default, skip_serializing_if = "is_fixed")]
    pub grouping: Grouping,
}

fn is_fixed(g: &Grouping) -> bool {
    *g == Grouping::Fixed
}

/// One participant: where they are in the page sequence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Participant {
    /// Unguessable code (the only credential a participant has).
    pub code: String,
    /// Session code.
    pub session: String,
    /// 0-based position in the session.
    pub index: u32,
    /// 1-based group number.
    pub group: u32,
    /// 1-based id in the group.
    pub id_in_group: u32,
    /// 1-based round.
    pub round: u32,
    /// Index of the current page; equal to the page count when finished.
    pub page_index: u32,
    /// When the participant arrived on the current page, ms since the Unix epoch.
    pub page_entered_ms: u64,
    /// When they first loaded the current page, if they have: its timeout counts from here
    /// (oTree's rule), so a late arrival loses no time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_viewed_ms: Option<u64>,
    /// When the current page times out, if the game's `get-timeout-seconds` set it at the
    /// first view (it overrides the page's `timeout_seconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_deadline_ms: Option<u64>,
}

impl Participant {
    /// The participant's group in the current round.
    pub fn group_key(&self) -> GroupKey {
        GroupKey { session: self.session.clone(), round: self.round, group: self.group }
    }
}

impl Store {
    /// Creates a session of `manifest`'s game with `participants` participants, seated for
    /// round 1 (see [`crate::store::seating`]), all on its first page.
    pub fn create_session(&self, manifest: &Manifest, participants: u32) -> Result<(Session, Vec<Participant>), StoreError> {
        let config = manifest.session_config(None, &serde_json::Map::new()).map_err(StoreError::Invalid)?;
        self.create_session_with(manifest, participants, None, config)
    }

    /// [`Store::create_session`] with treatment `treatment` and its resolved `config` (see
    /// [`Manifest::session_config`]), kept with the session. The game is not called: a 0.2
    /// game's sessions are made by [`crate::game::Game::create_session`], which runs its
    /// `creating-session`.
    pub fn create_session_with(
        &self,
        manifest: &Manifest,
        participants: u32,
        treatment: Option<String>,
        config: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(Session, Vec<Participant>), StoreError> {
        let (session, people) = self.new_session(manifest, participants, treatment, config, None)?;
        self.insert_session(&session, &people, Vec::new())?;
        Ok((session, people))
    }

    /// A new session and its participants, seated for round 1, all on the first page of
    /// round 1, with a code no stored session has and `seed` (else a random one); nothing is
    /// stored yet.
    pub(crate) fn new_session(
        &self,
        manifest: &Manifest,
        participants: u32,
        treatment: Option<String>,
        config: serde_json::Map<String, serde_json::Value>,
        seed: Option<u64>,
    ) -> Result<(Session, Vec<Participant>), StoreError> {
        let ppg = manifest.group_size(participants);
        if participants == 0 || !participants.is_multiple_of(ppg) {
            return Err(StoreError::Invalid(format!(
                "game `{}` has groups of {ppg}: the number of participants must be a positive multiple of {ppg}, not {participants}",
                manifest.name
            )));
        }
        if participants > 100_000 {
            return Err(StoreError::Invalid(format!("at most 100000 participants per session, not {participants}")));
        }
        self.refuse_if_halted()?;
        let code = loop {
            let code = random_code(8);
            if !self.sessions.contains_key(&code)? {
                break code;
            }
        };
        let now = now_ms();
        let session = Session {
            code: code.clone(),
            game: manifest.name.clone(),
            players_per_group: ppg,
            participants: (0..participants).map(|_| random_code(16)).collect(),
            created_ms: now,
            treatment,
            config,
            seed: seed.unwrap_or_else(rand::random),
            grouping: manifest.grouping,
        };
        let first = self.seating(&session, 1)?;
        let people: Vec<Participant> = session
            .participants
            .iter()
            .zip(0..)
            .map(|(pcode, index)| {
                let (group, id_in_group) = first.seat(index + 1).unwrap_or((0, 0));
                Participant {
                    code: pcode.clone(),
                    session: code.clone(),
                    index,
                    group,
                    id_in_group,
                    round: 1,
                    page_index: 0,
                    page_entered_ms: now,
                    page_viewed_ms: None,
                    page_deadline_ms: None,
                }
            })
            .collect();
        Ok((session, people))
    }

    /// Stores a session made by [`Store::new_session`] with the `live` records its creation
    /// wrote (field values, `creating-session`'s entries): those first, in one batch, and the
    /// session's own record last, so a session that can be found has all of them.
    pub(crate) fn insert_session(&self, session: &Session, people: &[Participant], live: crate::live::Records) -> Result<(), StoreError> {
        self.refuse_if_halted()?;
        self.live.insert_records(live)?;
        let mut batch = sled::Batch::default();
        for p in people {
            batch.insert(p.code.as_bytes(), encode(p));
        }
        self.participants.apply_batch(batch)?;
        self.participants_written.fetch_add(1, std::sync::atomic::Ordering::Release);
        self.sessions.insert(session.code.as_bytes(), encode(session))?;
        Ok(())
    }

    /// The session's config as JSON text, for every call's context (read once per session and
    /// kept: a session's config never changes).
    pub fn session_config_text(&self, code: &str) -> Arc<str> {
        self.session_constants(code).0
    }

    /// The session's seed (read once per session and kept); 0 for an unknown session.
    pub fn session_seed(&self, code: &str) -> u64 {
        self.session_constants(code).1
    }

    /// What never changes in a session and every call reads: its config as text, its seed.
    fn session_constants(&self, code: &str) -> (Arc<str>, u64) {
        let mut known = self.configs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = known.get(code) {
            return known.clone();
        }
        let constants: (Arc<str>, u64) = match self.session(code) {
            Ok(Some(s)) => (serde_json::Value::Object(s.config).to_string().into(), s.seed),
            _ => return ("{}".into(), 0),
        };
        known.insert(code.to_string(), constants.clone());
        constants
    }

    /// The session with this code.
    pub fn session(&self, code: &str) -> Result<Option<Session>, StoreError> {
        self.sessions.get(code)?.map(|v| decode(code.as_bytes(), &v)).transpose()
    }

    /// Every session, oldest first.
    pub fn sessions(&self) -> Result<Vec<Session>, StoreError> {
        let mut all = self
            .sessions
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect::<Result<Vec<Session>, StoreError>>()?;
        all.sort_by_key(|s| s.created_ms);
        Ok(all)
    }

    /// Bytes `session` holds: its records (the session's, its participants') and its live
    /// log's call entries. Counted once, then kept up to date as calls are logged: an estimate
    /// (see `crate::live::usage`), cheap to ask again.
    pub fn session_bytes(&self, session: &Session) -> Result<u64, StoreError> {
        Ok(self.live.session_bytes(&session.code, || {
            let mut bytes = (session.code.len() + encode(session).len()) as u64;
            for code in &session.participants {
                bytes += (code.len() + self.participants.get(code)?.map_or(0, |v| v.len())) as u64;
            }
            Ok(bytes)
        })?)
    }

    /// The participant with this code.
    pub fn participant(&self, code: &str) -> Result<Option<Participant>, StoreError> {
        self.participants.get(code)?.map(|v| decode(code.as_bytes(), &v)).transpose()
    }

    /// Saves a participant's position.
    pub fn put_participant(&self, p: &Participant) -> Result<(), StoreError> {
        self.refuse_if_halted()?;
        self.participants.insert(p.code.as_bytes(), encode(p))?;
        self.participants_written.fetch_add(1, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// The participant `code` as [`Store::participant`] reads it, from `seen` when no
    /// participant was written since it was read (a live socket checks its participant's page
    /// on every frame: this spares a sled read and a parse per frame).
    pub fn participant_since<'a>(&self, code: &str, seen: &'a mut Option<(u64, Participant)>) -> Result<Option<&'a Participant>, StoreError> {
        let written = self.participants_written.load(std::sync::atomic::Ordering::Acquire);
        if !matches!(seen, Some((at, p)) if *at == written && p.code == code) {
            *seen = self.participant(code)?.map(|p| (written, p));
        }
        Ok(seen.as_ref().map(|(_, p)| p))
    }
}

/// A record as stored: its JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing our own plain structs cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// A stored record read back; one that does not decode is corrupt, named by its key.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A game of one-player groups and two pages.
    fn two_pages() -> Manifest {
        Manifest::parse(
            Path::new("t/game.toml"),
            "name = \"t\"\nplayers_per_group = 1\ncomponent = \"x.wasm\"\n[[page]]\nname = \"A\"\ntemplate = \"A.hbs\"\n[[page]]\nname = \"B\"\ntemplate = \"B.hbs\"\n",
        )
        .expect("manifest")
    }

    #[test]
    fn after_a_failed_journal_write_sessions_and_page_moves_are_refused_with_the_reason_and_not_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let disk = crate::journal::mem::Mem::default();
        let store = Store::open_on(dir.path(), disk.clone()).expect("store");
        let manifest = two_pages();
        let (session, people) = store.create_session(&manifest, 2).expect("a good disk");
        disk.fail_next_write();
        store.live.journal.append(b"k", b"v").expect("appended");
        store.wait_durable().expect_err("the journal's write failed");
        let refused = store.create_session(&manifest, 2).expect_err("no new session").to_string();
        assert!(refused.starts_with("the live journal failed to write: ") && refused.contains("No space left"), "{refused}");
        assert!(refused.ends_with("; restart the server after fixing the disk"), "{refused}");
        assert!(matches!(store.create_session(&manifest, 2), Err(StoreError::Halted(_))));
        assert_eq!(store.sessions().expect("sessions").len(), 1, "the refused session was not written");
        let mut moved = people[0].clone();
        moved.page_index = 1;
        assert_eq!(store.put_participant(&moved).expect_err("no page move").to_string(), refused);
        assert_eq!(store.participant(&moved.code).expect("read").map(|p| p.page_index), Some(0), "the move was not written");
        assert_eq!(store.session(&session.code).expect("read").map(|s| s.participants.len()), Some(2));
    }

    #[test]
    fn a_participant_read_since_is_read_again_once_any_participant_was_written() {
        let store = Store::temporary().expect("store");
        let manifest = two_pages();
        let (_, people) = store.create_session(&manifest, 2).expect("session");
        let (a, b) = (&people[0], &people[1]);
        let mut seen = None;
        assert_eq!(store.participant_since(&a.code, &mut seen).expect("read").map(|p| p.page_index), Some(0));
        // Another participant's move, then this one's: each makes the next check read again.
        let mut moved = b.clone();
        moved.page_index = 1;
        store.put_participant(&moved).expect("put");
        let mut moved = a.clone();
        moved.page_index = 1;
        store.put_participant(&moved).expect("put");
        assert_eq!(store.participant_since(&a.code, &mut seen).expect("read").map(|p| p.page_index), Some(1));
        // What was seen for one code is never taken for another.
        assert_eq!(store.participant_since(&b.code, &mut seen).expect("read").map(|p| p.code.clone()), Some(b.code.clone()));
        assert!(store.participant_since("nobody", &mut seen).expect("read").is_none());
    }
}
