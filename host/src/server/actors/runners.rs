//! [`Runners`]: a few threads that run jobs with work — the group actors — in the order they
//! got it.
//!
//! Bounded, unlike tokio's blocking pool: when many groups have work at once, a few threads
//! take them in turn instead of hundreds of threads taking the cores from each other. A job
//! runs on one runner at a time, so a game stuck until its deadline holds one runner; the
//! others serve every other group.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Most threads running jobs at once.
const RUNNERS: usize = 16;

/// A runner idle this long ends (the next busy moment starts one again).
const RUNNER_IDLE: Duration = Duration::from_secs(10);

/// What a runner runs.
pub(crate) trait Job: Send + Sync + 'static {
    /// Runs one turn; true when more work waits (the job then goes to the back of the queue,
    /// so a busy job cannot keep a runner from the others).
    fn run_once(self: &Arc<Self>) -> bool;
}

/// The threads that run jobs with work, in the order they got it.
pub(crate) struct Runners<J> {
    state: Mutex<RunState<J>>,
    ready: Condvar,
}

impl<J> Default for Runners<J> {
    fn default() -> Self {
        Runners { state: Mutex::new(RunState { queue: VecDeque::new(), threads: 0, idle: 0 }), ready: Condvar::new() }
    }
}

struct RunState<J> {
    /// Jobs with work, waiting for a runner.
    queue: VecDeque<Arc<J>>,
    /// Runner threads alive.
    threads: usize,
    /// Runner threads waiting for a job.
    idle: usize,
}

impl<J: Job> Runners<J> {
    fn state(&self) -> MutexGuard<'_, RunState<J>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job with work; wakes an idle runner or starts one.
    pub(crate) fn schedule(self: &Arc<Self>, job: Arc<J>) {
        let mut state = self.state();
        state.queue.push_back(job);
        if state.idle > 0 {
            drop(state);
            self.ready.notify_one();
        } else if state.threads < RUNNERS {
            state.threads += 1;
            drop(state);
            let runners = self.clone();
            let started = std::thread::Builder::new().name("stoa-runner".into()).spawn(move || runners.run());
            if let Err(e) = started {
                // The queued job is taken by a runner already running.
                self.state().threads -= 1;
                tracing::error!("cannot start a runner thread: {e}");
            }
        }
    }

    /// One runner: takes jobs until none comes for [`RUNNER_IDLE`].
    fn run(self: Arc<Self>) {
        loop {
            let job = {
                let mut state = self.state();
                loop {
                    if let Some(job) = state.queue.pop_front() {
                        break job;
                    }
                    state.idle += 1;
                    let (next, timeout) = self.ready.wait_timeout(state, RUNNER_IDLE).unwrap_or_else(PoisonError::into_inner);
                    state = next;
                    state.idle -= 1;
                    if timeout.timed_out() && state.queue.is_empty() {
                        state.threads -= 1;
                        return;
                    }
                }
            };
            if job.run_once() {
                self.state().queue.push_back(job);
            }
        }
    }
}
