//! [`Tenants`]: the researchers' side of a shared server — their accounts, the loaded
//! versions of their games, their live-message quotas and the sign-in lockout. The accounts
//! themselves are [`crate::hosting::accounts`]; who a request is, [`crate::server::who`]; the
//! routes, `api::researchers` (API) and `admin` (pages).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::engine::Runtime;
use crate::game::Game;
use crate::hosting::accounts::{Accounts, parse_key};
use crate::hosting::upload::Caps;
use crate::hosting::usage::StoredBytes;
use crate::server::rate::TokenBucket;
use crate::server::sign_ins::SignIns;
use crate::store::{Store, StoreError};

/// A loaded hosted game and its compiled component's cache file.
type Kept = (Arc<Game>, Option<PathBuf>);

/// The shared-hosting part of the server state.
pub struct Tenants {
    /// Researcher accounts and uploads.
    pub accounts: Accounts,
    /// Upload caps.
    pub(crate) caps: Caps,
    runtime: Arc<Runtime>,
    /// Loaded versions of hosted games, by game key, with their compiled component's cache
    /// file.
    loaded: Mutex<HashMap<String, Kept>>,
    /// One load at a time per game key: callers asking for a game being loaded wait for it
    /// (after a restart every participant's page asks for their session's game at once).
    loading: Mutex<HashMap<String, Arc<Mutex<()>>>>,
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
            loading: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            sign_ins: SignIns::new(),
        })
    }

    /// The engine games are loaded with.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The hosted game with key `owner/name@version`: from memory, else unpacked from its
    /// stored archive and loaded under the owner's current quotas. Blocks while loading (off
    /// the async threads: a tokio worker hands its other tasks on first), once per key however
    /// many ask at once.
    pub fn game(&self, key: &str) -> Option<Arc<Game>> {
        if let Some(g) = self.loaded_game(key) {
            return Some(g);
        }
        let lock = self.loading.lock().unwrap_or_else(|e| e.into_inner()).entry(key.to_string()).or_default().clone();
        let game = {
            let _one = lock.lock().unwrap_or_else(|e| e.into_inner());
            // Loaded by the caller this one waited for, or loaded here.
            self.loaded_game(key).or_else(|| off_async_threads(|| self.load(key)))
        };
        let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
        if Arc::strong_count(&lock) == 2 {
            loading.remove(key);
        }
        game
    }

    fn loaded_game(&self, key: &str) -> Option<Arc<Game>> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).get(key).map(|(g, _)| g.clone())
    }

    /// Loads a hosted game from its stored archive and keeps it.
    fn load(&self, key: &str) -> Option<Arc<Game>> {
        let (owner, name, version) = parse_key(key)?;
        let researcher = self.accounts.get(owner).ok()??;
        let archive = self.accounts.package(owner, name, version).ok()??;
        let loaded = crate::hosting::upload::load(&self.runtime, &archive, Some((owner, version)), &researcher.quotas, &self.caps);
        match loaded.game {
            Ok(game) => {
                self.remember(key, game.clone(), loaded.compiled);
                Some(game)
            }
            Err(e) => {
                tracing::error!(%key, "a stored game no longer loads: {e}");
                None
            }
        }
    }

    /// Keeps a loaded version in memory, with its compiled component's cache file.
    pub(crate) fn remember(&self, key: &str, game: Arc<Game>, compiled: Option<PathBuf>) {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), (game, compiled));
    }

    /// Forgets one loaded version (deleted); returns its compiled component's cache file.
    pub(crate) fn unload(&self, key: &str) -> Option<PathBuf> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).remove(key).and_then(|(_, file)| file)
    }

    /// Deletes the cache file `compiled` of a refused or deleted upload, unless a loaded game
    /// (a hosted one, or one of the operator's `operator` games) has the same component.
    pub(crate) fn discard_compiled<'a>(&self, compiled: Option<PathBuf>, operator: impl IntoIterator<Item = &'a Arc<Game>>) {
        let Some(file) = compiled else { return };
        if self.loaded.lock().unwrap_or_else(|e| e.into_inner()).values().any(|(_, f)| f.as_ref() == Some(&file)) {
            return;
        }
        let operator_file = |g: &Arc<Game>| std::fs::read(g.dir.join(&g.manifest.component)).ok().and_then(|b| self.runtime.compiled_file(&b));
        if operator.into_iter().any(|g| operator_file(g).as_ref() == Some(&file)) {
            return;
        }
        self.runtime.remove_compiled(&file);
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

/// Runs `work`, which blocks (a compilation), without holding up a tokio worker's other
/// tasks: on a multi-threaded runtime's worker they move to another thread first.
fn off_async_threads<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
