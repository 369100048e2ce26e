//! [`SignIns`]: the lockout of researchers' password sign-ins after failures in a row.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed password sign-ins in a row, per name: after [`SignIns::MAX_FAILED`], each within
/// [`SignIns::LOCKOUT`] of the one before, the name is refused for that long without its
/// password being checked. Checks run one at a time off the socket threads: each is an
/// argon2 hash (~tens of ms of CPU), so a flood of sign-ins takes one blocking thread, never
/// the threads serving live messages.
pub(crate) struct SignIns {
    failed: Mutex<HashMap<String, (u32, Instant)>>,
    /// One permit: the password check running now.
    pub(crate) checking: tokio::sync::Semaphore,
}

impl SignIns {
    /// Failures in a row that lock a name.
    pub(crate) const MAX_FAILED: u32 = 5;
    /// How long a locked name is refused, and how close failures must follow to count.
    pub(crate) const LOCKOUT: Duration = Duration::from_secs(60);
    /// Names with recent failures kept at most (older ones are dropped past it).
    const KEPT: usize = 10_000;

    /// No failures yet.
    pub(crate) fn new() -> SignIns {
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
