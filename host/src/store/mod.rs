//! `Store`: everything Stoa keeps, in one sled database.
//!
//! Trees:
//! - `live`: group fields, player fields, and the live log, keyed by group so a call's field
//!   writes and its log entries go into one atomic batch (see [`crate::live`]);
//! - `sessions`: session code → [`Session`];
//! - `participants`: participant code → [`Participant`];
//! - `meta`: host settings such as the admin token.
//!
//! Field values are stored only once written; a read of an unwritten field gives the
//! manifest's initial value.

mod flush;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::game::manifest::Manifest;
use crate::journal::{BoxError, Checkpoint, Fs, Journal, Segments};
use crate::store::flush::GroupCommit;

/// A storage failure. Nothing a client or a game sends can cause one; the disk can.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported an error.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record could not be decoded.
    #[error("corrupt record `{key}`: {reason}")]
    Corrupt { key: String, reason: String },
    /// The durable flush failed.
    #[error("{0}")]
    Flush(String),
    /// A request the store cannot satisfy (bad participant count...).
    #[error("{0}")]
    Invalid(String),
}

/// Identifies a group: its session, round and number. Groups are formed per round.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// Session code.
    pub session: String,
    /// 1-based round.
    pub round: u32,
    /// 1-based group number within the round.
    pub group: u32,
}

impl GroupKey {
    /// The key prefix of one kind of record (`tag`) of this group in the `live` tree.
    pub(crate) fn prefix(&self, tag: u8) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.session.len() + 10);
        k.push(tag);
        k.extend_from_slice(self.session.as_bytes());
        k.push(0);
        k.extend_from_slice(&self.round.to_be_bytes());
        k.extend_from_slice(&self.group.to_be_bytes());
        k
    }

    /// The group of a key body (`session \0 round group`, the prefix without its tag).
    pub(crate) fn from_body(body: &[u8]) -> Option<GroupKey> {
        let zero = body.iter().position(|&b| b == 0)?;
        let rest = body.get(zero + 1..)?;
        if rest.len() != 8 {
            return None;
        }
        Some(GroupKey {
            session: String::from_utf8(body[..zero].to_vec()).ok()?,
            round: u32::from_be_bytes(rest[..4].try_into().ok()?),
            group: u32::from_be_bytes(rest[4..].try_into().ok()?),
        })
    }

    /// The key of a group field.
    pub(crate) fn group_field(&self, name: &str) -> Vec<u8> {
        let mut k = self.prefix(b'G');
        k.extend_from_slice(name.as_bytes());
        k
    }

    /// The key of a player field.
    pub(crate) fn player_field(&self, id_in_group: u32, name: &str) -> Vec<u8> {
        let mut k = self.prefix(b'P');
        k.extend_from_slice(&id_in_group.to_be_bytes());
        k.extend_from_slice(name.as_bytes());
        k
    }
}

impl std::fmt::Display for GroupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session {} round {} group {}", self.session, self.round, self.group)
    }
}

/// A session of one game.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// Session code.
    pub code: String,
    /// The game's name.
    pub game: String,
    /// Players per group when the session was made.
    pub players_per_group: u32,
    /// Participant codes in order; group g holds indexes (g-1)*ppg .. g*ppg.
    pub participants: Vec<String>,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: u64,
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
}

impl Participant {
    /// The participant's group in the current round.
    pub fn group_key(&self) -> GroupKey {
        GroupKey { session: self.session.clone(), round: self.round, group: self.group }
    }
}

/// The sled database and its trees. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Store {
    pub(crate) live: sled::Tree,
    sessions: sled::Tree,
    participants: sled::Tree,
    /// Bumped after every write to `participants`: a reader that saw the same number holds
    /// their current value ([`Store::participant_since`]).
    participants_written: Arc<std::sync::atomic::AtomicU64>,
    meta: sled::Tree,
    commit: Arc<GroupCommit>,
    /// Where live calls become durable without waiting for sled (see [`crate::journal`]).
    pub(crate) journal: Arc<Journal>,
    /// Field values and log markers of committed calls not yet written to `live`.
    pub(crate) unsettled: Arc<crate::live::Unsettled>,
    /// The database, for trees kept by other modules (researcher accounts, uploads).
    db: sled::Db,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// The live journal's checkpoint: every staged call entry written to sled, then sled flushed —
/// the journal segments it deletes then hold nothing sled lacks.
struct SettleAll {
    unsettled: std::sync::Weak<crate::live::Unsettled>,
    db: sled::Db,
}

impl Checkpoint for SettleAll {
    fn write_staged(&self) -> Result<(), BoxError> {
        Ok(self.unsettled.upgrade().map_or(Ok(()), |u| u.settle_all())?)
    }

    fn flush(&self) -> Result<(), BoxError> {
        self.db.flush()?;
        Ok(())
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// `n` random characters from `[a-z0-9]`: 16 of them carry 82 bits.
pub fn random_code(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

impl Store {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_on(dir, Fs::new(dir.join("journal")))
    }

    /// Opens (or creates) the database in `dir`, its live journal in `segments` (tests give
    /// segments in memory, whose writes fail on demand).
    pub(crate) fn open_on(dir: &Path, segments: impl Segments + 'static) -> Result<Store, StoreError> {
        Store::from_config(sled::Config::new().path(dir), Some(Arc::new(segments)))
    }

    /// A database that lives in a temporary directory and disappears when dropped. Nothing
    /// in it needs to survive a crash, so sled's background flusher is off, and field values
    /// settle only when a group has many unsettled calls (see [`crate::live`]), never at
    /// close: writing values that are deleted right after is work for nothing.
    pub fn temporary() -> Result<Store, StoreError> {
        Store::from_config(sled::Config::new().temporary(true).flush_every_ms(None), None)
    }

    /// `journal`: the live journal's segments (none for a temporary store).
    fn from_config(config: sled::Config, journal: Option<Arc<dyn Segments>>) -> Result<Store, StoreError> {
        let db = config.open()?;
        let live = db.open_tree("live")?;
        let settle_at_close = journal.is_some();
        let halt = crate::journal::FirstFailedWrite::default();
        let unsettled = Arc::new(crate::live::Unsettled::new(live.clone(), settle_at_close, halt.clone()));
        let journal = match journal {
            None => Journal::disabled(),
            Some(segments) => {
                let checkpoint = Arc::new(SettleAll { unsettled: Arc::downgrade(&unsettled), db: db.clone() });
                let mut replay = crate::live::Replay::new(&live);
                let (journal, replayed) = Journal::open(segments.clone(), &mut |k, v| Ok(replay.record(k, v)?), checkpoint, halt)
                    .map_err(|e| StoreError::Flush(format!("cannot open the live journal in `{segments}`: {e}")))?;
                if replayed > 0 {
                    tracing::info!("replayed {replayed} live call record(s) from the journal");
                }
                unsettled.start_settler().map_err(|e| StoreError::Flush(format!("cannot start the thread that writes settled values: {e}")))?;
                journal
            }
        };
        let store = Store {
            unsettled,
            journal: Arc::new(journal),
            live,
            sessions: db.open_tree("sessions")?,
            participants: db.open_tree("participants")?,
            participants_written: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            meta: db.open_tree("meta")?,
            db: db.clone(),
            commit: Arc::new(GroupCommit::new(db)),
        };
        let recovered = store.recover()?;
        if recovered > 0 {
            tracing::info!("recovered the effects of {recovered} committed live call(s) after a crash");
        }
        Ok(store)
    }

    /// Blocks until everything written so far is on disk; concurrent callers share fsyncs.
    pub fn wait_durable(&self) -> Result<(), StoreError> {
        // Live call entries are durable in the journal; everything else in sled.
        self.journal.wait().map_err(|e| StoreError::Flush(e.to_string()))?;
        self.commit.wait_durable().map_err(StoreError::Flush)
    }

    /// Runs `done` (on the journal's thread; it must not block) once every live call entry
    /// committed so far is on disk, or with the reason it cannot be.
    pub(crate) fn after_durable(&self, done: crate::journal::Done) {
        self.journal.after(done);
    }

    /// Fsyncs so far: the live journal's (which make live calls durable) and the sled
    /// flushes run by [`Store::wait_durable`].
    pub fn flushes(&self) -> (u64, u64) {
        (self.journal.flushes(), self.commit.flushes())
    }

    /// Reads a field value of `group` (a `live` record, or its value still unsettled).
    pub(crate) fn field_record(&self, group: &GroupKey, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        if let Some(value) = self.unsettled.get(group, key) {
            return Ok(Some(value));
        }
        Ok(self.live.get(key)?)
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

    fn field(&self, group: &GroupKey, key: &[u8], initial: &str) -> Result<Value, StoreError> {
        let raw = self.field_record(group, key)?;
        let text = raw.as_deref().unwrap_or(initial.as_bytes());
        serde_json::from_slice(text).map_err(|e| StoreError::Corrupt { key: String::from_utf8_lossy(key).into_owned(), reason: e.to_string() })
    }

    /// Creates a session of `manifest`'s game with `participants` participants, grouped in
    /// order, all on the first page of round 1.
    pub fn create_session(&self, manifest: &Manifest, participants: u32) -> Result<(Session, Vec<Participant>), StoreError> {
        let ppg = manifest.players_per_group;
        if participants == 0 || !participants.is_multiple_of(ppg) {
            return Err(StoreError::Invalid(format!(
                "game `{}` has groups of {ppg}: the number of participants must be a positive multiple of {ppg}, not {participants}",
                manifest.name
            )));
        }
        if participants > 100_000 {
            return Err(StoreError::Invalid(format!("at most 100000 participants per session, not {participants}")));
        }
        let code = loop {
            let code = random_code(8);
            if !self.sessions.contains_key(&code)? {
                break code;
            }
        };
        let now = now_ms();
        let people: Vec<Participant> = (0..participants)
            .map(|index| Participant {
                code: random_code(16),
                session: code.clone(),
                index,
                group: index / ppg + 1,
                id_in_group: index % ppg + 1,
                round: 1,
                page_index: 0,
                page_entered_ms: now,
            })
            .collect();
        let session = Session {
            code: code.clone(),
            game: manifest.name.clone(),
            players_per_group: ppg,
            participants: people.iter().map(|p| p.code.clone()).collect(),
            created_ms: now,
        };
        let mut batch = sled::Batch::default();
        for p in &people {
            batch.insert(p.code.as_bytes(), encode(p));
        }
        self.participants.apply_batch(batch)?;
        self.participants_written.fetch_add(1, std::sync::atomic::Ordering::Release);
        self.sessions.insert(code.as_bytes(), encode(&session))?;
        Ok((session, people))
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

    /// The participant with this code.
    pub fn participant(&self, code: &str) -> Result<Option<Participant>, StoreError> {
        self.participants.get(code)?.map(|v| decode(code.as_bytes(), &v)).transpose()
    }

    /// Saves a participant's position.
    pub fn put_participant(&self, p: &Participant) -> Result<(), StoreError> {
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

    /// A host setting.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.meta.get(key)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The tree `name`, opened (created when new): for records kept by other modules —
    /// researcher accounts and uploaded games (`crate::hosting::accounts`).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }

    /// Sets a host setting.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.meta.insert(key, value.as_bytes())?;
        Ok(())
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
    use super::*;

    #[test]
    fn a_participant_read_since_is_read_again_once_any_participant_was_written() {
        let store = Store::temporary().expect("store");
        let manifest = Manifest::parse(
            Path::new("t/game.toml"),
            "name = \"t\"\nplayers_per_group = 1\ncomponent = \"x.wasm\"\n[[page]]\nname = \"A\"\ntemplate = \"A.hbs\"\n[[page]]\nname = \"B\"\ntemplate = \"B.hbs\"\n",
        )
        .expect("manifest");
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
