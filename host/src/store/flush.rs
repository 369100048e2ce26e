//! Shared flushes: many concurrent callers share one fsync of the sled database
//! ([`SharedFlush`]), and [`FlushError`], why what was written is not durable.
//!
//! A caller writes, then waits for a flush that *started after* its write. Whoever finds no
//! flush running becomes the leader and flushes for everyone waiting; the others sleep until a
//! flush with a number at least their ticket completes. Under load one fsync covers every
//! caller that arrived while the previous one ran, so the flush rate stays bounded by the disk
//! while throughput grows with concurrency.

use std::sync::{Arc, Condvar, Mutex};

/// Why what was written could not be made durable.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    /// The live journal could not write the call entries (its reason).
    #[error("{0}")]
    Journal(String),
    /// sled's flush failed (shared by every caller waiting for that flush).
    #[error("flush failed: {0}")]
    Sled(Arc<sled::Error>),
    /// The task that waited for the flush did not finish (it panicked or was cancelled).
    #[error("flush task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Batches `sled::Db::flush` across concurrent callers.
pub(crate) struct SharedFlush {
    db: sled::Db,
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Default)]
struct State {
    /// Flushes started so far; a flush's number is the value after its start.
    started: u64,
    /// The highest flush number that has completed.
    completed: u64,
    /// Whether a leader is flushing now.
    running: bool,
    /// The last flush error, reported to the callers of that flush.
    failed: Option<(u64, Arc<sled::Error>)>,
}

impl SharedFlush {
    pub(crate) fn new(db: sled::Db) -> SharedFlush {
        SharedFlush { db, state: Mutex::new(State::default()), done: Condvar::new() }
    }

    /// Returns once everything written before the call is on disk.
    pub(crate) fn wait_durable(&self) -> Result<(), FlushError> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = s.started + 1;
        loop {
            if s.completed >= ticket {
                return match &s.failed {
                    Some((n, e)) if *n >= ticket => Err(FlushError::Sled(e.clone())),
                    _ => Ok(()),
                };
            }
            if !s.running {
                s.running = true;
                s.started += 1;
                let number = s.started;
                drop(s);
                let result = self.db.flush();
                s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                s.running = false;
                s.completed = number;
                if let Err(e) = result {
                    s.failed = Some((number, Arc::new(e)));
                }
                self.done.notify_all();
                continue;
            }
            s = self.done.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// How many fsyncs have run (for benchmarks: calls per flush shows the batching).
    pub(crate) fn flushes(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).completed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_waiters_share_flushes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::open(dir.path()).expect("open");
        let shared = Arc::new(SharedFlush::new(db.clone()));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let shared = shared.clone();
                let db = db.clone();
                std::thread::spawn(move || {
                    for i in 0..50u32 {
                        db.insert(format!("{t}-{i}"), &i.to_be_bytes()).expect("insert");
                        shared.wait_durable().expect("durable");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        // 400 waits; batching makes far fewer fsyncs than that.
        assert!(shared.flushes() >= 1);
        assert!(shared.flushes() < 400, "every wait ran its own flush: {}", shared.flushes());
    }
}
