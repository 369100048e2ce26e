//! The fixed-rate schedule: a thread of its own hands each connection its messages when
//! they are due.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::plan::Plan;

/// A message due: its number and the instant it was due (its latency counts from there).
pub(super) type Tick = (u64, Instant);

/// A connection's end of the pacer.
pub(super) type Due = UnboundedReceiver<Tick>;

/// The pacer sleeps at least this long between wakes: at most this much of a message's
/// latency is the client's own lateness (a wake costs ~20 µs of CPU on a VM).
const PACE: Duration = Duration::from_micros(200);

/// The fixed-rate schedule of a run: message `n` is due at `start + n / per_second` and goes
/// to connection `n mod connections`.
pub(super) struct Pacer {
    /// Each connection's end, in connection order.
    pub(super) ticks: Vec<UnboundedSender<Tick>>,
    pub(super) per_second: f64,
    pub(super) plan: Arc<Plan>,
}

impl Pacer {
    /// Runs the schedule on a thread of its own, which wakes within [`PACE`] of a message's
    /// instant, where tokio's timer rounds up to the next millisecond — time that would
    /// count as latency, since a message is timed from when it was due. The thread ends,
    /// dropping the senders (which ends sending), at the run's count or time.
    pub(super) fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new().name("stoa-load-pacer".into()).spawn(move || self.pace())
    }

    fn pace(self) {
        let Pacer { ticks, per_second, plan } = self;
        let count = ticks.len() as u64;
        let mut woke = plan.start;
        for n in 0..plan.messages {
            let at = plan.start + Duration::from_secs_f64(n as f64 / per_second);
            if at >= plan.send_until || plan.shared.stop_sending.load(Ordering::Relaxed) {
                break;
            }
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at.max(woke + PACE) - now);
                woke = Instant::now();
            }
            if let Some(tick) = ticks.get((n % count) as usize) {
                // A connection that failed has stopped listening; the others go on.
                let _ = tick.send((n, at));
            }
        }
    }
}
