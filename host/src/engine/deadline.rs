//! Deadlines: the epoch ticker and how a call's deadline is armed on its store. A deadline is
//! CPU time, so a call on a busy machine is not failed for the time it waited for a core.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wasmtime::{Engine, Store as WasmStore, Trap, UpdateDeadline};

/// How often the engine's epoch advances; deadlines are whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// A call's deadline is CPU time; on the wall clock it may take this many times as long
/// (a machine so busy that a call waits longer than that for a core is overloaded).
pub const WALL_FACTOR: u32 = 10;

/// The thread that advances the engine's epoch every [`EPOCH_TICK`]; it stops when dropped.
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    /// Starts the ticker thread of `engine`.
    pub(crate) fn start(engine: &Engine) -> anyhow::Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, stopped) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("stoa-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .context("failed to start the epoch ticker")?;
        Ok(Ticker { stop })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// CPU time the calling thread has used.
pub(crate) fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `clock_gettime` writes one `timespec` through the pointer, which points to a
    // live local of that type; CLOCK_THREAD_CPUTIME_ID exists on every Linux.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// Deadline in epoch ticks, rounded up, plus one for the tick already under way.
pub(crate) fn ticks(deadline: Duration) -> u64 {
    (deadline.as_micros() as u64).div_ceil(EPOCH_TICK.as_micros() as u64) + 1
}

/// Arms `store` so that what runs in it next traps with [`Trap::Interrupt`] once it has used
/// `deadline` of CPU time on the calling thread — or run [`WALL_FACTOR`] times that long on
/// the wall clock. A deadline counted on the wall clock alone would fail sound calls whenever
/// the machine is busy (a thread waiting for a core is not the game's doing); CPU time is
/// checked whenever the epoch says the deadline has passed on the wall clock, and the call
/// goes on for the CPU time left.
///
/// The thread's CPU clock is a system call (~2 µs on a VM), so it is first read at the first
/// epoch tick the call runs past, not when the call starts: nearly every call ends before
/// that and never reads it. What ran before that first reading is charged as the wall time it
/// took, at most two ticks: it ran for at most a tick (with the ticker on time; a late ticker
/// lets every check come late) plus the time to reach the check, and a thread that waited for
/// a core meanwhile is not charged for the wait.
pub(crate) fn arm_deadline<T: 'static>(store: &mut WasmStore<T>, deadline: Duration) {
    let started = Instant::now();
    // (CPU clock at the first reading, CPU time charged for what ran before it)
    let mut base: Option<(Duration, Duration)> = None;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        let now = thread_cpu_time();
        let (cpu_at_first, before) = *base.get_or_insert_with(|| (now, started.elapsed().min(EPOCH_TICK * 2)));
        let used = before + now.saturating_sub(cpu_at_first);
        if used >= deadline || started.elapsed() >= deadline * WALL_FACTOR {
            return Err(Trap::Interrupt.into());
        }
        Ok(UpdateDeadline::Continue(ticks(deadline - used)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_time_counts_work_and_not_sleep() {
        let before = thread_cpu_time();
        std::thread::sleep(Duration::from_millis(50));
        let slept = thread_cpu_time() - before;
        let before = thread_cpu_time();
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let worked = thread_cpu_time() - before;
        assert!(slept < Duration::from_millis(10), "sleeping used {slept:?} of CPU");
        assert!(worked > slept, "50 ms of work used {worked:?} of CPU, sleeping {slept:?}");
    }

    #[test]
    fn ticks_round_up_and_count_the_tick_under_way() {
        assert_eq!(ticks(EPOCH_TICK), 2);
        assert_eq!(ticks(EPOCH_TICK + Duration::from_micros(1)), 3);
        assert_eq!(ticks(Duration::ZERO), 1);
    }
}
