//! [`GroupHub`]: the actors of the groups with live sockets, made on first use and forgotten
//! when idle, so a server's memory does not grow with every group it ever ran.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::game::{Game, Hook};
use crate::server::actors::actor::{Actor, Command};
use crate::server::actors::runners::Runners;
use crate::store::{GroupKey, Store};

/// A group unused this long drops its warm instance (its memory goes back to the pool) and
/// writes its field values to sled.
const IDLE: Duration = Duration::from_secs(60);

/// The groups with an actor, by key.
pub(crate) struct GroupHub {
    store: Store,
    /// Messages a (re)connecting socket is replayed at most: the group's last ones.
    replay_limit: u64,
    actors: Mutex<HashMap<GroupKey, Arc<Actor>>>,
    runners: Arc<Runners<Actor>>,
}

impl GroupHub {
    /// No actors yet; they will use `store`, and replay a socket at most `replay_limit`
    /// messages.
    pub(crate) fn new(store: Store, replay_limit: u64) -> GroupHub {
        GroupHub { store, replay_limit, actors: Mutex::new(HashMap::new()), runners: Arc::new(Runners::default()) }
    }

    /// The actors by group, locked.
    pub(super) fn actors(&self) -> MutexGuard<'_, HashMap<GroupKey, Arc<Actor>>> {
        self.actors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The actor of `key`, made on first use.
    pub(crate) fn actor(&self, game: &Arc<Game>, key: &GroupKey) -> Arc<Actor> {
        let mut actors = self.actors();
        if let Some(actor) = actors.get(key) {
            return actor.clone();
        }
        let actor = Arc::new(Actor::new(key.clone(), game.clone(), self.store.clone(), self.runners.clone(), self.replay_limit));
        actors.insert(key.clone(), actor.clone());
        actor
    }

    /// Runs `hook` of player `id` on `page` of group `key` through its actor (between its live
    /// calls, so the log's numbering stays one sequence); returns once the hook's commit is
    /// durable, or why it failed.
    pub(crate) async fn hook(&self, game: &Arc<Game>, key: &GroupKey, page: &str, id: u32, hook: Hook) -> Result<(), String> {
        let (done, answer) = tokio::sync::oneshot::channel();
        self.actor(game, key).send(Command::Hook { id, page: page.to_string(), hook, done });
        answer.await.map_err(|_| "the group's hook was dropped; try again".to_string())?
    }

    /// Every `IDLE / 4`, sweeps the groups ([`GroupHub::sweep`]), until the hub is dropped.
    pub(crate) fn start_idle_sweep(self: &Arc<Self>) {
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(IDLE / 4);
            loop {
                tick.tick().await;
                let Some(hub) = hub.upgrade() else { return };
                hub.sweep(IDLE);
            }
        });
    }

    /// Tells each group unused for `idle` to let go of its instance and write its fields
    /// (once per idle spell); and forgets the actors of groups already told, with nothing
    /// queued, that nothing else holds — no socket, runner or pending callback. Such a
    /// group's next socket makes a new actor, which reads the group's position from the
    /// store. Returns how many actors it forgot.
    pub(crate) fn sweep(&self, idle: Duration) -> usize {
        let actors: Vec<Arc<Actor>> = self.actors().values().cloned().collect();
        for actor in actors {
            if actor.mark_idle(idle) {
                actor.send(Command::Idle);
            }
        }
        // Under the map's lock nobody can take a new handle: a count of 1 is the map's own.
        // (A queued or running actor is held by a runner, so it is never forgotten.)
        let mut actors = self.actors();
        let before = actors.len();
        actors.retain(|_, actor| Arc::strong_count(actor) > 1 || !actor.is_idle());
        before - actors.len()
    }
}
