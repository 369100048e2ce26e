//! Researcher accounts and their uploaded games (`games`: versions by content hash), for a
//! shared server.
//!
//! The operator (the admin token) creates researchers. Each has an API token, shown once and
//! stored only as its SHA-256 (a 40-character random token has ~200 bits, so a plain digest
//! cannot be reversed), an optional password (argon2, PHC string) for the admin pages, and
//! quotas. Each upload of a game package is kept whole, by the SHA-256 of the archive.
//!
//! Trees (in the server's sled database):
//! - `researchers`: name → [`Researcher`] (JSON);
//! - `tokens`: hex SHA-256 of a token → researcher name;
//! - `games`: `owner/name` → [`GameRecord`] (its versions, oldest first);
//! - `packages`: hex SHA-256 → the uploaded archive's bytes.
//!
//! A hosted game is loaded under its *key* `owner/name@version` (version: the first 16 hex
//! digits of the hash); sessions store that key as their game, so a running session keeps
//! the version it started with. Games from `stoa serve --games DIR` keep their plain names
//! and belong to the operator.

use serde::{Deserialize, Serialize};

use crate::engine::limits::Limits;
pub use crate::store::sha256_hex;
use crate::store::{Store, StoreError, decode, encode, now_ms, random_code};

mod games;
pub use games::{GameRecord, VERSION_DIGITS, Version, game_key, parse_key};

/// What one researcher may use. The operator sets them; `None` for deadline and memory means
/// "the game's own limit" (itself within the host maximum).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quotas {
    /// CPU deadline of one call, ms (lowers the game's own).
    pub deadline_ms: Option<u64>,
    /// Memory of one instance, MiB (lowers the game's own).
    pub memory_mb: Option<u64>,
    /// Live messages per second across all the researcher's sessions (sustained; one
    /// second's worth may come at once).
    pub messages_per_second: f64,
    /// Sessions at once: sessions with a participant not yet finished.
    pub sessions: u32,
    /// Bytes of uploaded archives kept (every version of every game).
    pub stored_bytes: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas { deadline_ms: None, memory_mb: None, messages_per_second: 200.0, sessions: 20, stored_bytes: 256 << 20 }
    }
}

/// A change of quotas: only the keys given change. `deadline_ms` / `memory_mb` of 0 go back
/// to "the game's own".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaPatch {
    /// See [`Quotas::deadline_ms`].
    pub deadline_ms: Option<u64>,
    /// See [`Quotas::memory_mb`].
    pub memory_mb: Option<u64>,
    /// See [`Quotas::messages_per_second`].
    pub messages_per_second: Option<f64>,
    /// See [`Quotas::sessions`].
    pub sessions: Option<u32>,
    /// See [`Quotas::stored_bytes`].
    pub stored_bytes: Option<u64>,
}

impl QuotaPatch {
    /// `quotas` with this patch applied; a value above the host maximum is refused, naming it.
    pub fn apply(&self, quotas: &Quotas, max: &Limits) -> Result<Quotas, AccountError> {
        let mut q = quotas.clone();
        if let Some(ms) = self.deadline_ms {
            let top = max.deadline.as_millis() as u64;
            if ms > top {
                return Err(AccountError::Invalid(format!("deadline_ms: {ms} is above the host maximum of {top}")));
            }
            q.deadline_ms = (ms > 0).then_some(ms);
        }
        if let Some(mb) = self.memory_mb {
            let top = max.memory_bytes >> 20;
            if mb > top {
                return Err(AccountError::Invalid(format!("memory_mb: {mb} is above the host maximum of {top}")));
            }
            q.memory_mb = (mb > 0).then_some(mb);
        }
        if let Some(rate) = self.messages_per_second {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(AccountError::Invalid(format!("messages_per_second: {rate} must be a number above 0")));
            }
            q.messages_per_second = rate;
        }
        if let Some(n) = self.sessions {
            q.sessions = n;
        }
        if let Some(bytes) = self.stored_bytes {
            q.stored_bytes = bytes;
        }
        Ok(q)
    }
}

/// One researcher account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Researcher {
    /// Login name: lowercase ASCII letters, digits, `-`, `_`, starting with a letter.
    pub name: String,
    /// Hex SHA-256 of the API token.
    pub token_sha256: String,
    /// Argon2 hash (PHC string) of the password, if one was set.
    pub password: Option<String>,
    /// What the account may use.
    pub quotas: Quotas,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: u64,
}

/// Why an account request failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Bad input; the text says what and why.
    #[error("{0}")]
    Invalid(String),
    /// The name is taken.
    #[error("{0}")]
    Exists(String),
    /// No such researcher, game or version.
    #[error("{0}")]
    NotFound(String),
    /// Over a quota.
    #[error("{0}")]
    Quota(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sled::Error> for AccountError {
    fn from(e: sled::Error) -> Self {
        AccountError::Store(StoreError::Sled(e))
    }
}

/// The accounts trees. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    researchers: sled::Tree,
    tokens: sled::Tree,
    games: sled::Tree,
    packages: sled::Tree,
    /// Serializes read-modify-write of records (uploads, quota and token changes), so two
    /// concurrent requests cannot lose one another's change or both fit in one quota.
    writes: std::sync::Arc<std::sync::Mutex<()>>,
    /// The store, whose failed journal write refuses every change from then on.
    store: Store,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").finish_non_exhaustive()
    }
}

/// Whether `name` may be a researcher's name.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn hash_password(password: &str) -> Result<String, AccountError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    if password.chars().count() < 8 {
        return Err(AccountError::Invalid("a password needs at least 8 characters".into()));
    }
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| AccountError::Invalid(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Invalid(format!("cannot hash the password: {e}")))
}

impl Accounts {
    /// The accounts trees of `store`'s database.
    pub fn open(store: &Store) -> Result<Accounts, StoreError> {
        Ok(Accounts {
            researchers: store.tree("researchers")?,
            tokens: store.tree("tokens")?,
            games: store.tree("games")?,
            packages: store.tree("packages")?,
            writes: Default::default(),
            store: store.clone(),
        })
    }

    /// Takes the lock of a change: refused, with the reason, once the store stopped taking
    /// writes (a failed journal write): an account or a game changed then could be lost.
    fn write_lock(&self) -> Result<std::sync::MutexGuard<'_, ()>, AccountError> {
        let guard = self.writes.lock().unwrap_or_else(|e| e.into_inner());
        self.store.refuse_if_halted()?;
        Ok(guard)
    }

    /// Creates researcher `name` (with `password`, if given, for the admin pages); returns the
    /// account and its API token, which is not stored and cannot be shown again.
    pub fn add(&self, name: &str, password: Option<&str>, quotas: Quotas) -> Result<(Researcher, String), AccountError> {
        if !valid_name(name) {
            return Err(AccountError::Invalid(format!(
                "researcher name `{name}` must be 1 to 32 lowercase ASCII letters, digits, `-` or `_`, starting with a letter"
            )));
        }
        let password = password.filter(|p| !p.is_empty()).map(hash_password).transpose()?;
        let _one = self.write_lock()?;
        let token = random_code(40);
        let researcher = Researcher { name: name.to_string(), token_sha256: sha256_hex(token.as_bytes()), password, quotas, created_ms: now_ms() };
        let added = self.researchers.compare_and_swap(name, None as Option<&[u8]>, Some(encode(&researcher)))?;
        if added.is_err() {
            return Err(AccountError::Exists(format!("there is already a researcher named `{name}`")));
        }
        self.tokens.insert(researcher.token_sha256.as_bytes(), name.as_bytes())?;
        Ok((researcher, token))
    }

    /// The researcher named `name`.
    pub fn get(&self, name: &str) -> Result<Option<Researcher>, AccountError> {
        Ok(self.researchers.get(name)?.map(|v| decode(name.as_bytes(), &v)).transpose()?)
    }

    fn must_get(&self, name: &str) -> Result<Researcher, AccountError> {
        self.get(name)?.ok_or_else(|| AccountError::NotFound(format!("no researcher `{name}`")))
    }

    /// Every researcher, by name.
    pub fn list(&self) -> Result<Vec<Researcher>, AccountError> {
        self.researchers.iter().map(|kv| kv.map_err(AccountError::from).and_then(|(k, v)| Ok(decode(&k, &v)?))).collect()
    }

    /// The researcher whose API token is `token`.
    pub fn by_token(&self, token: &str) -> Result<Option<Researcher>, AccountError> {
        let Some(name) = self.tokens.get(sha256_hex(token.as_bytes()))? else { return Ok(None) };
        // A rotated token's entry is removed; check the account still holds this digest.
        let researcher = self.get(&String::from_utf8_lossy(&name))?;
        Ok(researcher.filter(|r| r.token_sha256 == sha256_hex(token.as_bytes())))
    }

    /// The researcher `name` if `password` is theirs. A name without an account (or without
    /// a password) costs the same hash as a wrong password: the answer's time does not tell
    /// which names exist.
    pub fn check_password(&self, name: &str, password: &str) -> Result<Option<Researcher>, AccountError> {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        static NOBODY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        let researcher = self.get(name)?;
        let stored = match researcher.as_ref().and_then(|r| r.password.clone()) {
            Some(stored) => stored,
            None => NOBODY.get_or_init(|| hash_password("no account has this password").ok()).clone().unwrap_or_default(),
        };
        let Ok(parsed) = PasswordHash::new(&stored) else { return Ok(None) };
        let matches = argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(researcher.filter(|r| matches && r.password.is_some()))
    }

    /// Replaces `name`'s token with a new one (the old stops working); returns the new token.
    pub fn new_token(&self, name: &str) -> Result<String, AccountError> {
        let _one = self.write_lock()?;
        let mut r = self.must_get(name)?;
        let token = random_code(40);
        self.tokens.remove(r.token_sha256.as_bytes())?;
        r.token_sha256 = sha256_hex(token.as_bytes());
        self.researchers.insert(name, encode(&r))?;
        self.tokens.insert(r.token_sha256.as_bytes(), name.as_bytes())?;
        Ok(token)
    }

    /// Sets `name`'s password.
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), AccountError> {
        let hashed = hash_password(password)?;
        let _one = self.write_lock()?;
        let mut r = self.must_get(name)?;
        r.password = Some(hashed);
        self.researchers.insert(name, encode(&r))?;
        Ok(())
    }

    /// Applies `patch` to `name`'s quotas (checked against the host maxima `max`).
    pub fn set_quotas(&self, name: &str, patch: &QuotaPatch, max: &Limits) -> Result<Researcher, AccountError> {
        let _one = self.write_lock()?;
        let mut r = self.must_get(name)?;
        r.quotas = patch.apply(&r.quotas, max)?;
        self.researchers.insert(name, encode(&r))?;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> Accounts {
        Accounts::open(&Store::temporary().expect("store")).expect("accounts")
    }

    #[test]
    fn a_token_finds_its_researcher_and_only_the_digest_is_stored() {
        let a = accounts();
        let (r, token) = a.add("alice", None, Quotas::default()).expect("add");
        assert_eq!(r.token_sha256, sha256_hex(token.as_bytes()));
        assert!(!encode(&r).windows(token.len()).any(|w| w == token.as_bytes()), "the token itself is not stored");
        assert_eq!(a.by_token(&token).expect("lookup").map(|r| r.name), Some("alice".into()));
        assert_eq!(a.by_token("nope").expect("lookup"), None);
        let fresh = a.new_token("alice").expect("rotate");
        assert_eq!(a.by_token(&token).expect("lookup"), None, "the old token stops working");
        assert!(a.by_token(&fresh).expect("lookup").is_some());
        assert!(matches!(a.add("alice", None, Quotas::default()), Err(AccountError::Exists(_))));
        assert!(matches!(a.add("Alice/x", None, Quotas::default()), Err(AccountError::Invalid(_))));
    }

    #[test]
    fn after_a_failed_journal_write_no_account_or_game_changes_and_the_reason_is_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let disk = crate::journal::mem::Mem::default();
        let store = Store::open_on(dir.path(), disk.clone()).expect("store");
        let a = Accounts::open(&store).expect("accounts");
        a.add("alice", None, Quotas::default()).expect("a good disk");
        disk.fail_next_write();
        store.live.journal.append(b"k", b"v").expect("appended");
        store.wait_durable().expect_err("the journal's write failed");
        let halted = |e: AccountError| matches!(e, AccountError::Store(StoreError::Halted(ref why)) if why.contains("No space left"));
        assert!(halted(a.add("bob", None, Quotas::default()).expect_err("no new account")));
        assert!(halted(a.new_token("alice").expect_err("no new token")));
        assert!(halted(a.set_quotas("alice", &QuotaPatch::default(), &Limits::DEFAULT).expect_err("no quota change")));
        assert!(halted(a.put_version("alice", "g", b"archive", 1 << 20).expect_err("no upload")));
        assert!(a.get("bob").expect("read").is_none(), "nothing was written");
        assert_eq!(a.games(Some("alice")).expect("read").len(), 0);
    }

    #[test]
    fn passwords_are_argon2_hashes_that_verify() {
        let a = accounts();
        let (r, _) = a.add("bob", Some("correct horse"), Quotas::default()).expect("add");
        assert!(r.password.as_deref().is_some_and(|p| p.starts_with("$argon2")), "{:?}", r.password);
        assert!(a.check_password("bob", "correct horse").expect("check").is_some());
        assert!(a.check_password("bob", "wrong horse").expect("check").is_none());
        assert!(matches!(a.add("carol", Some("short"), Quotas::default()), Err(AccountError::Invalid(_))));
        // Names without an account, or without a password, are checked against a stand-in
        // hash (the same cost); even its own password lets nobody in.
        a.add("dan", None, Quotas::default()).expect("add");
        for name in ["nobody", "dan"] {
            assert!(a.check_password(name, "no account has this password").expect("check").is_none(), "{name}");
            assert!(a.check_password(name, "").expect("check").is_none(), "{name}");
        }
    }

    #[test]
    fn quotas_above_the_host_maximum_are_refused() {
        let patch = QuotaPatch { deadline_ms: Some(60_000), ..Default::default() };
        assert!(patch.apply(&Quotas::default(), &Limits::MAX).is_err());
        let patch = QuotaPatch { deadline_ms: Some(50), memory_mb: Some(64), ..Default::default() };
        let q = patch.apply(&Quotas::default(), &Limits::MAX).expect("fits");
        assert_eq!((q.deadline_ms, q.memory_mb), (Some(50), Some(64)));
    }
}
