//! [`SignIns`]: the lockout of researchers' password sign-ins after failures in a row.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Failed password sign-ins in a row, per name: after [`SignIns::MAX_FAILED`], each within
/// [`SignIns::LOCKOUT`] of the one before, the name is refused for that long without its
/// password being checked. Checks run one at a time off the socket threads: each is an
/// argon2 hash (~tens of ms of CPU), so a flood of sign-ins takes one blocking thread, never
/// the threads serving live messages; at most [`SignIns::QUEUE`] wait for their turn, and a
/// name is checked again for its lockout once its turn comes (failures noted meanwhile count).
pub(crate) struct SignIns {
    failed: Mutex<HashMap<String, (u32, Instant)>>,
    /// One permit: the password check running now.
    checking: tokio::sync::Semaphore,
    /// Sign-ins waiting for the permit.
    waiting: AtomicUsize,
}

/// What became of a password sign-in.
#[derive(Debug, PartialEq)]
pub(crate) enum Attempt<T> {
    /// The name is locked for this many more seconds; the password was not checked.
    Locked(u64),
    /// [`SignIns::QUEUE`] sign-ins are waiting already; the password was not checked.
    Busy,
    /// The password was checked: who it signs in, if anyone.
    Checked(Option<T>),
}

/// Counts a sign-in as waiting for as long as it lives (a client that goes away stops waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SignIns {
    /// Failures in a row that lock a name.
    pub(crate) const MAX_FAILED: u32 = 5;
    /// How long a locked name is refused, and how close failures must follow to count.
    pub(crate) const LOCKOUT: Duration = Duration::from_secs(60);
    /// Names with recent failures kept at most (older ones are dropped past it).
    const KEPT: usize = 10_000;
    /// Sign-ins that may wait for their check; more are answered 429 at once, so a flood
    /// cannot delay a real sign-in by more than this many checks.
    pub(crate) const QUEUE: usize = 16;

    /// No failures yet.
    pub(crate) fn new() -> SignIns {
        SignIns { failed: Mutex::new(HashMap::new()), checking: tokio::sync::Semaphore::new(1), waiting: AtomicUsize::new(0) }
    }

    /// Checks `name`'s password with `check` (an argon2 hash: run on a blocking thread, one
    /// at a time), unless the name is locked or the queue is full; notes the outcome.
    pub(crate) async fn attempt<T: Send + 'static>(&self, name: &str, check: impl FnOnce() -> Option<T> + Send + 'static) -> Attempt<T> {
        if let Some(wait) = self.locked(name) {
            return Attempt::Locked(wait);
        }
        let waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= SignIns::QUEUE {
            return Attempt::Busy;
        }
        let Ok(_one_at_a_time) = self.checking.acquire().await else { return Attempt::Busy };
        drop(waiting);
        if let Some(wait) = self.locked(name) {
            return Attempt::Locked(wait);
        }
        let found = tokio::task::spawn_blocking(check).await.ok().flatten();
        self.note(name, found.is_some());
        Attempt::Checked(found)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_wrong_passwords_is_checked_only_until_the_lockout_and_past_the_queue_is_busy() {
        let s = std::sync::Arc::new(SignIns::new());
        let checks = std::sync::Arc::new(AtomicUsize::new(0));
        let attempts: Vec<_> = (0..200)
            .map(|_| {
                let (s, checks) = (s.clone(), checks.clone());
                tokio::spawn(async move {
                    s.attempt("ann", move || {
                        checks.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        None::<()>
                    })
                    .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for a in attempts {
            outcomes.push(a.await.expect("attempt"));
        }
        // Waiting ones look at the lockout again when their turn comes: five checks in all.
        assert_eq!(checks.load(Ordering::SeqCst), SignIns::MAX_FAILED as usize);
        assert!(outcomes.contains(&Attempt::Busy), "a full queue answers at once");
        assert!(outcomes.iter().any(|o| matches!(o, Attempt::Locked(_))), "those that waited found the name locked");
        assert!(matches!(s.attempt("ann", || Some(())).await, Attempt::Locked(_)), "and so does the next one");
        assert_eq!(s.waiting.load(Ordering::SeqCst), 0);
    }

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
