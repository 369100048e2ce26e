//! What a game sees of time and chance inside a call, made reproducible: WASI's wall clock
//! and monotonic clock read the call's time — one value for the whole call, the time its log
//! entry records — and WASI's random (`get-random-bytes`, `get-random-u64`, the insecure
//! ones) is a stream drawn from the session's secret seed and the call's position (round,
//! group, call number; not the session's code: sessions given one seed draw alike), so a call run again from its log sees the same clock and the same
//! random. The stream is SHA-256 in counter mode over a key hashed from the seed and the
//! position; the secure and insecure streams use keys of their own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// The clock and random state of one instance's calls, shared with its WASI context.
#[derive(Clone, Default)]
pub(crate) struct Determinism(Arc<Mutex<Now>>);

#[derive(Default)]
struct Now {
    /// The running call's time, ms since the Unix epoch.
    time_ms: u64,
    /// The running call's key (seed and position).
    key: [u8; 32],
    /// Blocks drawn from each stream in this call: secure, insecure.
    drawn: [u64; 2],
    /// What is left of each stream's last block.
    left: [Vec<u8>; 2],
}

/// Where a call stands, for its random stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position<'a> {
    pub(crate) seed: u64,
    pub(crate) round: u32,
    pub(crate) group: u32,
    /// The call's number in the group's log (0 for a call that is not logged).
    pub(crate) call: u64,
    /// What runs: a logged call's export, or a read-only one's name and player.
    pub(crate) what: &'a str,
}

impl Determinism {
    fn now(&self) -> std::sync::MutexGuard<'_, Now> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a call at `time_ms`, at `at`: its clock stands there and its streams start over.
    pub(crate) fn start(&self, time_ms: u64, at: Position<'_>) {
        let mut h = Sha256::new();
        h.update(b"stoa call v1\0");
        h.update(at.seed.to_le_bytes());
        h.update(at.round.to_le_bytes());
        h.update(at.group.to_le_bytes());
        h.update(at.call.to_le_bytes());
        h.update(at.what.as_bytes());
        let mut now = self.now();
        now.time_ms = time_ms;
        now.key = h.finalize().into();
        now.drawn = [0, 0];
        now.left = [Vec::new(), Vec::new()];
    }

    /// A number from the running call's stream, for WASI's `insecure-seed` (fixed when an
    /// instance first uses WASI: at the start of a call, so at a reproducible position).
    pub(crate) fn seed_u128(&self) -> u128 {
        let mut b = [0; 16];
        self.fill(1, &mut b);
        u128::from_le_bytes(b)
    }

    /// The wall clock WASI gives the game.
    pub(crate) fn clock(&self) -> Clock {
        Clock(self.clone())
    }

    /// The secure (`stream` 0) or insecure (1) random WASI gives the game.
    pub(crate) fn random(&self, stream: usize) -> Random {
        Random { of: self.clone(), stream: stream.min(1) }
    }

    /// Fills `dst` from stream `stream`.
    fn fill(&self, stream: usize, dst: &mut [u8]) {
        let mut now = self.now();
        let mut at = 0;
        while at < dst.len() {
            if now.left[stream].is_empty() {
                let mut h = Sha256::new();
                h.update(now.key);
                h.update([stream as u8]);
                h.update(now.drawn[stream].to_le_bytes());
                now.drawn[stream] += 1;
                now.left[stream] = h.finalize().to_vec();
            }
            let take = (dst.len() - at).min(now.left[stream].len());
            dst[at..at + take].copy_from_slice(&now.left[stream][..take]);
            now.left[stream].drain(..take);
            at += take;
        }
    }
}

/// The call's time as WASI's wall and monotonic clocks.
pub(crate) struct Clock(Determinism);

impl HostWallClock for Clock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_millis(self.0.now().time_ms)
    }
}

impl HostMonotonicClock for Clock {
    fn resolution(&self) -> u64 {
        1_000_000
    }

    /// Nanoseconds: the call's time (it does not move within a call).
    fn now(&self) -> u64 {
        self.0.now().time_ms.saturating_mul(1_000_000)
    }
}

/// A call's random stream as WASI's random.
pub(crate) struct Random {
    of: Determinism,
    stream: usize,
}

impl rand_core::TryRng for Random {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.of.fill(self.stream, &mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.of.fill(self.stream, &mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.of.fill(self.stream, dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rand_core::Rng;

    use super::*;

    fn at(call: u64) -> Position<'static> {
        Position { seed: 7, round: 1, group: 2, call, what: "live-method" }
    }

    fn draw(d: &Determinism, n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        d.random(0).fill_bytes(&mut out);
        out
    }

    #[test]
    fn a_call_at_the_same_position_draws_the_same_random_and_reads_the_same_clock() {
        let (a, b) = (Determinism::default(), Determinism::default());
        a.start(1_000, at(3));
        b.start(1_000, at(3));
        assert_eq!(draw(&a, 100), draw(&b, 100));
        assert_eq!(a.random(1).next_u64(), b.random(1).next_u64(), "the insecure stream too");
        assert_eq!(HostWallClock::now(&a.clock()), Duration::from_millis(1_000));
        assert_eq!(HostMonotonicClock::now(&a.clock()), 1_000_000_000);
        // Starting again resets the stream; another call number draws another one.
        a.start(1_000, at(3));
        let first = draw(&a, 32);
        a.start(1_000, at(3));
        assert_eq!(draw(&a, 32), first);
        a.start(1_000, at(4));
        assert_ne!(draw(&a, 32), first);
        // Draws of any sizes follow one stream.
        b.start(1_000, at(3));
        let mut split = draw(&b, 5);
        split.extend(draw(&b, 27));
        assert_eq!(split, first);
        // The secure and insecure streams differ.
        a.start(1_000, at(3));
        let mut insecure = vec![0; 32];
        a.random(1).fill_bytes(&mut insecure);
        assert_ne!(insecure, first);
    }
}
