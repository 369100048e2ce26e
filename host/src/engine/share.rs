//! [`Shares`]: the pool's instances shared out among the researchers whose games a server
//! hosts, so one researcher's games (a thousand warm groups, a flood of page renders) cannot
//! take every slot of the pool and make everyone else's calls fail. The server's own games
//! (`stoa serve --games`) are the operator's and take from the pool without a share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// The shares of every owner, made on first use.
#[derive(Debug)]
pub struct Shares {
    /// Instances one owner's games may hold at once.
    per_owner: u32,
    by_owner: Mutex<HashMap<String, Arc<Share>>>,
}

/// One owner's share: how many instances their games hold now, and how many they may.
#[derive(Debug)]
pub struct Share {
    owner: Option<String>,
    limit: u32,
    held: AtomicU32,
}

/// One instance taken from a share, given back when dropped.
#[derive(Debug)]
pub struct Held(Arc<Share>);

impl Shares {
    pub(crate) fn new(per_owner: u32) -> Shares {
        Shares { per_owner, by_owner: Mutex::new(HashMap::new()) }
    }

    /// The share of `owner` (a researcher), or an unlimited one for `None` (the operator).
    pub fn of(&self, owner: Option<&str>) -> Arc<Share> {
        let Some(owner) = owner else { return Arc::new(Share { owner: None, limit: u32::MAX, held: AtomicU32::new(0) }) };
        let mut map = self.by_owner.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(owner.to_string())
            .or_insert_with(|| Arc::new(Share { owner: Some(owner.to_string()), limit: self.per_owner, held: AtomicU32::new(0) }))
            .clone()
    }
}

impl Share {
    /// One more instance, or the refusal's reason when the share is used up.
    pub fn take(self: &Arc<Self>) -> Result<Held, String> {
        let taken = self.held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.limit).then_some(n + 1));
        match taken {
            Ok(_) => Ok(Held(self.clone())),
            Err(n) => Err(format!(
                "the games of researcher `{}` hold {n} instances at once, their share of this server; try again when fewer of their groups are active",
                self.owner.as_deref().unwrap_or("?")
            )),
        }
    }

    /// Whether an instance may be kept between calls: only while a quarter of the share is
    /// left for fresh ones, so warm groups never starve a call or a page render.
    pub fn keeps_warm(&self) -> bool {
        self.limit == u32::MAX || self.held.load(Ordering::Acquire) <= self.limit - self.limit.div_ceil(4)
    }

    /// Instances held now.
    pub fn held(&self) -> u32 {
        self.held.load(Ordering::Acquire)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_refuses_past_its_limit_and_frees_on_drop() {
        let shares = Shares::new(4);
        let alice = shares.of(Some("alice"));
        let held: Vec<Held> = (0..4).map(|_| alice.take().expect("within the share")).collect();
        let refusal = alice.take().expect_err("over the share");
        assert!(refusal.contains("`alice` hold 4 instances"), "{refusal}");
        // Another owner's share is their own; the operator has none.
        assert!(shares.of(Some("bob")).take().is_ok());
        assert!(shares.of(None).take().is_ok());
        assert!(!alice.keeps_warm());
        drop(held);
        assert_eq!(alice.held(), 0);
        assert!(alice.keeps_warm());
        // Warm instances are kept up to three quarters of the share.
        let three: Vec<Held> = (0..3).map(|_| alice.take().expect("within")).collect();
        assert!(alice.keeps_warm(), "3 of 4 held");
        let _fourth = alice.take().expect("within");
        assert!(!alice.keeps_warm(), "4 of 4 held");
        drop(three);
    }
}
