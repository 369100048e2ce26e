//! [`Tenants`]: the researchers' side of a shared server — their accounts, the loaded
//! versions of their games, their live-message quotas and the sign-in lockout. The accounts
//! themselves are [`crate::hosting::accounts`]; who a request is, [`crate::server::who`]; the
//! routes, `api::researchers` (API) and `admin` (pages).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::engine::Runtime;
use crate::game::Game;
use crate::hosting::accounts::{Accounts, parse_key};
use crate::hosting::upload::Caps;
use crate::hosting::usage::StoredBytes;
use crate::server::rate::TokenBucket;
use crate::server::sign_ins::SignIns;
use crate::store::{Store, StoreError};

/// The shared-hosting part of the server state.
pub struct Tenants {
    /// Researcher accounts and uploads.
    pub accounts: Accounts,
    /// Upload caps.
    pub(crate) caps: Caps,
    runtime: Arc<Runtime>,
    /// Loaded versions of hosted games, by game key.
    loaded: Mutex<HashMap<String, Arc<Game>>>,
    /// Live-message buckets, by researcher.
    buckets: Mutex<HashMap<String, TokenBucket>>,
    /// Failed password sign-ins, and the one check at a time.
    pub(crate) sign_ins: SignIns,
    /// Researchers' uploads and session data against their stored-bytes quota.
    pub(crate) stored: StoredBytes,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants").finish_non_exhaustive()
    }
}

impl Tenants {
    /// The researchers' side over `store`'s accounts trees.
    pub fn new(runtime: Arc<Runtime>, store: &Store) -> Result<Tenants, StoreError> {
        let accounts = Accounts::open(store)?;
        Ok(Tenants {
            stored: StoredBytes::new(accounts.clone(), store.clone()),
            accounts,
            caps: Caps::default(),
            runtime,
            loaded: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            sign_ins: SignIns::new(),
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
        let game = match crate::hosting::upload::load(&self.runtime, &archive, Some((owner, version)), &researcher.quotas, &self.caps) {
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
    /// across all their sessions); the refusal's text when it is used up, or when the
    /// researcher was over their stored-bytes quota at its last count (at most
    /// [`crate::hosting::usage::RECOUNT`] ago). Operator games
    /// have no such quota (the per-participant rate still applies).
    pub(crate) fn take_live(&self, game_key: &str) -> Result<(), String> {
        let Some((owner, _, _)) = parse_key(game_key) else { return Ok(()) };
        if let Some(over) = self.stored.over(owner) {
            return Err(over);
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !buckets.contains_key(owner) {
            // The first message since start or a quota change reads the quota once.
            let rate = self.accounts.get(owner).ok().flatten().map_or(1.0, |r| r.quotas.messages_per_second);
            buckets.insert(owner.to_string(), TokenBucket::new(rate, rate.max(1.0)));
        }
        let Some(bucket) = buckets.get_mut(owner) else { return Ok(()) };
        if bucket.take() {
            Ok(())
        } else {
            Err(format!(
                "this experiment's account is over its quota of {} live messages per second (across its sessions); try again shortly",
                bucket.rate()
            ))
        }
    }
}
