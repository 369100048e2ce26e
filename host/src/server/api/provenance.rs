//! A session's provenance block, as its JSON export, its bundle and its admin page show it:
//! the [`Provenance`](crate::store::Provenance) kept when the session was made (`"recorded":
//! true`; for a session made before, the game loaded now, `false`), the session's settings
//! (`players_per_group`, `grouping`, `participants`, `treatment`, `config`) and, once every participant
//! has finished or when its owner asks, its seed (a decimal string: it is a u64).

use serde_json::{Value, json};

use crate::game::Game;
use crate::manifest::Manifest;
use crate::session::finished;
use crate::store::{Session, Store, StoreError};

/// The block of `session` of `game`, with its seed when `seed`.
pub(crate) fn block(store: &Store, game: &Game, session: &Session, seed: bool) -> Result<Value, StoreError> {
    let kept = store.provenance(&session.code)?;
    let recorded = kept.is_some();
    let provenance = kept.unwrap_or_else(|| game.provenance.clone());
    let mut block = serde_json::to_value(&provenance).map_err(|e| StoreError::Invalid(e.to_string()))?;
    block["recorded"] = Value::Bool(recorded);
    block["session"] = json!({
        "players_per_group": session.players_per_group,
        "grouping": session.grouping,
        "participants": session.participants.len(),
        "treatment": session.treatment,
        "config": session.config,
    });
    if seed {
        block["seed"] = Value::String(session.seed.to_string());
    }
    Ok(block)
}

/// Whether every participant of `session` has finished (its seed is then in its exports).
pub(crate) fn all_finished(store: &Store, manifest: &Manifest, session: &Session) -> Result<bool, StoreError> {
    for code in &session.participants {
        if !store.participant(code)?.is_some_and(|p| finished(&p, manifest)) {
            return Ok(false);
        }
    }
    Ok(true)
}
