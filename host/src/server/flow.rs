//! Page flow: where a participant goes next, wait pages, and page timeouts.
//!
//! Pages run in manifest order, then the next round from page 0, until `num_rounds`; then the
//! participant has finished (`page_index == pages.len()` in the last round). Groups are fixed
//! across rounds.
//!
//! Every move is a read-modify-write of participants, and a wait page reads the whole group:
//! moves of one group are serialized by a per-group lock ([`Flow`]), so two members arriving
//! on a wait page at once cannot both miss that the group is complete. A move is durable
//! before the participant is told about it (the redirect), like a live call.
//!
//! Timeouts are the host's: entering a page with `timeout_seconds` schedules a task that moves
//! the participant on at `page_entered_ms + timeout`, skipping `error-message` as oTree does.
//! The deadline is derived from the stored position, so [`start_timers`] rebuilds every timer
//! after a restart (past-due ones fire at once). A timer holds the state weakly: a stopped
//! server's timers do nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::game::Game;
use crate::game::manifest::{Manifest, PageKind};
use crate::server::state::AppState;
use crate::store::{FlushError, Participant, Session, StoreError, now_ms};

/// A group's lock, shared by everyone moving one of its members.
type GroupLock = Arc<tokio::sync::Mutex<()>>;

/// The per-group locks that serialize page moves, by (session, group).
#[derive(Debug, Default)]
pub(crate) struct Flow {
    locks: Mutex<HashMap<(String, u32), GroupLock>>,
}

/// Above this many idle locks the map is pruned, so finished sessions do not pile up.
const PRUNE_ABOVE: usize = 4096;

impl Flow {
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
}

/// Whether the participant is past the last page of the last round.
pub(crate) fn finished(p: &Participant, manifest: &Manifest) -> bool {
    p.page_index as usize >= manifest.pages.len()
}

/// When the participant's current page times out (ms since the epoch), if it has a timeout.
/// Wait pages never time out: a group waits for all its members.
pub(crate) fn deadline(p: &Participant, manifest: &Manifest) -> Option<u64> {
    let page = manifest.pages.get(p.page_index as usize)?;
    match (page.kind, page.timeout_seconds) {
        (PageKind::Normal, Some(s)) => Some(p.page_entered_ms.saturating_add(u64::from(s) * 1000)),
        _ => None,
    }
}

/// Puts `p` on the page after its current one, rolling over to the next round.
fn step(p: &mut Participant, manifest: &Manifest, now: u64) {
    if finished(p, manifest) {
        return;
    }
    p.page_index += 1;
    if finished(p, manifest) && p.round < manifest.num_rounds {
        p.round += 1;
        p.page_index = 0;
    }
    p.page_entered_ms = now;
}

/// The members of `session`'s group `group`, in id order, as stored now.
fn members(state: &AppState, session: &Session, group: u32) -> Result<Vec<Participant>, StoreError> {
    let ppg = session.players_per_group as usize;
    let start = (group as usize).saturating_sub(1) * ppg;
    let codes = session.participants.get(start..start + ppg).unwrap_or_default();
    let mut out = Vec::with_capacity(codes.len());
    for code in codes {
        match state.store.participant(code)? {
            Some(p) => out.push(p),
            None => return Err(StoreError::Invalid(format!("participant `{code}` of session `{}` is missing", session.code))),
        }
    }
    Ok(out)
}

/// Moves everyone on while the whole group stands on the same wait page. Caller holds the lock.
fn settle_locked(state: &AppState, manifest: &Manifest, session: &Session, group: u32) -> Result<Vec<Participant>, StoreError> {
    let mut group_now = members(state, session, group)?;
    let mut moved = Vec::new();
    while let Some(first) = group_now.first() {
        let at = (first.round, first.page_index);
        let on_wait = manifest.pages.get(at.1 as usize).is_some_and(|p| p.kind == PageKind::Wait);
        if !on_wait || group_now.iter().any(|m| (m.round, m.page_index) != at) {
            break;
        }
        let now = now_ms();
        for m in &mut group_now {
            step(m, manifest, now);
            state.store.put_participant(m)?;
        }
        // The next page may be a wait page too (or round 2 may open with one): loop.
        moved.clone_from(&group_now);
    }
    Ok(moved)
}

/// Moves `from` past the page it is on — if it is still there, so a double submit or a late
/// timer moves nobody — then releases a completed wait page. Returns whether it moved.
pub(crate) async fn advance(state: &Arc<AppState>, game: &Arc<Game>, session: &Session, from: &Participant) -> Result<bool, StoreError> {
    let guard = state.flow.lock(&session.code, from.group).await;
    let Some(mut p) = state.store.participant(&from.code)? else { return Ok(false) };
    if (p.round, p.page_index) != (from.round, from.page_index) || finished(&p, &game.manifest) {
        return Ok(false);
    }
    step(&mut p, &game.manifest, now_ms());
    state.store.put_participant(&p)?;
    let mut moved = settle_locked(state, &game.manifest, session, from.group)?;
    drop(guard);
    if !moved.iter().any(|m| m.code == p.code) {
        moved.push(p);
    }
    after_move(state, game, moved).await?;
    Ok(true)
}

/// Releases the group if everyone stands on one wait page (self-healing on page loads: a
/// crash between two members' writes leaves the group complete but unmoved).
pub(crate) async fn settle(state: &Arc<AppState>, game: &Arc<Game>, session: &Session, group: u32) -> Result<(), StoreError> {
    let guard = state.flow.lock(&session.code, group).await;
    let moved = settle_locked(state, &game.manifest, session, group)?;
    drop(guard);
    after_move(state, game, moved).await
}

/// Makes moves durable, then schedules the timeouts of the pages they lead to.
async fn after_move(state: &Arc<AppState>, game: &Arc<Game>, moved: Vec<Participant>) -> Result<(), StoreError> {
    if moved.is_empty() {
        return Ok(());
    }
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.wait_durable()).await.map_err(FlushError::Task)??;
    for p in &moved {
        schedule(state, game, p);
    }
    Ok(())
}

/// Schedules the timeout of `p`'s current page, if it has one.
pub(crate) fn schedule(state: &Arc<AppState>, game: &Arc<Game>, p: &Participant) {
    let Some(at) = deadline(p, &game.manifest) else { return };
    let (weak, game, from) = (Arc::downgrade(state), game.clone(), p.clone());
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(at.saturating_sub(now_ms()))).await;
        let Some(state) = weak.upgrade() else { return };
        let session = match state.store.session(&from.session) {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => return tracing::error!(participant = %from.code, "page timeout: {e}"),
        };
        if let Err(e) = advance(&state, &game, &session, &from).await {
            tracing::error!(participant = %from.code, "page timeout: {e}");
        }
    });
}

/// Reschedules every pending page timeout (at server start); overdue ones fire at once.
pub(crate) fn start_timers(state: &Arc<AppState>) {
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        let Some(state) = weak.upgrade() else { return };
        let scan = state.clone();
        let pending = tokio::task::spawn_blocking(move || pending_timeouts(&scan)).await;
        match pending {
            Ok(Ok(pending)) => {
                for (game, p) in pending {
                    schedule(&state, &game, &p);
                }
            }
            Ok(Err(e)) => tracing::error!("cannot reschedule page timeouts: {e}"),
            Err(e) => tracing::error!("cannot reschedule page timeouts: {e}"),
        }
    });
}

/// Every participant standing on a page with a timeout, with their game.
fn pending_timeouts(state: &AppState) -> Result<Vec<(Arc<Game>, Participant)>, StoreError> {
    let mut out = Vec::new();
    for session in state.store.sessions()? {
        // A session whose game is not loaded has no pages to time out on this server.
        let Some(game) = state.game(&session.game) else { continue };
        for code in &session.participants {
            if let Some(p) = state.store.participant(code)?
                && deadline(&p, &game.manifest).is_some()
            {
                out.push((game.clone(), p));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest(rounds: u32) -> Manifest {
        let text = format!(
            "name = \"g\"\nplayers_per_group = 2\nnum_rounds = {rounds}\ncomponent = \"g.wasm\"\n\
             [[page]]\nname = \"A\"\ntemplate = \"A.hbs\"\ntimeout_seconds = 5\n\
             [[page]]\nname = \"W\"\ntemplate = \"W.hbs\"\nkind = \"wait\"\ntimeout_seconds = 5\n"
        );
        Manifest::parse(Path::new("game.toml"), &text).expect("manifest")
    }

    fn participant() -> Participant {
        Participant { code: "c".into(), session: "s".into(), index: 0, group: 1, id_in_group: 1, round: 1, page_index: 0, page_entered_ms: 1000 }
    }

    #[test]
    fn pages_roll_over_into_the_next_round_then_finish() {
        let m = manifest(2);
        let mut p = participant();
        let mut seen = Vec::new();
        for _ in 0..6 {
            step(&mut p, &m, 7);
            seen.push((p.round, p.page_index));
        }
        assert_eq!(seen, vec![(1, 1), (2, 0), (2, 1), (2, 2), (2, 2), (2, 2)]);
        assert!(finished(&p, &m));
        assert_eq!(p.page_entered_ms, 7);
    }

    #[test]
    fn only_normal_pages_have_a_deadline() {
        let m = manifest(1);
        let mut p = participant();
        assert_eq!(deadline(&p, &m), Some(6000));
        p.page_index = 1;
        assert_eq!(deadline(&p, &m), None, "a wait page waits for the group, not the clock");
        p.page_index = 2;
        assert_eq!(deadline(&p, &m), None);
    }
}
