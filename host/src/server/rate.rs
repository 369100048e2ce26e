//! A token bucket: the one rate limiter of the server, for a participant's live frames
//! ([`crate::server::monitor`]) and for a researcher's live messages across their sessions
//! ([`crate::server::tenants`]).

use std::time::Instant;

/// Up to `burst` tokens, refilled at `rate` per second; each message takes one. A new
/// bucket is full.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    /// When `tokens` was last brought up to date; `None` until the first take (the bucket is
    /// then full).
    refilled: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens, refilled at `rate` per second.
    pub(crate) fn new(rate: f64, burst: f64) -> TokenBucket {
        TokenBucket { rate, burst, tokens: 0.0, refilled: None }
    }

    /// The refill rate, per second.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// Takes one token; false when the bucket is empty.
    pub(crate) fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = match self.refilled {
            Some(then) => (self.tokens + now.duration_since(then).as_secs_f64() * self.rate).min(self.burst),
            None => self.burst,
        };
        self.refilled = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_bucket_gives_its_burst_then_refuses() {
        let mut b = TokenBucket::new(0.001, 3.0);
        assert_eq!((0..5).map(|_| b.take()).collect::<Vec<_>>(), [true, true, true, false, false]);
        assert_eq!(b.rate(), 0.001);
    }

    #[test]
    fn an_empty_bucket_refills_at_its_rate() {
        let mut b = TokenBucket::new(1000.0, 1.0);
        assert!(b.take());
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(b.take(), "5 ms at 1000 per second refill the one token");
    }

    #[test]
    fn a_zero_rate_bucket_still_gives_its_burst_once() {
        let mut b = TokenBucket::new(0.0, 1.0);
        assert!(b.take());
        assert!(!b.take());
    }
}
