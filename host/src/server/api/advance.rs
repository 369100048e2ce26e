//! `POST /api/sessions/{code}/advance`: the monitor's "advance the slowest participants"
//! (oTree's): each named participant — by default the slowest, those standing on the earliest
//! page of the session that is not a wait page — leaves their page as if it had timed out
//! (`before-next-page` gets `timeout_happened`). The slowest are never those on a wait page;
//! a participant on a wait page named in the body makes it time out for their group (the
//! members there go on without the missing ones), except while groups form by arrival. Body: `{}` or `{"participants": [CODE, ...]}`;
//! answer `{"advanced": [CODE, ...]}`.

use std::sync::Arc;

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::manifest::PageKind;
use crate::server::api::error::ApiError;
use crate::server::flow::{Leave, MoveError};
use crate::server::state::AppState;
use crate::session::{current_page, finished, on_wait_page};
use crate::store::{Participant, Session};

/// What the advance takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Advance {
    /// These participants (codes of the session) instead of the slowest.
    participants: Option<Vec<String>>,
}

/// Advances `session`'s participants as `what` says; the codes that moved.
pub(crate) async fn advance(state: &Arc<AppState>, session: &Session, what: Advance) -> Result<Value, ApiError> {
    let game = state.game(&session.game).ok_or_else(|| {
        ApiError(StatusCode::CONFLICT, format!("the game `{}` of session `{}` is not loaded on this server", session.game, session.code))
    })?;
    let mut people: Vec<Participant> = Vec::with_capacity(session.participants.len());
    for code in &session.participants {
        people.extend(state.store.participant(code)?);
    }
    // The slowest: participants on a page they can leave alone (not finished, not waiting).
    let movable = |p: &Participant| !finished(p, &game.manifest) && current_page(p, &game.manifest).is_some_and(|page| page.kind == PageKind::Normal);
    // Named: a wait page too, which times out for their group (once they have a group).
    let named = |p: &Participant| movable(p) || (on_wait_page(p, &game.manifest) && p.group != 0);
    let chosen: Vec<Participant> = match what.participants {
        Some(codes) => {
            if let Some(unknown) = codes.iter().find(|c| !session.participants.contains(c)) {
                return Err(ApiError(StatusCode::BAD_REQUEST, format!("`{unknown}` is not a participant of session `{}`", session.code)));
            }
            people.into_iter().filter(|p| codes.contains(&p.code) && named(p)).collect()
        }
        None => {
            let slowest = people.iter().filter(|p| movable(p)).map(|p| (p.round, p.page_index)).min();
            people.into_iter().filter(|p| movable(p) && Some((p.round, p.page_index)) == slowest).collect()
        }
    };
    let mut advanced = Vec::with_capacity(chosen.len());
    for p in chosen {
        match state.flow.advance(&game, session, &p, Leave::TimedOut(Vec::new())).await {
            Ok(true) => advanced.push(p.code),
            Ok(false) => {}
            // A hook that fails keeps that participant where they are; the others go on.
            Err(MoveError::Hook(why)) => tracing::warn!(participant = %p.code, "advance: the page was not left: {why}"),
            Err(MoveError::Store(e)) => return Err(e.into()),
        }
    }
    Ok(json!({ "advanced": advanced }))
}
