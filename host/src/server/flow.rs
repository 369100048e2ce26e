//! [`Flow`]: page moves — a participant leaving a page (a submit, a timeout), a wait page
//! releasing its group — and the page timeouts. Where a participant goes is
//! [`crate::session`]; this reads and writes participants and runs the timers.
//!
//! Every move is a read-modify-write of participants, and a wait page reads the whole group:
//! moves of one group are serialized by a per-group lock, so two members arriving on a wait
//! page at once cannot both miss that the group is complete. A move is durable before the
//! participant is told about it (the redirect), like a live call.
//!
//! Timeouts are the host's: a participant's first view of a page with `timeout_seconds`
//! ([`Flow::viewed`]) asks the game's `get-timeout-seconds`, then schedules a task that moves
//! them on at the moment it gave, else at `page_viewed_ms + timeout`, skipping
//! `error-message` as oTree does. Every move records the page time of the page left
//! ([`crate::store::PageTime`]).
//! The deadline is derived from the stored position, so [`Flow::start_timers`] rebuilds every
//! timer after a restart (past-due ones fire at once). A timer holds the flow weakly: a
//! stopped server's timers do nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::game::{CallError, Game, Hook, Seat, World};
use crate::manifest::PageKind;
use crate::server::actors::hub::GroupHub;
use crate::session::{current_page, deadline, finished, on_wait_page, release_wait, step, view};
use crate::store::{FlushError, PageTime, Participant, Session, Store, StoreError, now_ms};

/// How a page was left: its form's typed values (a timeout keeps those that parse).
pub(crate) enum Leave {
    Submitted(Vec<(String, serde_json::Value)>),
    TimedOut(Vec<(String, serde_json::Value)>),
}

/// Why a participant did not move.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MoveError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A page hook (`before-next-page`, `after-all-players-arrive`) failed: the reason.
    #[error("{0}")]
    Hook(String),
}

/// A group's lock, shared by everyone moving one of its members.
type GroupLock = Arc<tokio::sync::Mutex<()>>;

/// Above this many idle locks the map is pruned, so finished sessions do not pile up.
const PRUNE_ABOVE: usize = 4096;

/// Moves participants between pages, one group at a time.
pub(crate) struct Flow {
    store: Store,
    /// The groups' actors, which run the writing page hooks between live calls.
    hub: Arc<GroupHub>,
    /// The per-group locks that serialize page moves, by (session, group).
    locks: Mutex<HashMap<(String, u32), GroupLock>>,
}

impl Flow {
    /// The page flow of the participants in `store`.
    pub(crate) fn new(store: Store, hub: Arc<GroupHub>) -> Arc<Flow> {
        Arc::new(Flow { store, hub, locks: Mutex::default() })
    }

    /// Takes the lock of `session`'s group `group` (groups are fixed across rounds).
    async fn lock(&self, session: &str, group: u32) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            if locks.len() > PRUNE_ABOVE {
                locks.retain(|_, l| Arc::strong_count(l) > 1);
            }
            locks.entry((session.to_string(), group)).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The members of `session`'s group `group`, in id order, as stored now.
    fn members(&self, session: &Session, group: u32) -> Result<Vec<Participant>, StoreError> {
        let ppg = session.players_per_group as usize;
        let start = (group as usize).saturating_sub(1) * ppg;
        let codes = session.participants.get(start..start + ppg).unwrap_or_default();
        let mut out = Vec::with_capacity(codes.len());
        for code in codes {
            match self.store.participant(code)? {
                Some(p) => out.push(p),
                None => return Err(StoreError::Invalid(format!("participant `{code}` of session `{}` is missing", session.code))),
            }
        }
        Ok(out)
    }

    /// Moves the group on while all of it stands on one wait page, running each wait page's
    /// `after-all-players-arrive` first (once: its commit is in the log); the members moved
    /// (none when it is not complete, or the hook failed: they wait, and a page load retries).
    /// Caller holds the group's lock.
    async fn release_locked(&self, game: &Arc<Game>, session: &Session, group: u32) -> Result<Vec<Participant>, MoveError> {
        let manifest = &game.manifest;
        let mut members = self.members(session, group)?;
        let mut moved = false;
        loop {
            let Some(first) = members.first() else { break };
            let page = current_page(first, manifest).filter(|_| on_wait_page(first, manifest)).map(|p| p.name.clone());
            let complete = members.iter().all(|m| (m.round, m.page_index) == (first.round, first.page_index));
            let Some(page) = page.filter(|_| complete) else { break };
            if game.world() == World::V0_2 {
                self.hub.hook(game, &first.group_key(), &page, 0, Hook::Arrive).await.map_err(MoveError::Hook)?;
            }
            let now = now_ms();
            for m in &members {
                self.store.record_page_time(m, &PageTime::of(m, &page, now, false))?;
            }
            if !release_wait(&mut members, manifest, now) {
                break;
            }
            for m in members.iter_mut() {
                *m = self.skip_hidden(game, session, m).await;
            }
            moved = true;
        }
        if !moved {
            return Ok(Vec::new());
        }
        for m in &members {
            self.store.put_participant(m)?;
        }
        Ok(members)
    }

    /// Runs the read-only game call `call` for `p` on `page`, on a blocking thread; the error
    /// is the call's (or the task's) reason.
    async fn at_seat<T: Send + 'static>(
        &self,
        game: &Arc<Game>,
        session: &Session,
        p: &Participant,
        page: &str,
        call: fn(&Game, &Store, Seat<'_>) -> Result<T, CallError>,
    ) -> Result<T, String> {
        let (g, store, at, players, name) = (game.clone(), self.store.clone(), p.clone(), session.players_per_group, page.to_string());
        let seat = move || call(&g, &store, Seat { group: &at.group_key(), players, page: &name, id_in_group: at.id_in_group });
        match tokio::task::spawn_blocking(seat).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Steps `p` past the pages its game does not display to it (`is-displayed` false; wait
    /// pages are always shown). A failing `is-displayed` shows the page, and is logged.
    async fn skip_hidden(&self, game: &Arc<Game>, session: &Session, p: &Participant) -> Participant {
        let mut p = p.clone();
        while game.world() == World::V0_2
            && let Some(page) = current_page(&p, &game.manifest)
            && page.kind == PageKind::Normal
        {
            match self.at_seat(game, session, &p, &page.name, Game::is_displayed).await {
                Ok(false) => step(&mut p, &game.manifest, now_ms()),
                Ok(true) => break,
                Err(e) => {
                    tracing::warn!(participant = %p.code, page = %page.name, "is-displayed failed, the page is shown: {e}");
                    break;
                }
            }
        }
        p
    }

    /// Moves `from` past the page it is on — if it is still there, so a double submit or a
    /// late timer moves nobody — then releases a completed wait page. `leave` is how the page
    /// was left: its form's typed values go to the player's fields and `before-next-page`
    /// runs (for a 0.2 game, or a page with a form), in one durable commit, before the move.
    /// Returns whether it moved.
    pub(crate) async fn advance(self: &Arc<Self>, game: &Arc<Game>, session: &Session, from: &Participant, leave: Leave) -> Result<bool, MoveError> {
        let guard = self.lock(&session.code, from.group).await;
        let Some(mut p) = self.store.participant(&from.code)? else { return Ok(false) };
        if (p.round, p.page_index) != (from.round, from.page_index) || finished(&p, &game.manifest) {
            return Ok(false);
        }
        let timed_out = matches!(leave, Leave::TimedOut(_));
        if let Some(page) = current_page(&p, &game.manifest)
            && game.submits_with_hook(page)
        {
            let (values, timeout_happened) = match leave {
                Leave::Submitted(v) => (v, false),
                Leave::TimedOut(v) => (v, true),
            };
            let values = values.into_iter().filter_map(|(k, v)| serde_json::value::to_raw_value(&v).ok().map(|raw| (k, raw))).collect();
            self.hub
                .hook(game, &p.group_key(), &page.name, p.id_in_group, Hook::Submit { values, timeout_happened })
                .await
                .map_err(MoveError::Hook)?;
        }
        let now = now_ms();
        if let Some(page) = current_page(&p, &game.manifest) {
            self.store.record_page_time(&p, &PageTime::of(&p, &page.name, now, timed_out))?;
        }
        step(&mut p, &game.manifest, now);
        let p = self.skip_hidden(game, session, &p).await;
        self.store.put_participant(&p)?;
        let mut moved = self.release_locked(game, session, from.group).await?;
        drop(guard);
        if !moved.iter().any(|m| m.code == p.code) {
            moved.push(p);
        }
        self.after_move(game, moved).await?;
        Ok(true)
    }

    /// Records `from`'s first view of its current page (if this is it, and it is still there)
    /// and starts that page's timeout; the participant as stored after.
    pub(crate) async fn viewed(self: &Arc<Self>, game: &Arc<Game>, session: &Session, from: &Participant) -> Result<Participant, MoveError> {
        if from.page_viewed_ms.is_some() {
            return Ok(from.clone());
        }
        let guard = self.lock(&session.code, from.group).await;
        let Some(mut p) = self.store.participant(&from.code)? else { return Ok(from.clone()) };
        let now = now_ms();
        if (p.round, p.page_index) != (from.round, from.page_index) || finished(&p, &game.manifest) || !view(&mut p, now) {
            return Ok(p);
        }
        if let Some(page) = current_page(&p, &game.manifest)
            && page.kind == PageKind::Normal
            && game.world() == World::V0_2
        {
            // The game may end the page at a moment of its own (a trading period).
            match self.at_seat(game, session, &p, &page.name, Game::get_timeout_seconds).await {
                Ok(Some(s)) => p.page_deadline_ms = Some(now.saturating_add((s * 1000.0) as u64)),
                Ok(None) => {}
                Err(e) => tracing::warn!(participant = %p.code, page = %page.name, "get-timeout-seconds failed, the page's own timeout holds: {e}"),
            }
        }
        self.store.put_participant(&p)?;
        drop(guard);
        self.schedule(game, &p);
        Ok(p)
    }

    /// Releases the group if all of it stands on one wait page (self-healing on page loads: a
    /// crash between two members' writes leaves the group complete but unmoved).
    pub(crate) async fn release_wait_page(self: &Arc<Self>, game: &Arc<Game>, session: &Session, group: u32) -> Result<(), MoveError> {
        let guard = self.lock(&session.code, group).await;
        let moved = self.release_locked(game, session, group).await?;
        drop(guard);
        self.after_move(game, moved).await
    }

    /// Makes moves durable, then schedules the timeouts of the pages they lead to.
    async fn after_move(self: &Arc<Self>, game: &Arc<Game>, moved: Vec<Participant>) -> Result<(), MoveError> {
        if moved.is_empty() {
            return Ok(());
        }
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.wait_durable()).await.map_err(FlushError::Task).map_err(StoreError::from)??;
        for p in &moved {
            self.schedule(game, p);
        }
        Ok(())
    }

    /// Schedules the timeout of `p`'s current page, if it has one.
    pub(crate) fn schedule(self: &Arc<Self>, game: &Arc<Game>, p: &Participant) {
        let Some(at) = deadline(p, &game.manifest) else { return };
        let (weak, game, from) = (Arc::downgrade(self), game.clone(), p.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(at.saturating_sub(now_ms()))).await;
            let Some(flow) = weak.upgrade() else { return };
            let session = match flow.store.session(&from.session) {
                Ok(Some(s)) => s,
                Ok(None) => return,
                Err(e) => return tracing::error!(participant = %from.code, "page timeout: {e}"),
            };
            if let Err(e) = flow.advance(&game, &session, &from, Leave::TimedOut(Vec::new())).await {
                tracing::error!(participant = %from.code, "page timeout: {e}");
            }
        });
    }

    /// Reschedules every pending page timeout (at server start); overdue ones fire at once.
    /// `game_of` finds a session's game by its key (it may load it: it runs off the async
    /// threads).
    pub(crate) fn start_timers(self: &Arc<Self>, game_of: impl Fn(&str) -> Option<Arc<Game>> + Send + 'static) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let Some(flow) = weak.upgrade() else { return };
            let scan = flow.clone();
            let pending = tokio::task::spawn_blocking(move || scan.pending_timeouts(&game_of)).await;
            match pending {
                Ok(Ok(pending)) => {
                    for (game, p) in pending {
                        flow.schedule(&game, &p);
                    }
                }
                Ok(Err(e)) => tracing::error!("cannot reschedule page timeouts: {e}"),
                Err(e) => tracing::error!("cannot reschedule page timeouts: {e}"),
            }
        });
    }

    /// Every participant standing on a page with a timeout, with their game.
    fn pending_timeouts(&self, game_of: &dyn Fn(&str) -> Option<Arc<Game>>) -> Result<Vec<(Arc<Game>, Participant)>, StoreError> {
        let mut out = Vec::new();
        for session in self.store.sessions()? {
            // A session whose game is not loaded has no pages to time out on this server.
            let Some(game) = game_of(&session.game) else { continue };
            for code in &session.participants {
                if let Some(p) = self.store.participant(code)?
                    && deadline(&p, &game.manifest).is_some()
                {
                    out.push((game.clone(), p));
                }
            }
        }
        Ok(out)
    }
}
