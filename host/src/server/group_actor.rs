//! One actor per active group: it owns the group's log position, runs the group's live calls
//! one after another (never interleaved), makes them durable, then routes their messages.
//!
//! The wasm call and the fsync run on tokio's blocking pool, so a game stuck until its
//! deadline holds one blocking thread and its own group — never other groups, the accept loop
//! or page loads. Calls that queue up while one runs are taken together: they run back to
//! back and share one durable flush (and the flush itself is shared with other groups'
//! batches by the store's group commit), then their messages go out in seq order.
//!
//! Subscribing goes through the actor too, so a (re)connecting participant gets the replay
//! of the log and then the live messages with no gap and no duplicate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::game::{CallError, Game, Instance};
use crate::live_log::Group;
use crate::store::{GroupKey, Store};

/// Frames queued for one socket. A socket that falls this far behind is closed; its client
/// reconnects and resumes from its last seq.
pub(crate) const SOCKET_QUEUE: usize = 4096;

/// Most calls run back to back before their shared flush.
const BATCH: usize = 256;

/// A warm instance unused this long is dropped (its memory goes back to the pool).
const WARM_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// Frames to one socket.
pub(crate) type FrameSender = mpsc::Sender<Arc<str>>;

/// What an actor is asked to do.
pub(crate) enum Command {
    /// A player's `liveSend`: errors go to `errors` (the sender's socket) alone.
    Live { id: u32, page: String, payload: String, errors: FrameSender },
    /// Replay messages with seq > `after` to `frames`, then deliver live ones.
    Subscribe { id: u32, after: Option<u64>, frames: FrameSender },
}

/// The running actors, by group.
pub(crate) struct GroupHub {
    store: Store,
    actors: Mutex<HashMap<GroupKey, mpsc::Sender<Command>>>,
}

impl GroupHub {
    pub(crate) fn new(store: Store) -> GroupHub {
        GroupHub { store, actors: Mutex::new(HashMap::new()) }
    }

    /// The mailbox of `key`'s actor, started on first use.
    pub(crate) fn mailbox(&self, game: &Arc<Game>, key: &GroupKey) -> mpsc::Sender<Command> {
        let mut actors = self.actors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = actors.get(key).filter(|tx| !tx.is_closed()) {
            return tx.clone();
        }
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(run(game.clone(), self.store.clone(), key.clone(), rx));
        actors.insert(key.clone(), tx.clone());
        tx
    }
}

struct Subscriber {
    id: u32,
    frames: FrameSender,
}

fn error_frame(reason: &str) -> Arc<str> {
    serde_json::json!({ "error": reason }).to_string().into()
}

async fn run(game: Arc<Game>, store: Store, key: GroupKey, mut rx: mpsc::Receiver<Command>) {
    let players = game.manifest.players_per_group;
    let loaded = {
        let (store, key) = (store.clone(), key.clone());
        tokio::task::spawn_blocking(move || store.group(key, players)).await
    };
    let mut group: Group = match loaded {
        Ok(Ok(g)) => g,
        Ok(Err(e)) => return tracing::error!(%key, "cannot open the group's log: {e}"),
        Err(e) => return tracing::error!(%key, "cannot open the group's log: {e}"),
    };
    let mut subscribers: Vec<Subscriber> = Vec::new();
    // The group's warm instance, for games with `warm_instances`; dropped when idle.
    let mut warm: Option<Instance> = None;
    loop {
        let first = match tokio::time::timeout(WARM_IDLE, rx.recv()).await {
            Ok(Some(cmd)) => cmd,
            Ok(None) => break,
            Err(_) => {
                warm = None;
                // An idle group's field values go to sled, out of memory.
                let (store, key) = (store.clone(), key.clone());
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.settle(&key)).await {
                    tracing::warn!("could not settle an idle group's fields (its log keeps them): {e}");
                }
                continue;
            }
        };
        let mut calls = Vec::new();
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            match cmd {
                Command::Live { id, page, payload, errors } => calls.push((id, page, payload, errors)),
                Command::Subscribe { id, after, frames } => {
                    // Calls taken before this subscription are routed before it replays.
                    (group, warm) = run_calls(&game, &store, group, warm, std::mem::take(&mut calls), &mut subscribers).await;
                    subscribe(&store, &group.key, id, after, frames, &mut subscribers).await;
                }
            }
            if calls.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        (group, warm) = run_calls(&game, &store, group, warm, calls, &mut subscribers).await;
    }
}

/// Runs `calls` back to back on the blocking pool, waits for one durable flush, then routes.
async fn run_calls(
    game: &Arc<Game>,
    store: &Store,
    group: Group,
    warm: Option<Instance>,
    calls: Vec<(u32, String, String, FrameSender)>,
    subscribers: &mut Vec<Subscriber>,
) -> (Group, Option<Instance>) {
    if calls.is_empty() {
        return (group, warm);
    }
    let (game2, store2) = (game.clone(), store.clone());
    let backup = group.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let mut group = group;
        let mut warm = warm;
        let mut results = Vec::with_capacity(calls.len());
        for (id, page, payload, errors) in calls {
            let result = game2.live_call_in(&mut warm, &store2, &mut group, &page, id, &payload);
            results.push((result, errors));
        }
        let durable = store2.wait_durable();
        (group, warm, results, durable)
    })
    .await;
    let (group, warm, results, durable) = match joined {
        Ok(done) => done,
        Err(e) => {
            tracing::error!(key = %backup.key, "a live call batch panicked: {e}");
            // Re-read the position from the log: whatever was committed stays committed.
            return (store.group(backup.key.clone(), backup.players).unwrap_or(backup), None);
        }
    };
    for (result, errors) in results {
        let messages = match (result, &durable) {
            (Ok(c), Ok(())) => c.messages,
            (Ok(_), Err(e)) => {
                tracing::error!(key = %group.key, "durable flush failed; messages not routed: {e}");
                let _ = errors.try_send(error_frame(&CallError::Host(e.to_string()).to_string()));
                continue;
            }
            (Err(e), _) => {
                let _ = errors.try_send(error_frame(&e.to_string()));
                continue;
            }
        };
        for m in &messages {
            let frame: Arc<str> = m.frame().into();
            subscribers.retain(|s| !m.reaches(s.id) || s.frames.try_send(frame.clone()).is_ok());
        }
    }
    (group, warm)
}

async fn subscribe(
    store: &Store,
    key: &GroupKey,
    id: u32,
    after: Option<u64>,
    frames: FrameSender,
    subscribers: &mut Vec<Subscriber>,
) {
    if let Some(after) = after {
        let (store, key2) = (store.clone(), key.clone());
        let replay = tokio::task::spawn_blocking(move || store.messages_after(&key2, id, after)).await;
        match replay {
            Ok(Ok(messages)) => {
                for m in messages {
                    // Never wait on a socket here: that would stall the group. A history
                    // longer than the socket's queue is sent in part; the socket then closes
                    // and its client resumes from the last seq it saw.
                    if frames.try_send(m.frame().into()).is_err() {
                        return;
                    }
                }
            }
            Ok(Err(e)) => {
                let _ = frames.try_send(error_frame(&format!("cannot replay the log: {e}")));
            }
            Err(e) => tracing::error!(%key, "replay failed: {e}"),
        }
    }
    subscribers.push(Subscriber { id, frames });
}
