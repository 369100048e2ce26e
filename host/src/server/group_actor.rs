//! One actor per active group: it owns the group's log position, runs the group's live calls
//! one after another (never interleaved), and routes their messages once they are durable.
//!
//! An actor is not a task of its own. A socket puts its command in the group's inbox; if the
//! group is not already scheduled, it joins the run queue of a few runner threads ([`RUNNERS`]),
//! where one takes the inbox's commands, runs them back to back, hands the batch to the live
//! journal and takes the next group — it never waits for the disk. A game stuck until its
//! deadline holds one runner and its own group, never other groups, the accept loop or page
//! loads. The journal's writer fsyncs every record appended meanwhile, by every group, at once,
//! then runs the batch's callback, which routes the messages in seq order (see
//! [`crate::journal`]). Per message that is a few hand-offs between threads, each shared by a
//! batch; before, an actor task, a blocking thread waiting for sled's flush and a group-commit
//! leader made about eight context switches per message.
//!
//! Subscribing goes through the inbox too, and its callback runs in the journal's order, so a
//! (re)connecting participant gets the replay of the log and then the live messages with no
//! gap and no duplicate.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::game::{CallError, Game, Instance};
use crate::live::{Group, Routed};
use crate::store::{GroupKey, Store, StoreError};

/// Frames queued for one socket. A socket that falls this far behind is closed; its client
/// reconnects and resumes from its last seq.
pub(crate) const SOCKET_QUEUE: usize = 4096;

/// Most commands run back to back before their batch goes to the journal.
const BATCH: usize = 256;

/// A group unused this long drops its warm instance (its memory goes back to the pool) and
/// writes its field values to sled.
const IDLE: Duration = Duration::from_secs(60);

/// Frames to one socket.
pub(crate) type FrameSender = mpsc::Sender<Arc<str>>;

/// What an actor is asked to do.
pub(crate) enum Command {
    /// A player's `liveSend`: errors go to `errors` (the sender's socket) alone. `permit` is
    /// one of the socket's calls in flight, given back once the call is answered.
    Live { id: u32, page: String, payload: String, errors: FrameSender, permit: OwnedSemaphorePermit },
    /// Replay messages with seq > `after` to `frames`, then deliver live ones.
    Subscribe { id: u32, after: Option<u64>, frames: FrameSender },
    /// The group has been idle: drop its warm instance and settle its fields.
    Idle,
}

/// The groups with an actor, by key.
pub(crate) struct GroupHub {
    store: Store,
    actors: Mutex<HashMap<GroupKey, Arc<Actor>>>,
    runners: Arc<Runners>,
}

impl GroupHub {
    pub(crate) fn new(store: Store) -> GroupHub {
        GroupHub { store, actors: Mutex::new(HashMap::new()), runners: Arc::new(Runners::default()) }
    }

    fn actors(&self) -> MutexGuard<'_, HashMap<GroupKey, Arc<Actor>>> {
        self.actors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The actor of `key`, made on first use.
    pub(crate) fn actor(&self, game: &Arc<Game>, key: &GroupKey) -> Arc<Actor> {
        let mut actors = self.actors();
        if let Some(actor) = actors.get(key) {
            return actor.clone();
        }
        let actor = Arc::new(Actor {
            key: key.clone(),
            game: game.clone(),
            store: self.store.clone(),
            runners: self.runners.clone(),
            inbox: Mutex::new(Inbox { queue: VecDeque::new(), running: false, last_used: Instant::now(), idle: false }),
            owned: Mutex::new(Owned { group: None, warm: None }),
            subscribers: Mutex::new(Vec::new()),
        });
        actors.insert(key.clone(), actor.clone());
        actor
    }

    /// Every `IDLE / 4`, sweeps the groups ([`GroupHub::sweep`]).
    pub(crate) fn start_idle_sweep(state: Weak<super::state::AppState>) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(IDLE / 4);
            loop {
                tick.tick().await;
                let Some(state) = state.upgrade() else { return };
                state.hub.sweep(IDLE);
            }
        });
    }

    /// Tells each group unused for `idle` to let go of its instance and write its fields
    /// (once per idle spell); and forgets the actors of groups already told, with nothing
    /// queued, that nothing else holds — no socket, runner or pending callback. Such a
    /// group's next socket makes a new actor, which reads the group's position from the
    /// store, so a server's memory does not grow with every group it ever ran. Returns how
    /// many actors it forgot.
    pub(crate) fn sweep(&self, idle: Duration) -> usize {
        let actors: Vec<Arc<Actor>> = self.actors().values().cloned().collect();
        for actor in actors {
            let told = {
                let mut inbox = actor.inbox();
                let told = !inbox.idle && !inbox.running && inbox.last_used.elapsed() >= idle;
                inbox.idle |= told;
                told
            };
            if told {
                actor.send(Command::Idle);
            }
        }
        // Under the map's lock nobody can take a new handle: a count of 1 is the map's own.
        // (A queued or running actor is held by a runner, so it is never forgotten.)
        let mut actors = self.actors();
        let before = actors.len();
        actors.retain(|_, actor| Arc::strong_count(actor) > 1 || !actor.inbox().idle);
        before - actors.len()
    }
}

/// Most threads running actors at once. A group's calls never run on two at once, so a game
/// stuck until its deadline holds one runner; the others serve every other group. Bounded,
/// unlike tokio's blocking pool: when many groups have work at once, a few threads take them
/// in turn instead of hundreds of threads taking the cores from each other.
const RUNNERS: usize = 16;

/// A runner idle this long ends (the next busy moment starts one again).
const RUNNER_IDLE: Duration = Duration::from_secs(10);

/// The threads that run actors with work, in the order they got it.
#[derive(Default)]
pub(crate) struct Runners {
    state: Mutex<RunState>,
    ready: std::sync::Condvar,
}

#[derive(Default)]
struct RunState {
    queue: VecDeque<Arc<Actor>>,
    threads: usize,
    idle: usize,
}

impl Runners {
    fn state(&self) -> MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues an actor with work; wakes an idle runner or starts one.
    fn schedule(self: &Arc<Self>, actor: Arc<Actor>) {
        let mut state = self.state();
        state.queue.push_back(actor);
        if state.idle > 0 {
            drop(state);
            self.ready.notify_one();
        } else if state.threads < RUNNERS {
            state.threads += 1;
            drop(state);
            let runners = self.clone();
            let started = std::thread::Builder::new().name("stoa-runner".into()).spawn(move || runners.run());
            if let Err(e) = started {
                // The queued actor is taken by a runner already running.
                self.state().threads -= 1;
                tracing::error!("cannot start a runner thread: {e}");
            }
        }
    }

    fn run(self: Arc<Self>) {
        loop {
            let actor = {
                let mut state = self.state();
                loop {
                    if let Some(actor) = state.queue.pop_front() {
                        break actor;
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
            if actor.run_once() {
                let mut state = self.state();
                state.queue.push_back(actor);
            }
        }
    }
}

struct Subscriber {
    id: u32,
    frames: FrameSender,
}

struct Inbox {
    queue: VecDeque<Command>,
    /// Whether a blocking thread is running the actor (it takes what arrives meanwhile).
    running: bool,
    last_used: Instant,
    /// Whether the idle sweep has already settled the group since its last call.
    idle: bool,
}

/// What only the thread running the actor touches.
struct Owned {
    /// The group's log position, read on first use (and again after a failure).
    group: Option<Group>,
    /// The group's warm instance, for games with `warm_instances`.
    warm: Option<Instance>,
}

/// One group's actor.
pub(crate) struct Actor {
    key: GroupKey,
    game: Arc<Game>,
    store: Store,
    inbox: Mutex<Inbox>,
    owned: Mutex<Owned>,
    runners: Arc<Runners>,
    /// The group's sockets; only the journal's callbacks touch it, in log order.
    subscribers: Mutex<Vec<Subscriber>>,
}

/// A command's outcome, delivered once the batch is durable.
enum Outcome {
    Call { result: Result<Vec<Routed>, CallError>, errors: FrameSender, permit: OwnedSemaphorePermit },
    Subscribe { id: u32, replay: Option<Result<Vec<Routed>, StoreError>>, frames: FrameSender },
}

/// The frame `{"error": reason}`.
pub(crate) fn error_frame(reason: &str) -> Arc<str> {
    serde_json::json!({ "error": reason }).to_string().into()
}

impl Actor {
    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `cmd`; schedules the actor on the runners unless it is scheduled already.
    pub(crate) fn send(self: &Arc<Self>, cmd: Command) {
        let start = {
            let mut inbox = self.inbox();
            if !matches!(cmd, Command::Idle) {
                inbox.last_used = Instant::now();
                inbox.idle = false;
            }
            inbox.queue.push_back(cmd);
            !std::mem::replace(&mut inbox.running, true)
        };
        if start {
            self.runners.schedule(self.clone());
        }
    }

    /// Runs one batch; true when more commands wait (the actor then goes to the back of the
    /// run queue, so a busy group cannot keep a runner from the others).
    fn run_once(self: &Arc<Self>) -> bool {
        let batch: Vec<Command> = {
            let mut inbox = self.inbox();
            let n = inbox.queue.len().min(BATCH);
            inbox.queue.drain(..n).collect()
        };
        if !batch.is_empty() && std::panic::catch_unwind(AssertUnwindSafe(|| self.run(batch))).is_err() {
            tracing::error!(key = %self.key, "a live call batch panicked; the group's position is read again from the log");
            let mut owned = self.owned.lock().unwrap_or_else(PoisonError::into_inner);
            *owned = Owned { group: None, warm: None };
        }
        let mut inbox = self.inbox();
        inbox.running = !inbox.queue.is_empty();
        inbox.running
    }

    /// Runs one batch and hands its outcomes to the journal.
    fn run(self: &Arc<Self>, batch: Vec<Command>) {
        let mut guard = self.owned.lock().unwrap_or_else(PoisonError::into_inner);
        let owned = &mut *guard;
        if owned.group.is_none() {
            match self.store.group(self.key.clone(), self.game.manifest.players_per_group) {
                Ok(g) => owned.group = Some(g),
                Err(e) => tracing::error!(key = %self.key, "cannot open the group's log: {e}"),
            }
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        for cmd in batch {
            match (cmd, owned.group.as_mut()) {
                (Command::Live { id, page, payload, errors, permit }, Some(group)) => {
                    let result = self.game.live_call_in(&mut owned.warm, &self.store, group, &page, id, &payload);
                    outcomes.push(Outcome::Call { result: result.map(|c| c.messages), errors, permit });
                }
                (Command::Live { errors, permit, .. }, None) => {
                    let result = Err(CallError::Host("the group's log cannot be read; try again".into()));
                    outcomes.push(Outcome::Call { result, errors, permit });
                }
                (Command::Subscribe { id, after, frames }, _) => {
                    // Everything logged so far is readable (staged or in sled); the callback
                    // sends it once durable.
                    let replay = after.map(|after| self.store.messages_after(&self.key, id, after));
                    outcomes.push(Outcome::Subscribe { id, replay, frames });
                }
                (Command::Idle, _) => {
                    owned.warm = None;
                    if let Err(e) = self.store.settle_soon(&self.key) {
                        tracing::warn!(key = %self.key, "could not settle an idle group's fields (its log keeps them): {e}");
                    }
                }
            }
        }
        drop(guard);
        if !outcomes.is_empty() {
            let actor = self.clone();
            self.store.after_durable(Box::new(move |durable| actor.deliver(outcomes, durable)));
        }
    }

    /// Routes a durable batch (on the journal's thread: never waits on a socket).
    fn deliver(&self, outcomes: Vec<Outcome>, durable: Result<(), &crate::journal::WriteFailed>) {
        let mut subscribers = self.subscribers.lock().unwrap_or_else(PoisonError::into_inner);
        for outcome in outcomes {
            match outcome {
                Outcome::Call { result, errors, permit } => {
                    match (result, durable) {
                        (Ok(messages), Ok(())) => {
                            for m in &messages {
                                let frame: Arc<str> = m.frame().into();
                                subscribers.retain(|s| !m.reaches(s.id) || s.frames.try_send(frame.clone()).is_ok());
                            }
                        }
                        (Ok(_), Err(reason)) => {
                            tracing::error!(key = %self.key, "durable write failed; messages not routed: {reason}");
                            let _ = errors.try_send(error_frame(&CallError::Host(reason.to_string()).to_string()));
                        }
                        (Err(e), _) => {
                            let _ = errors.try_send(error_frame(&e.to_string()));
                        }
                    }
                    drop(permit);
                }
                Outcome::Subscribe { id, replay, frames } => {
                    match (replay, durable) {
                        (_, Err(reason)) => {
                            let _ = frames.try_send(error_frame(&format!("cannot replay the log: {reason}")));
                        }
                        (None, Ok(())) => {}
                        (Some(Ok(messages)), Ok(())) => {
                            // Never wait on a socket here: that would stall every group. A
                            // history longer than the socket's queue is sent in part; the
                            // socket then closes and its client resumes from the last seq.
                            if !messages.iter().all(|m| frames.try_send(m.frame().into()).is_ok()) {
                                continue;
                            }
                        }
                        (Some(Err(e)), Ok(())) => {
                            let _ = frames.try_send(error_frame(&format!("cannot replay the log: {e}")));
                        }
                    }
                    subscribers.push(Subscriber { id, frames });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Runtime, RuntimeConfig};
    use std::path::Path;

    fn auction() -> Arc<Game> {
        let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-games/auction");
        Game::load(&runtime, &dir).expect("the auction (built by `make games`)")
    }

    fn live(actor: &Arc<Actor>, id: u32, bid: u32) -> Arc<str> {
        let (frames, mut rx) = mpsc::channel(16);
        actor.send(Command::Subscribe { id, after: None, frames: frames.clone() });
        let permit = Arc::new(tokio::sync::Semaphore::new(1)).try_acquire_owned().expect("permit");
        actor.send(Command::Live { id, page: "Bid".into(), payload: format!("{{\"bid\": {bid}}}"), errors: frames, permit });
        rx.blocking_recv().expect("a reply")
    }

    #[test]
    fn after_a_failed_journal_write_the_sender_is_told_and_later_calls_are_refused_unrun() {
        let game = auction();
        let dir = tempfile::tempdir().expect("tempdir");
        let key = GroupKey { session: "s".into(), round: 1, group: 1 };
        let disk = crate::journal::mem::Mem::default();
        {
            let store = Store::open_on(dir.path(), disk.clone()).expect("store");
            let hub = GroupHub::new(store.clone());
            let actor = hub.actor(&game, &key);
            assert!(live(&actor, 1, 10).contains("new_max"));
            disk.fail_next_write();
            let reply = live(&actor, 2, 20);
            assert!(reply.contains("error") && reply.contains("No space left"), "{reply}");
            // A socket subscribing now is told it cannot be replayed; then its call is refused.
            let (frames, mut rx) = mpsc::channel(16);
            actor.send(Command::Subscribe { id: 3, after: None, frames: frames.clone() });
            let permit = Arc::new(tokio::sync::Semaphore::new(1)).try_acquire_owned().expect("permit");
            actor.send(Command::Live { id: 3, page: "Bid".into(), payload: r#"{"bid": 30}"#.into(), errors: frames, permit });
            let replies = [rx.blocking_recv().expect("a reply"), rx.blocking_recv().expect("a reply")];
            assert!(replies[0].contains("cannot replay the log"), "{replies:?}");
            assert!(replies[1].contains("refused until the server is restarted"), "{replies:?}");
            // The refused call left no entry: the game did not run for it.
            let calls = store.calls(&key).expect("calls");
            assert_eq!(calls.len(), 2, "bids 10 and 20 (whose write failed) only: {}", calls.len());
        }
        // Restarted: the fields are those of the last call whose write succeeded. (The last
        // handle may be let go on the journal's thread a moment later: sled's lock with it.)
        let store = crate::journal::retry_while_locked(|| Store::open_on(dir.path(), disk.clone()));
        assert_eq!(store.calls(&key).expect("calls").len(), 1);
        let hub = GroupHub::new(store);
        let reply = live(&hub.actor(&game, &key), 2, 15);
        assert!(reply.contains("new_max") && reply.contains("15"), "bid 20 was not kept: {reply}");
    }

    #[test]
    fn the_sweep_forgets_idle_actors_nothing_holds_and_their_groups_go_on() {
        let game = auction();
        let hub = GroupHub::new(Store::temporary().expect("store"));
        let key = |group| GroupKey { session: "s".into(), round: 1, group };
        let (a, b) = (hub.actor(&game, &key(1)), hub.actor(&game, &key(2)));
        assert!(live(&a, 1, 10).contains("new_max"));
        assert!(live(&b, 1, 10).contains("new_max"));
        // Group 1's socket has gone; group 2's is still open (it holds its actor).
        drop(a);
        // The first sweep tells idle groups to settle; it or a later one forgets those nothing
        // holds (the first one too, when the runner settled the group before it looked).
        let mut forgotten = hub.sweep(Duration::ZERO);
        let deadline = Instant::now() + Duration::from_secs(10);
        while forgotten == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            forgotten += hub.sweep(Duration::ZERO);
        }
        assert_eq!(forgotten, 1);
        assert_eq!(hub.actors().len(), 1);
        assert!(hub.actors().contains_key(&key(2)), "a held actor stays");
        // Group 1 goes on from where it was: a lower bid is rejected against the logged maximum.
        let again = hub.actor(&game, &key(1));
        let reply = live(&again, 2, 5);
        assert!(reply.contains("rejected") && reply.contains("\"max_bid\":10"), "{reply}");
        drop(b);
    }
}
