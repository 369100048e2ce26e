//! `GET /api/sessions/{code}/bundle` (and the admin page's download): the session's export
//! bundle ([`crate::replay::write_bundle`]) — its JSON export with seed and provenance (the
//! bundle is its owner's request) beside its game's package — as `stoa-CODE.tar.gz`, which
//! `stoa replay BUNDLE` replays with nothing else.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::game::Game;
use crate::hosting::accounts::parse_key;
use crate::hosting::upload::{Caps, unpack};
use crate::server::api::error::ApiError;
use crate::server::state::AppState;
use crate::store::Session;

/// The bundle of `session` as a download.
pub(crate) async fn respond(state: &Arc<AppState>, session: &Session) -> Result<Response, ApiError> {
    let game = state.game(&session.game).ok_or_else(|| {
        ApiError(StatusCode::CONFLICT, format!("the game `{}` of session `{}` is not loaded: its package is unknown", session.game, session.code))
    })?;
    let (state, session) = (state.clone(), session.clone());
    let code = session.code.clone();
    // A store scan and a compression, off the async threads.
    let bytes = tokio::task::spawn_blocking(move || bundle(&state, &game, &session))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("the bundle was stopped: {e}")))?
        .map_err(|why| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot write the bundle of session `{code}`: {why}")))?;
    let disposition = format!("attachment; filename=\"stoa-{code}.tar.gz\"");
    Ok(([(header::CONTENT_TYPE, "application/gzip".to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

fn bundle(state: &AppState, game: &Game, session: &Session) -> Result<Vec<u8>, String> {
    let provenance = super::provenance::block(&state.store, game, session, true).map_err(|e| e.to_string())?;
    let export = super::export::json_text(&state.store, &game.manifest, session, &provenance)?;
    let (dir, _unpacked) = package_dir(state, game)?;
    crate::replay::write_bundle(export.as_bytes(), game, &dir)
}

/// Where the package files of `game` are: its folder, or for a researcher's game (whose
/// folder went with its upload's unpacking) its stored archive unpacked again (the folder
/// lives as long as the returned guard).
fn package_dir(state: &AppState, game: &Game) -> Result<(PathBuf, Option<tempfile::TempDir>), String> {
    if game.dir.join("game.toml").is_file() {
        return Ok((game.dir.clone(), None));
    }
    let (owner, name, version) = parse_key(game.name()).ok_or_else(|| format!("the package folder of game `{}` is gone", game.name()))?;
    let archive = state
        .tenants
        .accounts
        .package(owner, name, version)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no stored upload of `{owner}/{name}` version {version}"))?;
    let tmp = tempfile::tempdir().map_err(|e| format!("cannot unpack the game's upload: {e}"))?;
    let root = unpack(&archive, tmp.path(), &Caps::default())?;
    Ok((root, Some(tmp)))
}
