//! Shared hosting: who a request is ([`Who`]), the loaded versions of researchers' games,
//! and the per-researcher live-message quota. The accounts themselves are in
//! [`crate::accounts`]; the routes in `researchers` (API) and `admin` (pages).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::accounts::{Accounts, Researcher, parse_key};
use crate::game::Game;
use crate::runtime::Runtime;
use crate::store::{Session, Store, StoreError};
use crate::upload::Caps;

/// Who sent a request to the experimenter's side.
#[derive(Debug, Clone)]
pub enum Who {
    /// The admin token: sees and does everything.
    Operator,
    /// A researcher: sees only their own games and sessions.
    Researcher(Researcher),
}

impl Who {
    /// The researcher's name; `None` for the operator.
    pub fn researcher(&self) -> Option<&str> {
        match self {
            Who::Operator => None,
            Who::Researcher(r) => Some(&r.name),
        }
    }

    /// Whether a session or game with this game key is theirs to see.
    pub fn may_see(&self, game_key: &str) -> bool {
        match self {
            Who::Operator => true,
            Who::Researcher(r) => parse_key(game_key).is_some_and(|(owner, _, _)| owner == r.name),
        }
    }

    /// Whether `session` is theirs to see.
    pub fn owns(&self, session: &Session) -> bool {
        self.may_see(&session.game)
    }
}

/// A token bucket.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    refilled: Instant,
}

/// The shared-hosting part of the server state.
pub struct Hosting {
    /// Researcher accounts and uploads.
    pub accounts: Accounts,
    /// Upload caps.
    pub caps: Caps,
    runtime: Arc<Runtime>,
    /// Loaded versions of hosted games, by game key.
    loaded: Mutex<HashMap<String, Arc<Game>>>,
    /// Live-message buckets, by researcher.
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl std::fmt::Debug for Hosting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hosting").finish_non_exhaustive()
    }
}

impl Hosting {
    /// The hosting state over `store`'s accounts trees.
    pub fn new(runtime: Arc<Runtime>, store: &Store) -> Result<Hosting, StoreError> {
        Ok(Hosting {
            accounts: Accounts::open(store)?,
            caps: Caps::default(),
            runtime,
            loaded: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// The engine games are loaded with.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The hosted game with key `owner/name@version`: from memory, else unpacked from its
    /// stored archive and loaded under the owner's current quotas. Blocks while loading.
    pub fn game(&self, key: &str) -> Option<Arc<Game>> {
        if let Some(g) = self.loaded.lock().unwrap_or_else(|e| e.into_inner()).get(key) {
            return Some(g.clone());
        }
        let (owner, name, version) = parse_key(key)?;
        let researcher = self.accounts.get(owner).ok()??;
        let archive = self.accounts.package(owner, name, version).ok()??;
        let game = match crate::upload::load(&self.runtime, &archive, Some((owner, version)), &researcher.quotas, &self.caps) {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(%key, "a stored game no longer loads: {e}");
                return None;
            }
        };
        self.remember(key, game.clone());
        Some(game)
    }

    /// Keeps a loaded version in memory.
    pub(crate) fn remember(&self, key: &str, game: Arc<Game>) {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), game);
    }

    /// Forgets one loaded version (deleted).
    pub(crate) fn unload(&self, key: &str) {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// Forgets `owner`'s loaded games and bucket, after a quota change: sessions that start
    /// afterwards get the new limits.
    pub(crate) fn forget(&self, owner: &str) {
        let prefix = format!("{owner}/");
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).retain(|k, _| !k.starts_with(&prefix));
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).remove(owner);
    }

    /// Takes one live message from the quota of the researcher owning `game_key` (one bucket
    /// across all their sessions); the refusal's text when it is used up. Operator games
    /// have no such quota (the per-participant rate still applies).
    pub(crate) fn take_live(&self, game_key: &str) -> Result<(), String> {
        let Some((owner, _, _)) = parse_key(game_key) else { return Ok(()) };
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(owner) {
            // The first message since start or a quota change reads the quota once.
            let rate = self.accounts.get(owner).ok().flatten().map_or(1.0, |r| r.quotas.messages_per_second);
            buckets.insert(owner.to_string(), Bucket { rate, tokens: rate.max(1.0), refilled: Instant::now() });
        }
        let Some(b) = buckets.get_mut(owner) else { return Ok(()) };
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.refilled).as_secs_f64() * b.rate).min(b.rate.max(1.0));
        b.refilled = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(format!(
                "this experiment's account is over its quota of {} live messages per second (across its sessions); try again shortly",
                b.rate
            ))
        }
    }
}
