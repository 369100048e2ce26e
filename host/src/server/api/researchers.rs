//! Shared-hosting API, behind `Authorization: Bearer <token>` like `/api/sessions`.
//!
//! Researchers (their own token):
//! - `GET /api/me` → `{"name", "quotas", "usage": {"stored_bytes", "session_bytes"}}` (uploads
//!   and session data: both count against the `stored_bytes` quota);
//! - `POST /api/games` with a game archive as the body (tar or tar.gz, see
//!   [`crate::hosting::upload`]) → 201 `{"game", "version", "hash", "key", "bytes", "new"}` (200 when
//!   the same archive was uploaded before: it becomes the newest version again); a bad
//!   package is a 400 saying why, an archive over the size cap a 413, over the stored-bytes
//!   quota a 403;
//! - `GET /api/games` → `{"games": [{"name", "owner", "newest", "versions": [{"version",
//!   "hash", "bytes", "uploaded_ms"}]}]}` — their own (the operator: every researcher's,
//!   and `"operator_games"`, the names from `--games`);
//! - `GET /api/games/{name}` → one of those; `GET /api/games/{owner}/{name}` likewise (the
//!   operator's way to name a researcher's game; a researcher only for their own);
//! - `DELETE /api/games/{name}/versions/{version}` → 204: deletes a version no session
//!   records (409 if one does), freeing its stored bytes.
//!
//! The operator only (a researcher gets 403):
//! - `POST /api/researchers` `{"name", "password"?, "quotas"?}` → 201 `{"name", "token",
//!   "quotas"}` — the token is shown this once;
//! - `GET /api/researchers` → `{"researchers": [{"name", "quotas", "has_password",
//!   "created_ms", "stored_bytes"}]}`; `GET /api/researchers/{name}` → one of those;
//! - `PUT /api/researchers/{name}/quotas` `{"deadline_ms"?, "memory_mb"?,
//!   "messages_per_second"?, "sessions"?, "stored_bytes"?}` → the researcher;
//! - `POST /api/researchers/{name}/token` → `{"name", "token"}`: a new token, the old one
//!   stops working;
//! - `PUT /api/researchers/{name}/password` `{"password"}` → 204.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::hosting::accounts::{GameRecord, QuotaPatch, Quotas, Researcher, sha256_hex};
use crate::server::api::caller::{caller, operator};
use crate::server::api::error::ApiError;
use crate::server::state::AppState;
use crate::server::who::Who;

/// The shared-hosting routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    let caps = crate::hosting::upload::Caps::default();
    Router::new()
        .route("/api/me", get(me))
        .route("/api/games", get(games).post(upload_route).layer(DefaultBodyLimit::max(caps.archive_bytes + 1)))
        .route("/api/games/{name}", get(game))
        .route("/api/games/{owner}/{name}", get(owned_game))
        .route("/api/games/{name}/versions/{version}", delete(delete_version))
        .route("/api/researchers", get(list).post(add))
        .route("/api/researchers/{name}", get(one))
        .route("/api/researchers/{name}/quotas", put(quotas))
        .route("/api/researchers/{name}/token", post(token))
        .route("/api/researchers/{name}/password", put(password))
}

/// Waits until what was just written (an account change, a new session) is on disk, so an
/// acknowledged change survives a crash.
pub(crate) async fn durable(state: &AppState) -> Result<(), ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.wait_durable())
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("flush failed: {e}")))?
        .map_err(ApiError::from)
}

/// A game record as the API shows it.
pub(crate) fn game_json(g: &GameRecord) -> Value {
    let versions: Vec<Value> =
        g.versions.iter().map(|v| json!({ "version": v.short(), "hash": v.hash, "bytes": v.bytes, "uploaded_ms": v.uploaded_ms })).collect();
    json!({ "name": g.name, "owner": g.owner, "newest": g.versions.last().map(|v| v.short()), "versions": versions })
}

fn researcher_json(state: &AppState, r: &Researcher) -> Value {
    let stored = state.tenants.accounts.stored_bytes(&r.name).unwrap_or(0);
    json!({ "name": r.name, "quotas": r.quotas, "has_password": r.password.is_some(), "created_ms": r.created_ms, "stored_bytes": stored })
}

async fn me(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    match caller(&state, &headers)? {
        Who::Operator => Ok(Json(json!({ "name": null, "operator": true }))),
        Who::Researcher(r) => {
            let usage = state.tenants.stored.usage(&r.name)?;
            let usage = json!({ "stored_bytes": usage.uploads, "session_bytes": usage.sessions });
            Ok(Json(json!({ "name": r.name, "operator": false, "quotas": r.quotas, "usage": usage })))
        }
    }
}

/// Validates and keeps an uploaded archive as the newest version of the researcher's game.
/// Returns the status (201 new, 200 known) and the version's description.
pub(crate) async fn upload(state: &Arc<AppState>, who: &Who, archive: Bytes) -> Result<(StatusCode, Value), ApiError> {
    let Who::Researcher(r) = who else {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "games are uploaded by researchers (with their own token); the operator's games come from `stoa serve --games DIR`".into(),
        ));
    };
    let caps = state.tenants.caps;
    if archive.len() > caps.archive_bytes {
        return Err(ApiError(StatusCode::PAYLOAD_TOO_LARGE, format!("the archive is above the limit of {} bytes", caps.archive_bytes)));
    }
    if archive.is_empty() {
        return Err(ApiError(StatusCode::BAD_REQUEST, "the request has no body: send the game archive (tar or tar.gz) as the body".into()));
    }
    let hash = sha256_hex(&archive);
    let accounts = &state.tenants.accounts;
    // Checked before the (slow) validation, and again when the version is recorded. The
    // researcher's session data takes its share of the quota first.
    let sessions = state.tenants.stored.usage(&r.name)?.sessions;
    let room = r.quotas.stored_bytes.saturating_sub(sessions);
    if !accounts.has_version(&r.name, &hash)? {
        accounts.fits(&r.name, archive.len() as u64, room)?;
    }
    let (runtime, owner, quotas, body) = (state.tenants.runtime().clone(), r.name.clone(), r.quotas.clone(), archive.clone());
    let version = hash[..crate::hosting::accounts::VERSION_DIGITS].to_string();
    let loaded = tokio::task::spawn_blocking(move || crate::hosting::upload::load(&runtime, &body, Some((&owner, &version)), &quotas, &caps))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("the check failed: {e}")))?;
    let game = match loaded.game {
        Ok(game) => game,
        Err(why) => {
            state.tenants.discard_compiled(loaded.compiled, state.games.values());
            return Err(ApiError(StatusCode::BAD_REQUEST, format!("the game package was refused: {why}")));
        }
    };
    let name = crate::hosting::accounts::parse_key(game.name()).map(|(_, n, _)| n.to_string()).unwrap_or_default();
    let (record, version, new) = match accounts.put_version(&r.name, &name, &archive, room) {
        Ok(put) => put,
        Err(refused) => {
            drop(game);
            state.tenants.discard_compiled(loaded.compiled, state.games.values());
            return Err(refused.into());
        }
    };
    let key = record.key(&version);
    state.tenants.remember(&key, game, loaded.compiled);
    durable(state).await?;
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, json!({ "game": name, "version": version.short(), "hash": version.hash, "key": key, "bytes": version.bytes, "new": new })))
}

async fn upload_route(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let who = caller(&state, &headers)?;
    let body =
        body.map_err(|e| ApiError(e.status(), format!("the archive could not be read: {e} (at most {} bytes)", state.tenants.caps.archive_bytes)))?;
    let (status, info) = upload(&state, &who, body).await?;
    Ok((status, Json(info)).into_response())
}

/// The games `who` may see: their own, or every researcher's for the operator.
pub(crate) fn visible_games(state: &AppState, who: &Who) -> Result<Vec<GameRecord>, ApiError> {
    Ok(state.tenants.accounts.games(who.researcher())?)
}

async fn games(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let who = caller(&state, &headers)?;
    let games: Vec<Value> = visible_games(&state, &who)?.iter().map(game_json).collect();
    let mut out = json!({ "games": games });
    if who.researcher().is_none() {
        out["operator_games"] = json!(state.games.keys().collect::<Vec<_>>());
    }
    Ok(Json(out))
}

/// `owner`'s game `name` as `who` may see it, or a 404.
fn visible_game(state: &AppState, who: &Who, owner: &str, name: &str) -> Result<Json<Value>, ApiError> {
    let mine = who.researcher().is_none_or(|r| r == owner);
    let record = state.tenants.accounts.game(owner, name)?.filter(|_| mine);
    let record = record.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no game `{owner}/{name}`")))?;
    Ok(Json(game_json(&record)))
}

async fn game(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    match caller(&state, &headers)? {
        Who::Researcher(r) => visible_game(&state, &Who::Researcher(r.clone()), &r.name, &name),
        Who::Operator => Err(ApiError(StatusCode::NOT_FOUND, format!("no game `{name}`: name a researcher's game as owner/name"))),
    }
}

async fn owned_game(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let who = caller(&state, &headers)?;
    visible_game(&state, &who, &owner, &name)
}

async fn delete_version(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let Who::Researcher(r) = caller(&state, &headers)? else {
        return Err(ApiError(StatusCode::BAD_REQUEST, "a researcher deletes versions of their own games, with their token".into()));
    };
    let sessions = state.store.sessions()?;
    // Its archive, read before it goes: a version not loaded since the start still has a
    // compiled component cached.
    let archive = state.tenants.accounts.package(&r.name, &name, &version)?;
    let key = state.tenants.accounts.delete_version(&r.name, &name, &version, |key| sessions.iter().any(|s| s.game == key))?;
    let loaded = state.tenants.unload(&key);
    let (runtime, caps) = (state.tenants.runtime(), state.tenants.caps);
    let compiled = loaded.or_else(|| archive.and_then(|a| crate::hosting::upload::compiled_file_of(runtime, &a, &caps)));
    state.tenants.discard_compiled(compiled, state.games.values());
    durable(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `POST /api/researchers` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewResearcher {
    name: String,
    password: Option<String>,
    quotas: Option<QuotaPatch>,
}

/// Creates a researcher with default quotas changed by `patch`; returns them and their token.
pub(crate) fn add_researcher(
    state: &AppState,
    name: &str,
    password: Option<&str>,
    patch: Option<&QuotaPatch>,
) -> Result<(Researcher, String), ApiError> {
    let quotas = match patch {
        Some(p) => p.apply(&Quotas::default(), &state.runtime.config.max)?,
        None => Quotas::default(),
    };
    Ok(state.tenants.accounts.add(name, password, quotas)?)
}

async fn add(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    operator(&state, &headers)?;
    let new: NewResearcher = serde_json::from_slice(&body)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("expected {{\"name\": NAME[, \"password\": P, \"quotas\": {{...}}]}}: {e}")))?;
    let (r, token) = add_researcher(&state, &new.name, new.password.as_deref(), new.quotas.as_ref())?;
    durable(&state).await?;
    Ok((StatusCode::CREATED, Json(json!({ "name": r.name, "token": token, "quotas": r.quotas }))).into_response())
}

async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    operator(&state, &headers)?;
    let all: Vec<Value> = state.tenants.accounts.list()?.iter().map(|r| researcher_json(&state, r)).collect();
    Ok(Json(json!({ "researchers": all })))
}

fn must_get(state: &AppState, name: &str) -> Result<Researcher, ApiError> {
    state.tenants.accounts.get(name)?.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no researcher `{name}`")))
}

async fn one(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    operator(&state, &headers)?;
    Ok(Json(researcher_json(&state, &must_get(&state, &name)?)))
}

/// Sets `name`'s quotas; sessions started afterwards run under them.
pub(crate) fn set_quotas(state: &AppState, name: &str, patch: &QuotaPatch) -> Result<Researcher, ApiError> {
    let r = state.tenants.accounts.set_quotas(name, patch, &state.runtime.config.max)?;
    state.tenants.forget(name);
    Ok(r)
}

async fn quotas(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(name): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    operator(&state, &headers)?;
    let patch: QuotaPatch = serde_json::from_slice(&body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"deadline_ms\", \"memory_mb\", \"messages_per_second\", \"sessions\", \"stored_bytes\"}} (each optional): {e}"),
        )
    })?;
    let r = set_quotas(&state, &name, &patch)?;
    durable(&state).await?;
    Ok(Json(researcher_json(&state, &r)))
}

async fn token(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    operator(&state, &headers)?;
    let token = state.tenants.accounts.new_token(&name)?;
    durable(&state).await?;
    Ok(Json(json!({ "name": name, "token": token })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
}

async fn password(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(name): Path<String>, body: Bytes) -> Result<StatusCode, ApiError> {
    operator(&state, &headers)?;
    let p: NewPassword =
        serde_json::from_slice(&body).map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("expected {{\"password\": TEXT}}: {e}")))?;
    state.tenants.accounts.set_password(&name, &p.password)?;
    durable(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}
