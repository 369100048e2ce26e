//! Group commit: many concurrent calls share one fsync.
//!
//! A call applies its batch, then waits for a flush that *started after* the batch was
//! applied. Whoever finds no flush running becomes the leader and flushes for everyone
//! waiting; the others sleep until a flush with a number at least their ticket completes.
//! Under load one fsync covers every call that arrived while the previous one ran, so the
//! flush rate stays bounded by the disk while throughput grows with concurrency.

use std::sync::{Condvar, Mutex};

/// Batches `sled::Db::flush` across concurrent callers.
pub(crate) struct GroupCommit {
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
    failed: Option<(u64, String)>,
}

impl GroupCommit {
    pub(crate) fn new(db: sled::Db) -> GroupCommit {
        GroupCommit { db, state: Mutex::new(State::default()), done: Condvar::new() }
    }

    /// Returns once everything applied before the call is on disk.
    pub(crate) fn wait_durable(&self) -> Result<(), String> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = s.started + 1;
        loop {
            if s.completed >= ticket {
                return match &s.failed {
                    Some((n, e)) if *n >= ticket => Err(e.clone()),
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
                    s.failed = Some((number, format!("flush failed: {e}")));
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
    use std::sync::Arc;

    #[test]
    fn concurrent_waiters_share_flushes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::open(dir.path()).expect("open");
        let gc = Arc::new(GroupCommit::new(db.clone()));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let gc = gc.clone();
                let db = db.clone();
                std::thread::spawn(move || {
                    for i in 0..50u32 {
                        db.insert(format!("{t}-{i}"), &i.to_be_bytes()).expect("insert");
                        gc.wait_durable().expect("durable");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        // 400 waits; batching makes far fewer fsyncs than that.
        assert!(gc.flushes() >= 1);
        assert!(gc.flushes() < 400, "every wait ran its own flush: {}", gc.flushes());
    }
}
