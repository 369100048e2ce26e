//! [`StoredBytes`]: what counts against a researcher's stored-bytes quota — their uploads and
//! their sessions' data — and the verdict live calls read, recounted at most every
//! `RECOUNT` off the async threads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::hosting::accounts::{AccountError, Accounts, Researcher, parse_key};
use crate::store::Store;

/// How stale a researcher's verdict may be before a live call has it recounted: a researcher
/// over the quota gets at most this long of live calls more.
pub(crate) const RECOUNT: Duration = Duration::from_secs(1);

/// A researcher's bytes: their uploads' and their sessions'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of uploaded archives kept.
    pub uploads: u64,
    /// Bytes of their sessions: records and live log entries (an estimate, see
    /// [`Store::session_bytes`]).
    pub sessions: u64,
}

impl Usage {
    /// Both together: what the quota is compared with.
    pub fn total(&self) -> u64 {
        self.uploads.saturating_add(self.sessions)
    }
}

/// A researcher's verdict as last counted.
#[derive(Default)]
struct Verdict {
    /// When it was counted (None: never).
    at: Option<Instant>,
    /// The refusal's text when they were over the quota.
    over: Option<String>,
    /// A recount is running.
    counting: bool,
}

/// Counts researchers' stored bytes against their quota. Cheap to clone; clones share the
/// verdicts.
#[derive(Clone)]
pub struct StoredBytes {
    accounts: Accounts,
    store: Store,
    /// By researcher name. A std mutex: held to read or set one verdict, never while counting.
    verdicts: Arc<Mutex<HashMap<String, Verdict>>>,
}

impl StoredBytes {
    /// Counts in `accounts` (uploads) and `store` (sessions).
    pub fn new(accounts: Accounts, store: Store) -> StoredBytes {
        StoredBytes { accounts, store, verdicts: Arc::default() }
    }

    /// `owner`'s bytes now (blocks: reads the store; a session not counted before is scanned).
    pub fn usage(&self, owner: &str) -> Result<Usage, AccountError> {
        let mut sessions = 0u64;
        for session in self.store.sessions()? {
            if parse_key(&session.game).is_some_and(|(o, _, _)| o == owner) {
                sessions = sessions.saturating_add(self.store.session_bytes(&session)?);
            }
        }
        Ok(Usage { uploads: self.accounts.stored_bytes(owner)?, sessions })
    }

    /// Ok while `r` is within their stored-bytes quota, else `AccountError::Quota` naming it
    /// (blocks, as [`StoredBytes::usage`]).
    pub fn check(&self, r: &Researcher) -> Result<(), AccountError> {
        let usage = self.usage(&r.name)?;
        let refusal = refusal(r, &usage);
        self.verdicts().insert(r.name.clone(), Verdict { at: Some(Instant::now()), over: refusal.clone(), counting: false });
        refusal.map_or(Ok(()), |why| Err(AccountError::Quota(why)))
    }

    /// The refusal of a live call of `owner`'s when they were over their quota at the last
    /// count. Never blocks: a count older than [`RECOUNT`] is redone on a blocking thread
    /// (here, outside a tokio runtime), and this call goes by the one before.
    pub(crate) fn over(&self, owner: &str) -> Option<String> {
        let mut verdicts = self.verdicts();
        let verdict = verdicts.entry(owner.to_string()).or_default();
        if !verdict.counting && verdict.at.is_none_or(|at| at.elapsed() >= RECOUNT) {
            verdict.counting = true;
            let (this, name) = (self.clone(), owner.to_string());
            let recount = move || this.recount(&name);
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => drop(handle.spawn_blocking(recount)),
                Err(_) => {
                    drop(verdicts);
                    recount();
                    return self.verdicts().get(owner).and_then(|v| v.over.clone());
                }
            }
        }
        verdict.over.clone()
    }

    fn recount(&self, owner: &str) {
        let over = match self.accounts.get(owner) {
            Ok(Some(r)) => self.usage(owner).map(|usage| refusal(&r, &usage)),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        let over = over.unwrap_or_else(|e| {
            // Kept as it was: a failed count refuses nothing it did not refuse before.
            tracing::warn!(researcher = owner, "cannot count stored bytes: {e}");
            self.verdicts().get(owner).and_then(|v| v.over.clone())
        });
        self.verdicts().insert(owner.to_string(), Verdict { at: Some(Instant::now()), over, counting: false });
    }

    fn verdicts(&self) -> std::sync::MutexGuard<'_, HashMap<String, Verdict>> {
        self.verdicts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why `r`, using `usage`, may start nothing new: None within the quota.
fn refusal(r: &Researcher, usage: &Usage) -> Option<String> {
    let limit = r.quotas.stored_bytes;
    (usage.total() > limit).then(|| {
        format!(
            "quota: researcher `{}` may keep {limit} stored bytes and has {} ({} of uploads, {} of session data); new sessions and live calls are refused until the operator raises the quota or data is removed",
            r.name,
            usage.total(),
            usage.uploads,
            usage.sessions
        )
    })
}
