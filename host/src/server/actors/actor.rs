//! [`Actor`]: one active group's live calls, run one after another (never interleaved), and
//! their messages routed once durable.
//!
//! An actor is not a task of its own. A socket puts its [`Command`] in the group's inbox; if
//! the group is not already scheduled, it joins the run queue of the [`Runners`], where one
//! takes the inbox's commands, runs them back to back, hands the batch to the live journal and
//! takes the next group — it never waits for the disk. A game stuck until its deadline holds
//! one runner and its own group, never other groups, the accept loop or page loads. The
//! journal's writer fsyncs every record appended meanwhile, by every group, at once, then runs
//! the batch's callback, which routes the messages in seq order (see [`crate::journal`]).
//!
//! Subscribing goes through the inbox too, and its callback runs in the journal's order, so a
//! (re)connecting participant gets the replay of the log and then the live messages with no
//! gap and no duplicate.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::game::{CallError, Game, Hook, Instance};
use crate::live::{Group, Routed};
use crate::server::actors::frame::Frame;
use crate::server::actors::runners::{Job, Runners};
use crate::store::{GroupKey, Store, StoreError};

/// Most commands run back to back before their batch goes to the journal.
const BATCH: usize = 256;

/// Frames to one socket.
pub(crate) type FrameSender = mpsc::Sender<Frame>;

/// What an actor is asked to do.
pub(crate) enum Command {
    /// A player's `liveSend`: errors go to `errors` (the sender's socket) alone. `permit` is
    /// one of the socket's calls in flight, given back once the call is answered.
    Live { id: u32, page: String, payload: String, errors: FrameSender, permit: OwnedSemaphorePermit },
    /// Replay messages with seq > `after` to `frames` (of the group's last `replay_limit` at
    /// most), then deliver live ones.
    Subscribe { id: u32, page: String, after: Option<u64>, frames: FrameSender },
    /// The group has been idle: drop its warm instance and write its fields to sled.
    Idle,
    /// A writing page hook (a submission's `before-next-page`, a wait page's
    /// `after-all-players-arrive`) of player `id` (0: the group's) on `page`, committed in the
    /// group's log between its live calls; `done` hears once it is durable, or why not.
    Hook { id: u32, page: String, hook: Hook, done: tokio::sync::oneshot::Sender<Result<(), String>> },
}

/// One group's actor.
pub(crate) struct Actor {
    key: GroupKey,
    game: Arc<Game>,
    store: Store,
    inbox: Mutex<Inbox>,
    calls: Mutex<GroupCalls>,
    runners: Arc<Runners<Actor>>,
    /// Messages a subscribing socket is replayed at most: the group's last ones, so a
    /// reconnect reads a bounded part of the log's end however long the group has run.
    replay_limit: u64,
    /// The group's sockets. The journal's callbacks add and route to them, in log order; a
    /// closing socket removes its own (and any other closed one) at once.
    subscribers: Mutex<Vec<Subscriber>>,
}

/// The commands waiting for a runner, and when the group was last used.
struct Inbox {
    queue: VecDeque<Command>,
    /// Whether a runner has the actor (it takes what arrives meanwhile).
    running: bool,
    last_used: Instant,
    /// Whether the idle sweep has told the group to write its fields since its last call.
    idle: bool,
}

/// What the group's calls run against; only the runner holding the actor touches it.
struct GroupCalls {
    /// The group's log position, read on first use (and again after a failure).
    group: Option<Group>,
    /// The group's warm instance, for games with `warm_instances`.
    warm: Option<Instance>,
}

struct Subscriber {
    id: u32,
    frames: FrameSender,
}

/// A command's outcome, delivered once the batch is durable.
enum Outcome {
    Call { result: Result<Vec<Routed>, CallError>, errors: FrameSender, permit: OwnedSemaphorePermit },
    Subscribe { id: u32, replay: Option<Result<Replay, String>>, frames: FrameSender },
    Hook { result: Result<(), CallError>, done: tokio::sync::oneshot::Sender<Result<(), String>> },
}

/// A subscriber's replay: the messages with seq > `from` that reach it, where `from` is
/// the socket's `after`, raised to the start of the group's last `replay_limit` messages.
struct Replay {
    messages: Vec<Routed>,
    after: u64,
    from: u64,
}

impl Job for Actor {
    /// Runs one batch; true when more commands wait.
    fn run_once(self: &Arc<Self>) -> bool {
        let batch: Vec<Command> = {
            let mut inbox = self.inbox();
            let n = inbox.queue.len().min(BATCH);
            inbox.queue.drain(..n).collect()
        };
        if !batch.is_empty() && std::panic::catch_unwind(AssertUnwindSafe(|| self.run(batch))).is_err() {
            tracing::error!(key = %self.key, "a live call batch panicked; the group's position is read again from the log");
            *self.calls.lock().unwrap_or_else(PoisonError::into_inner) = GroupCalls { group: None, warm: None };
        }
        let mut inbox = self.inbox();
        inbox.running = !inbox.queue.is_empty();
        inbox.running
    }
}

impl Actor {
    /// The actor of group `key` of `game`, idle, run on `runners`.
    pub(crate) fn new(key: GroupKey, game: Arc<Game>, store: Store, runners: Arc<Runners<Actor>>, replay_limit: u64) -> Actor {
        Actor {
            key,
            game,
            store,
            runners,
            replay_limit,
            inbox: Mutex::new(Inbox { queue: VecDeque::new(), running: false, last_used: Instant::now(), idle: false }),
            calls: Mutex::new(GroupCalls { group: None, warm: None }),
            subscribers: Mutex::new(Vec::new()),
        }
    }

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

    /// Marks the group idle if it has not run for `idle` and is not marked yet (once per idle
    /// spell); true when it was just marked, and is to be sent [`Command::Idle`].
    pub(crate) fn mark_idle(&self, idle: Duration) -> bool {
        let mut inbox = self.inbox();
        let marked = !inbox.idle && !inbox.running && inbox.last_used.elapsed() >= idle;
        inbox.idle |= marked;
        marked
    }

    /// Whether the group is marked idle and has not been used since.
    pub(crate) fn is_idle(&self) -> bool {
        self.inbox().idle
    }

    /// Runs one batch and hands its outcomes to the journal.
    fn run(self: &Arc<Self>, batch: Vec<Command>) {
        let mut guard = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let calls = &mut *guard;
        if calls.group.is_none() {
            // The group's size is the session's (a game without players_per_group has one group).
            let players = match self.store.session(&self.key.session) {
                Ok(Some(s)) => s.players_per_group,
                _ => self.game.manifest.players_per_group.unwrap_or(1),
            };
            match self.store.group(self.key.clone(), players) {
                Ok(g) => calls.group = Some(g),
                Err(e) => tracing::error!(key = %self.key, "cannot open the group's log: {e}"),
            }
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        for cmd in batch {
            match (cmd, calls.group.as_mut()) {
                (Command::Live { id, page, payload, errors, permit }, Some(group)) => {
                    let result = self.game.live_call_in(&mut calls.warm, &self.store, group, &page, id, &payload);
                    outcomes.push(Outcome::Call { result: result.map(|c| c.messages), errors, permit });
                }
                (Command::Live { errors, permit, .. }, None) => {
                    let result = Err(CallError::Host("the group's log cannot be read; try again".into()));
                    outcomes.push(Outcome::Call { result, errors, permit });
                }
                (Command::Subscribe { id, page, after, frames }, group) => {
                    // Everything logged so far is readable (staged or in sled); the callback
                    // sends it once durable.
                    let replay = after.map(|after| self.replay(group.map(|g| g.next_seq), id, &page, after));
                    outcomes.push(Outcome::Subscribe { id, replay, frames });
                }
                (Command::Hook { id, page, hook, done }, Some(group)) => {
                    // A hook runs on a fresh instance: its calls are not a live page's.
                    let result = self.game.hook_call_in(&mut None, &self.store, group, &page, id, &hook).map(|_| ());
                    outcomes.push(Outcome::Hook { result, done });
                }
                (Command::Hook { done, .. }, None) => {
                    let _ = done.send(Err("the group's log cannot be read; try again".into()));
                }
                (Command::Idle, _) => {
                    calls.warm = None;
                    if let Err(e) = self.store.write_back_soon(&self.key) {
                        tracing::warn!(key = %self.key, "could not write an idle group's fields back (its log keeps them): {e}");
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

    /// The replay of player `id` subscribing `after` a seq, the group's next seq being
    /// `next_seq`: of its last `replay_limit` messages at most, read back from the log's end.
    fn replay(&self, next_seq: Option<u64>, id: u32, page: &str, after: u64) -> Result<Replay, String> {
        let next_seq = next_seq.ok_or("the group's log cannot be read; try again")?;
        let from = after.max(next_seq.saturating_sub(1).saturating_sub(self.replay_limit));
        let messages = self.store.messages_after(&self.key, id, Some(page), from).map_err(|e: StoreError| e.to_string())?;
        Ok(Replay { messages, after, from })
    }

    /// Forgets the subscribers whose socket has closed: a closing socket calls it, so a
    /// group's list does not keep it until a message for that player finds it closed.
    pub(crate) fn unsubscribe_closed(&self) {
        self.subscribers().retain(|s| !s.frames.is_closed());
    }

    /// How many sockets are subscribed.
    #[cfg(test)]
    pub(crate) fn subscribed(&self) -> usize {
        self.subscribers().len()
    }

    fn subscribers(&self) -> MutexGuard<'_, Vec<Subscriber>> {
        self.subscribers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Routes a durable batch (on the journal's thread: never waits on a socket).
    fn deliver(&self, outcomes: Vec<Outcome>, durable: Result<(), &crate::journal::WriteFailed>) {
        let mut subscribers = self.subscribers();
        for outcome in outcomes {
            match outcome {
                Outcome::Call { result, errors, permit } => {
                    match (result, durable) {
                        (Ok(messages), Ok(())) => {
                            for m in &messages {
                                let frame = Frame::Message(m.frame().into());
                                subscribers.retain(|s| !m.reaches(s.id) || s.frames.try_send(frame.clone()).is_ok());
                            }
                        }
                        (Ok(_), Err(reason)) => {
                            tracing::error!(key = %self.key, "durable write failed; messages not routed: {reason}");
                            let _ = errors.try_send(Frame::error(&CallError::Host(reason.to_string()).to_string()));
                        }
                        (Err(e), _) => {
                            let _ = errors.try_send(Frame::error(&e.to_string()));
                        }
                    }
                    drop(permit);
                }
                Outcome::Hook { result, done } => {
                    let _ = done.send(match (result, durable) {
                        (Ok(()), Ok(())) => Ok(()),
                        (Ok(()), Err(reason)) => Err(CallError::Host(reason.to_string()).to_string()),
                        (Err(e), _) => Err(e.to_string()),
                    });
                }
                Outcome::Subscribe { id, replay, frames } => {
                    match (replay, durable) {
                        (_, Err(reason)) => {
                            let _ = frames.try_send(Frame::error(&format!("cannot replay the log: {reason}")));
                        }
                        (None, Ok(())) => {}
                        (Some(Ok(replay)), Ok(())) => {
                            if replay.from > replay.after {
                                let why = format!(
                                    "the replay starts after message {}: a socket is replayed at most the group's last {} messages (the replay limit)",
                                    replay.from, self.replay_limit
                                );
                                let _ = frames.try_send(Frame::error(&why));
                            }
                            // Never wait on a socket here: that would stall every group. A
                            // history longer than the socket's queue is sent in part; the
                            // socket then closes and its client resumes from the last seq.
                            if !replay.messages.iter().all(|m| frames.try_send(Frame::Message(m.frame().into())).is_ok()) {
                                continue;
                            }
                        }
                        (Some(Err(e)), Ok(())) => {
                            let _ = frames.try_send(Frame::error(&format!("cannot replay the log: {e}")));
                        }
                    }
                    // A socket closed meanwhile has already unsubscribed: not kept.
                    if frames.is_closed() {
                        continue;
                    }
                    subscribers.push(Subscriber { id, frames });
                }
            }
        }
    }
}
