//! Shared hosting: who a request is ([`Who`]), the loaded versions of researchers' games,
//! and the per-researcher live-message quota. The accounts themselves are in
//! [`crate::hosting::accounts`]; the routes in `researchers` (API) and `admin` (pages).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::engine::Runtime;
use crate::game::Game;
use crate::hosting::accounts::{Accounts, Researcher, parse_key};
use crate::hosting::upload::Caps;
use crate::store::{Session, Store, StoreError};

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
    /// Failed password sign-ins, and the one check at a time.
    pub(crate) sign_ins: SignIns,
}

/// Failed password sign-ins in a row, per name: after [`SignIns::MAX_FAILED`], each within
/// [`SignIns::LOCKOUT`] of the one before, the name is refused for that long without its
/// password being checked. Checks run one at a time off the socket threads: each is an
/// argon2 hash (~tens of ms of CPU), so a flood of sign-ins takes one blocking thread, never
/// the threads serving live messages.
pub(crate) struct SignIns {
    failed: Mutex<HashMap<String, (u32, Instant)>>,
    pub(crate) checking: tokio::sync::Semaphore,
}

impl SignIns {
    pub(crate) const MAX_FAILED: u32 = 5;
    pub(crate) const LOCKOUT: Duration = Duration::from_secs(60);
    /// Names with recent failures kept at most (older ones are dropped past it).
    const KEPT: usize = 10_000;

    fn new() -> SignIns {
        SignIns { failed: Mutex::new(HashMap::new()), checking: tokio::sync::Semaphore::new(1) }
    }

    /// Whole seconds `name` must wait before its password is checked again, if it must.
    pub(crate) fn locked(&self, name: &str) -> Option<u64> {
        let failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        let &(count, last) = failed.get(name)?;
        let left = SignIns::LOCKOUT.saturating_sub(last.elapsed());
        (count >= SignIns::MAX_FAILED && !left.is_zero()).then(|| left.as_secs() + 1)
    }

    /// Notes a checked password: a success forgets the name's failures.
    pub(crate) fn note(&self, name: &str, succeeded: bool) {
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        if succeeded {
            failed.remove(name);
            return;
        }
        if failed.len() >= SignIns::KEPT {
            failed.retain(|_, (_, last)| last.elapsed() < SignIns::LOCKOUT);
        }
        let entry = failed.entry(name.to_string()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= SignIns::LOCKOUT {
            entry.0 = 0;
        }
        *entry = (entry.0 + 1, Instant::now());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_locked_after_failures_in_a_row_until_the_lockout_passes() {
        let s = SignIns::new();
        for _ in 0..SignIns::MAX_FAILED - 1 {
            s.note("ann", false);
        }
        assert_eq!(s.locked("ann"), None, "one failure short");
        s.note("ann", false);
        assert!(s.locked("ann").is_some_and(|w| (59..=60).contains(&w)), "{:?}", s.locked("ann"));
        assert_eq!(s.locked("bob"), None, "per name");
        // The lockout passes: the name is free, and the next failure starts a new count.
        let past = Instant::now().checked_sub(SignIns::LOCKOUT).expect("a minute ago");
        s.failed.lock().expect("lock").get_mut("ann").expect("ann").1 = past;
        assert_eq!(s.locked("ann"), None);
        s.note("ann", false);
        assert_eq!(s.locked("ann"), None);
        assert_eq!(s.failed.lock().expect("lock")["ann"].0, 1);
        // A success forgets the failures.
        for _ in 0..SignIns::MAX_FAILED {
            s.note("cy", false);
        }
        s.note("cy", true);
        assert_eq!(s.locked("cy"), None);
    }
}
