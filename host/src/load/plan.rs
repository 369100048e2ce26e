//! What every connection of a run shares: the plan it follows ([`Plan`]) and the counters
//! it updates ([`Shared`]), which the progress line reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use super::config::Mode;

/// Counters shared by every connection, read by the progress line.
#[derive(Default)]
pub(super) struct Shared {
    /// The next message number (saturation: each send takes one).
    pub(super) next: AtomicU64,
    pub(super) sent: AtomicU64,
    /// Of those, sent (or due) during the warm-up.
    pub(super) warmup_sent: AtomicU64,
    pub(super) answered: AtomicU64,
    pub(super) frames: AtomicU64,
    pub(super) errors: AtomicU64,
    /// The slowest reply since the last progress line, µs (where in a run a stall came).
    pub(super) slowest_us: AtomicU64,
    /// Sending stops (count or time reached).
    pub(super) stop_sending: AtomicBool,
}

/// How and until when a run sends, the same for every connection.
pub(super) struct Plan {
    pub(super) mode: Mode,
    /// The payload template.
    pub(super) template: Arc<str>,
    /// When sending began (the warm-up's start).
    pub(super) start: Instant,
    /// The end of the warm-up: messages timed from before it are reported apart.
    pub(super) measure_from: Instant,
    pub(super) send_until: Instant,
    /// Most messages in all.
    pub(super) messages: u64,
    /// Longest wait for replies after sending ends.
    pub(super) drain: Duration,
    pub(super) shared: Shared,
}
