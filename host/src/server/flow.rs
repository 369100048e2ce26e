//! [`Flow`]: page moves — a participant leaving a page (a submit, a timeout), a wait page
//! releasing its group, groups forming by arrival — and the page timeouts. Where a
//! participant goes is [`crate::session`]; who is in which group each round is
//! [`crate::store::seating`]; this reads and writes participants and runs the timers.
//!
//! Every move is a read-modify-write of participants, and a wait page reads the whole group:
//! moves of one group in one round are serialized by that group's lock, so two members
//! arriving on a wait page at once cannot both miss that the group is complete. A
//! participant moving into another group (a new round, with regrouping) is written under
//! their old group's lock, then their new group is checked under its own: whichever of two
//! arrivals is checked last sees the other. The participants of a round still to be grouped
//! by arrival are group 0 of the round, and its lock serializes their grouping. A move is
//! durable before the participant is told about it (the redirect), like a live call.
//!
//! Timeouts are the host's: a participant's first view of a page with `timeout_seconds`
//! ([`Flow::viewed`]) asks the game's `get-timeout-seconds` (normal pages), then schedules a
//! task that moves them on at the moment it gave, else at `page_viewed_ms + timeout`,
//! skipping `error-message` as oTree does. A wait page that times out lets the members
//! standing there go on (see [`crate::session::leaving_wait`]). Every move records the page
//! time of the page left ([`crate::store::PageTime`]).
//! The deadline is derived from the stored position, so [`Flow::start_timers`] rebuilds every
//! timer after a restart (past-due ones fire at once). A timer holds the flow weakly: a
//! stopped server's timers do nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::game::{CallError, Game, Hook, Seat, World};
use crate::manifest::PageKind;
use crate::server::actors::hub::GroupHub;
use crate::session::{at, current_page, deadline, finished, leaving_wait, on_wait_page, step, view};
use crate::store::{FlushError, GroupKey, PageTime, Participant, Session, Store, StoreError, now_ms};

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

/// A wait page to check: the group, where on it (round, page index), whether it timed out.
type Check = (GroupKey, (u32, u32), bool);

/// Moves participants between pages, one group at a time.
pub(crate) struct Flow {
    store: Store,
    /// The groups' actors, which run the writing page hooks between live calls.
    hub: Arc<GroupHub>,
    /// The per-group locks that serialize page moves, by (session, round, group).
    locks: Mutex<HashMap<(String, u32, u32), GroupLock>>,
}

impl Flow {
    /// The page flow of the participants in `store`.
    pub(crate) fn new(store: Store, hub: Arc<GroupHub>) -> Arc<Flow> {
        Arc::new(Flow { store, hub, locks: Mutex::default() })
    }

    /// Takes the lock of group `key` (group 0: the round's participants still to be grouped).
    async fn lock(&self, key: &GroupKey) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            if locks.len() > PRUNE_ABOVE {
                locks.retain(|_, l| Arc::strong_count(l) > 1);
            }
            locks.entry((key.session.clone(), key.round, key.group)).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The stored participant at `position` of `session`.
    fn at_position(&self, session: &Session, position: u32) -> Result<Participant, StoreError> {
        let code = session.participants.get(position.saturating_sub(1) as usize);
        match code.map(|c| self.store.participant(c)).transpose()?.flatten() {
            Some(p) => Ok(p),
            None => Err(StoreError::Invalid(format!("participant {position} of session `{}` is missing", session.code))),
        }
    }

    /// The members of group `key`, in id order, as stored now.
    fn members(&self, session: &Session, key: &GroupKey) -> Result<Vec<Participant>, StoreError> {
        let seating = self.store.seating(session, key.round)?;
        seating.members(key.group).iter().map(|&position| self.at_position(session, position)).collect()
    }

    /// Steps `p` to its next page; in a new round, to its seat there (none yet, group 0,
    /// while the round's groups form by arrival).
    fn step_seated(&self, session: &Session, p: &mut Participant, game: &Game, now: u64) -> Result<(), StoreError> {
        let round = p.round;
        step(p, &game.manifest, now);
        if p.round != round {
            (p.group, p.id_in_group) = self.store.seating(session, p.round)?.seat(p.index + 1).unwrap_or((0, 0));
        }
        Ok(())
    }

    /// Lets the members of group `key` standing on the wait page at `at` go on when they may
    /// ([`leaving_wait`]; at once when it `timed_out`), running its `after-all-players-arrive`
    /// first (once: its commit is in the log), then again from the wait page they land on in
    /// the same round. The members moved (none when they may not, or the hook failed: they
    /// wait, and a page load retries). Caller holds the group's lock.
    async fn release_held(
        &self,
        game: &Arc<Game>,
        session: &Session,
        key: &GroupKey,
        at: (u32, u32),
        timed_out: bool,
    ) -> Result<Vec<Participant>, MoveError> {
        let manifest = &game.manifest;
        let mut members = self.members(session, key)?;
        let mut moved = vec![false; members.len()];
        let (mut at, mut timed_out) = (at, timed_out);
        loop {
            let leaving = leaving_wait(&members, manifest, at, timed_out);
            let Some(page) = manifest.pages.get(at.1 as usize).filter(|_| at.0 == key.round && !leaving.is_empty()) else { break };
            if game.world() == World::V0_2 {
                self.hub.hook(game, key, &page.name, 0, Hook::Arrive).await.map_err(MoveError::Hook)?;
            }
            let now = now_ms();
            for &i in &leaving {
                let m = &mut members[i];
                self.store.record_page_time(m, &PageTime::of(m, &page.name, now, timed_out))?;
                self.step_seated(session, m, game, now)?;
                *m = self.skip_hidden(game, session, m).await;
                moved[i] = true;
            }
            // The next wait page they stand before, if any: all of them stop there (wait pages
            // are always shown).
            match leaving.iter().map(|&i| self::at(&members[i])).min() {
                Some(next) => (at, timed_out) = (next, false),
                None => break,
            }
        }
        let moved: Vec<Participant> = members.into_iter().zip(moved).filter_map(|(m, moved)| moved.then_some(m)).collect();
        for m in &moved {
            self.store.put_participant(m)?;
        }
        Ok(moved)
    }

    /// Forms round `key.round`'s groups from the participants waiting to be grouped by
    /// arrival, in the order they first saw the page, as long as a whole group is there;
    /// the groups formed. Caller holds the lock of the round's group 0.
    fn form_groups_held(&self, game: &Game, session: &Session, key: &GroupKey) -> Result<Vec<GroupKey>, StoreError> {
        let size = session.players_per_group.max(1) as usize;
        let seating = self.store.seating(session, key.round)?;
        let mut waiting = Vec::new();
        let mut formed = Vec::new();
        for position in 1..=session.participants.len() as u32 {
            let mut p = self.at_position(session, position)?;
            if p.round != key.round || p.group != 0 {
                continue;
            }
            // Grouped already, but not told so (a crash between the two writes): take the seat.
            if let Some((group, id)) = seating.seat(position) {
                (p.group, p.id_in_group) = (group, id);
                self.store.put_participant(&p)?;
                formed.push(p.group_key());
            } else if on_wait_page(&p, &game.manifest) && p.page_viewed_ms.is_some() {
                waiting.push(p);
            }
        }
        formed.dedup();
        waiting.sort_by_key(|p| (p.page_viewed_ms, p.index));
        for members in waiting.chunks_exact_mut(size) {
            let group = self.store.form_group(session, key.round, members.iter().map(|m| m.index + 1).collect())?;
            for (m, id) in members.iter_mut().zip(1..) {
                (m.group, m.id_in_group) = (group, id);
                self.store.put_participant(m)?;
            }
            formed.push(GroupKey { group, ..key.clone() });
        }
        Ok(formed)
    }

    /// Checks the wait pages in `checks` and the ones their moves lead to (a new round's
    /// group, groups just formed by arrival), each under its group's lock; everyone moved,
    /// as stored after.
    async fn settle(&self, game: &Arc<Game>, session: &Session, mut checks: Vec<Check>) -> Result<Vec<Participant>, MoveError> {
        let mut moved: Vec<Participant> = Vec::new();
        while let Some((key, at, timed_out)) = checks.pop() {
            let guard = self.lock(&key).await;
            if key.group == 0 {
                let formed = self.form_groups_held(game, session, &key)?;
                drop(guard);
                checks.extend(formed.into_iter().map(|k| (k, at, false)));
                continue;
            }
            let now = self.release_held(game, session, &key, at, timed_out).await?;
            drop(guard);
            for m in now {
                let next: Check = (m.group_key(), self::at(&m), false);
                if next.0 != key && on_wait_page(&m, &game.manifest) && !checks.contains(&next) {
                    checks.push(next);
                }
                moved.retain(|o| o.code != m.code);
                moved.push(m);
            }
        }
        Ok(moved)
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
                Ok(false) => {
                    if let Err(e) = self.step_seated(session, &mut p, game, now_ms()) {
                        tracing::error!(participant = %p.code, page = %page.name, "cannot skip the page: {e}");
                        break;
                    }
                }
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
    /// A wait page is not submitted; its timeout lets the members standing there go on.
    /// Returns whether it moved.
    pub(crate) async fn advance(self: &Arc<Self>, game: &Arc<Game>, session: &Session, from: &Participant, leave: Leave) -> Result<bool, MoveError> {
        let key = from.group_key();
        let timed_out = matches!(leave, Leave::TimedOut(_));
        if on_wait_page(from, &game.manifest) {
            if !timed_out || from.group == 0 {
                return Ok(false);
            }
            let moved = self.settle(game, session, vec![(key, at(from), true)]).await?;
            let went = moved.iter().any(|m| m.code == from.code);
            self.after_move(game, moved).await?;
            return Ok(went);
        }
        let guard = self.lock(&key).await;
        let Some(mut p) = self.store.participant(&from.code)? else { return Ok(false) };
        if at(&p) != at(from) || finished(&p, &game.manifest) || on_wait_page(&p, &game.manifest) {
            return Ok(false);
        }
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
        self.step_seated(session, &mut p, game, now)?;
        let p = self.skip_hidden(game, session, &p).await;
        self.store.put_participant(&p)?;
        drop(guard);
        let mut moved = match on_wait_page(&p, &game.manifest) {
            true => self.settle(game, session, vec![(p.group_key(), at(&p), false)]).await?,
            false => Vec::new(),
        };
        if !moved.iter().any(|m| m.code == p.code) {
            moved.push(p);
        }
        self.after_move(game, moved).await?;
        Ok(true)
    }

    /// Records `from`'s first view of its current page (if this is it, and it is still there)
    /// and starts that page's timeout; the participant as stored after. A first view of a
    /// page grouping by arrival is the arrival: a group may form.
    pub(crate) async fn viewed(self: &Arc<Self>, game: &Arc<Game>, session: &Session, from: &Participant) -> Result<Participant, MoveError> {
        if from.page_viewed_ms.is_some() {
            return Ok(from.clone());
        }
        let guard = self.lock(&from.group_key()).await;
        let Some(mut p) = self.store.participant(&from.code)? else { return Ok(from.clone()) };
        let now = now_ms();
        if at(&p) != at(from) || finished(&p, &game.manifest) || !view(&mut p, now) {
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
        if p.group == 0 && on_wait_page(&p, &game.manifest) {
            let moved = self.settle(game, session, vec![(p.group_key(), at(&p), false)]).await?;
            let after = moved.iter().find(|m| m.code == p.code).cloned();
            self.after_move(game, moved).await?;
            return Ok(after.unwrap_or(p));
        }
        Ok(p)
    }

    /// Releases `p`'s wait page if its group may go on (self-healing on page loads: a crash
    /// between two members' writes leaves the group complete but unmoved). Groups by arrival
    /// form on a first view ([`Flow::viewed`]), and at start ([`Flow::start_timers`]) for a
    /// view a crash left unhandled: not on these loads, a waiting page's poll every second,
    /// which would read the whole session each time.
    pub(crate) async fn release_wait_page(self: &Arc<Self>, game: &Arc<Game>, session: &Session, p: &Participant) -> Result<(), MoveError> {
        if p.group == 0 {
            return Ok(());
        }
        let moved = self.settle(game, session, vec![(p.group_key(), at(p), false)]).await?;
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
    /// Then forms the groups a crash left unformed: participants who saw a page grouping by
    /// arrival before it (see [`Flow::release_wait_page`]).
    /// `game_of` finds a session's game by its key (it may load it: it runs off the async
    /// threads).
    pub(crate) fn start_timers(self: &Arc<Self>, game_of: impl Fn(&str) -> Option<Arc<Game>> + Send + 'static) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let Some(flow) = weak.upgrade() else { return };
            let scan = flow.clone();
            let pending = match tokio::task::spawn_blocking(move || scan.pending(&game_of)).await {
                Ok(Ok(pending)) => pending,
                Ok(Err(e)) => return tracing::error!("cannot reschedule page timeouts: {e}"),
                Err(e) => return tracing::error!("cannot reschedule page timeouts: {e}"),
            };
            for (game, p) in pending.timeouts {
                flow.schedule(&game, &p);
            }
            for (game, session, check) in pending.arrivals {
                let settled = match flow.settle(&game, &session, vec![check]).await {
                    Ok(moved) => flow.after_move(&game, moved).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = settled {
                    tracing::error!(session = %session.code, "cannot form the groups waiting by arrival: {e}");
                }
            }
        });
    }

    /// Every participant standing on a page with a timeout, with their game; and each round
    /// with participants waiting to be grouped by arrival.
    fn pending(&self, game_of: &dyn Fn(&str) -> Option<Arc<Game>>) -> Result<Pending, StoreError> {
        let mut out = Pending { timeouts: Vec::new(), arrivals: Vec::new() };
        for session in self.store.sessions()? {
            // A session whose game is not loaded has no pages to time out on this server.
            let Some(game) = game_of(&session.game) else { continue };
            let mut rounds = Vec::new();
            for code in &session.participants {
                let Some(p) = self.store.participant(code)? else { continue };
                if deadline(&p, &game.manifest).is_some() {
                    out.timeouts.push((game.clone(), p.clone()));
                }
                if p.group == 0 && on_wait_page(&p, &game.manifest) && !rounds.contains(&p.round) {
                    rounds.push(p.round);
                    out.arrivals.push((game.clone(), session.clone(), (p.group_key(), at(&p), false)));
                }
            }
        }
        Ok(out)
    }
}

/// What a server start picks up again ([`Flow::start_timers`]).
struct Pending {
    timeouts: Vec<(Arc<Game>, Participant)>,
    arrivals: Vec<(Arc<Game>, Session, Check)>,
}
