//! `/api/sessions`: sessions in the experimenter's JSON API, behind `Authorization: Bearer <token>` —
//! the admin token (the operator: every session) or a researcher's token (their own
//! sessions only; another researcher's session is a 404, as if it did not exist).
//!
//! - `POST /api/sessions` `{"game": "auction", "participants": 6, "version": "3fa2c1d0"}` →
//!   201 with the session info. A researcher names one of their uploaded games; `version`
//!   (optional, 8+ hex digits of the upload's hash) picks a version, else the newest. The
//!   operator names a game from `--games DIR`, or a researcher's game as `owner/name`;
//!   `"config"`, `"params"` and `"room"` (a room of the caller's: [`super::rooms`]) are optional;
//! - `GET /api/sessions` → `{"sessions": [{"code", "game", "participants", "created_ms"}]}`;
//! - `GET /api/sessions/{code}` → the session info: `{"code", "game", "participants": [{"code",
//!   "url", "group", "id_in_group", "page", "round", "seconds_on_page", "live": {"connected",
//!   "sent", "received", "errors"}}]}`, `page` being the current page's name or `"finished"`;
//! - `GET /api/sessions/{code}/export?format=json|csv[&table=players|pages|log][&seed=1]`: see
//!   [`export`];
//! - `GET /api/sessions/{code}/bundle`: the export bundle `stoa replay` takes, see [`bundle`];
//! - `POST /api/sessions/{code}/advance` `{}` or `{"participants": [...]}`: the slowest (or
//!   those) leave their page as on a timeout, see [`super::advance`].
//!
//! A hosted game's sessions show its key, `owner/name@version`, as their `game`.
//!
//! Every error is `{"error": "..."}`: 401 without a valid token, 400 for a bad request, 403
//! over a quota, 404 for an unknown (or someone else's) session.
//!
//! [`export`]: crate::server::api::export
//! [`bundle`]: crate::server::api::bundle

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::api::caller::caller;
use crate::server::api::error::ApiError;
use crate::server::api::export::{self, ExportQuery};
use crate::server::state::AppState;
use crate::server::who::Who;
use crate::session::{current_page, finished};
use crate::store::{Session, now_ms};

/// The session routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/sessions", get(list).post(create))
        .route("/api/sessions/{code}", get(info))
        .route("/api/sessions/{code}/export", get(export_session))
        .route("/api/sessions/{code}/bundle", get(bundle))
        .route("/api/sessions/{code}/payments", get(payments))
        .route("/api/sessions/{code}/advance", axum::routing::post(advance))
}

/// `POST /api/sessions/{code}/advance` (see [`super::advance`]).
async fn advance(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let who = caller(&state, &headers)?;
    let session = find(&state, &who, &code)?;
    let what = match body.iter().all(u8::is_ascii_whitespace) {
        true => super::advance::Advance::default(),
        false => serde_json::from_slice(&body)
            .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("expected {{}} or {{\"participants\": [CODE, ...]}}: {e}")))?,
    };
    Ok(Json(super::advance::advance(&state, &session, what).await?))
}

/// What `POST /api/sessions` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSession {
    game: String,
    participants: u32,
    version: Option<String>,
    /// The `[[session_config]]` to run, by name.
    config: Option<String>,
    /// Config values edited over it.
    #[serde(default)]
    params: serde_json::Map<String, Value>,
    /// The room to open it in.
    room: Option<String>,
    /// The session's seed (default: drawn at random): two sessions with one seed draw the
    /// same random groups and give their games the same random.
    seed: Option<u64>,
}

/// What a new session is: its game, size, treatment, edited config values and room.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opening<'a> {
    /// The game as `who` names it (see [`resolve`]), and its version (else the newest).
    pub(crate) game: &'a str,
    pub(crate) version: Option<&'a str>,
    pub(crate) participants: u32,
    /// A `[[session_config]]` by name.
    pub(crate) treatment: Option<&'a str>,
    pub(crate) params: &'a serde_json::Map<String, Value>,
    /// The room the session opens in (see [`super::rooms::room_for_session`]).
    pub(crate) room: Option<&'a str>,
    /// Its seed, when the researcher gives one.
    pub(crate) seed: Option<u64>,
}

/// The game key `who` means by `game` (and `version`): a researcher's own uploaded game, or
/// for the operator a game from `--games` or a researcher's as `owner/name`.
fn resolve(state: &AppState, who: &Who, game: &str, version: Option<&str>) -> Result<String, ApiError> {
    let hosted = |owner: &str, name: &str| -> Result<Option<String>, ApiError> {
        let Some(record) = state.tenants.accounts.game(owner, name)? else { return Ok(None) };
        Ok(Some(record.key(record.version(version)?)))
    };
    let found = match who {
        Who::Researcher(r) => hosted(&r.name, game)?,
        Who::Operator if state.games.contains_key(game) => Some(game.to_string()),
        Who::Operator => match game.split_once('/') {
            Some((owner, name)) => hosted(owner, name)?,
            None => None,
        },
    };
    found.ok_or_else(|| {
        let names: Vec<String> = match who {
            Who::Researcher(r) => state.tenants.accounts.games(Some(&r.name)).unwrap_or_default().into_iter().map(|g| g.name).collect(),
            Who::Operator => state.games.keys().cloned().collect(),
        };
        let has = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        let whose = if who.researcher().is_some() { "your games" } else { "this server's games" };
        ApiError(StatusCode::BAD_REQUEST, format!("unknown game `{game}`; {whose}: {has}"))
    })
}

/// Sessions of researcher `owner` with a participant not yet finished.
fn running_sessions(state: &AppState, owner: &Who) -> Result<u32, ApiError> {
    let mut running = 0;
    for session in state.store.sessions()?.iter().filter(|s| owner.owns(s)) {
        let Some(game) = state.game(&session.game) else { continue };
        for code in &session.participants {
            if state.store.participant(code)?.is_some_and(|p| !finished(&p, &game.manifest)) {
                running += 1;
                break;
            }
        }
    }
    Ok(running)
}

/// Creates the session `opening` describes for `who`, within `who`'s session quota, opens it
/// in its room if it names one, and starts the timer of its first page if that page has a
/// timeout; the errors say what is wrong. Returns once the session is on disk: a session
/// acknowledged, its links handed out, survives a crash.
pub(crate) async fn create_session(state: &Arc<AppState>, who: &Who, opening: Opening<'_>) -> Result<Session, ApiError> {
    let Opening { game, version, participants, treatment, params, room, seed } = opening;
    // Someone else's room is a 404 before anything else is said about the request.
    if let Some(name) = room {
        super::rooms::find_room(state, who, name)?;
    }
    let key = resolve(state, who, game, version)?;
    let loaded = state
        .game(&key)
        .ok_or_else(|| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("game `{key}` could not be loaded (see the server log)")))?;
    let config = loaded.manifest.session_config(treatment, params).map_err(|why| ApiError(StatusCode::BAD_REQUEST, why))?;
    crate::session::completion::configured(&config).map_err(|why| ApiError(StatusCode::BAD_REQUEST, why))?;
    let room = room.map(|name| super::rooms::room_for_session(state, who, name, &key)).transpose()?;
    if let Who::Researcher(r) = who {
        let running = running_sessions(state, who)?;
        if running >= r.quotas.sessions {
            return Err(ApiError(
                StatusCode::FORBIDDEN,
                format!(
                    "quota: researcher `{}` may run {} session(s) at once and has {running} with participants not finished",
                    r.name, r.quotas.sessions
                ),
            ));
        }
        state.tenants.stored.check(r)?;
    }
    // creating-session runs the game: on a blocking thread, as every other call does.
    let (game, store, treatment) = (loaded.clone(), state.store.clone(), treatment.map(str::to_string));
    let (session, people) = tokio::task::spawn_blocking(move || game.create_session(&store, participants, treatment, config, seed))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("the session's creation was stopped: {e}")))??;
    if let Some(room) = room {
        // Checked above; another session opened in the room meanwhile is refused here.
        state.rooms.open_session(&room.name, &session.code)?;
    }
    super::researchers::durable(state).await?;
    for p in &people {
        state.flow.schedule(&loaded, p);
    }
    Ok(session)
}

async fn create(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = caller(&state, &headers)?;
    let new: NewSession = serde_json::from_slice(&body)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("expected {{\"game\": NAME, \"participants\": N[, \"version\": HASH][, \"config\": TREATMENT][, \"params\": {{KEY: VALUE}}][, \"room\": ROOM][, \"seed\": N]}}: {e}")))?;
    let opening = Opening {
        game: &new.game,
        version: new.version.as_deref(),
        participants: new.participants,
        treatment: new.config.as_deref(),
        params: &new.params,
        room: new.room.as_deref(),
        seed: new.seed,
    };
    let session = create_session(&state, &who, opening).await?;
    let info = session_info(&state, &session)?;
    let location = format!("/api/sessions/{}", session.code);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(info)).into_response())
}

async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let who = caller(&state, &headers)?;
    let sessions: Vec<Value> = state
        .store
        .sessions()?
        .iter()
        .filter(|s| who.owns(s))
        .map(|s| json!({ "code": s.code, "game": s.game, "participants": s.participants.len(), "created_ms": s.created_ms }))
        .collect();
    Ok(Json(json!({ "sessions": sessions })))
}

/// The session with `code` if `who` may see it, or a 404 (the same for a session that is
/// someone else's as for one that does not exist).
pub(crate) fn find(state: &AppState, who: &Who, code: &str) -> Result<Session, ApiError> {
    state.store.session(code)?.filter(|s| who.owns(s)).ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no session `{code}`")))
}

async fn info(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Result<Json<Value>, ApiError> {
    let who = caller(&state, &headers)?;
    let session = find(&state, &who, &code)?;
    Ok(Json(session_info(&state, &session)?))
}

/// The session info: its participants, where they are, and their live connections.
pub(crate) fn session_info(state: &AppState, session: &Session) -> Result<Value, ApiError> {
    let game = state.game(&session.game);
    let manifest = game.as_ref().map(|g| &g.manifest);
    let mut participants = Vec::with_capacity(session.participants.len());
    for code in &session.participants {
        let Some(p) = state.store.participant(code)? else { continue };
        let page = match manifest {
            Some(m) => current_page(&p, m).map_or("finished", |pg| pg.name.as_str()),
            None => "unknown (game not loaded)",
        };
        participants.push(json!({
            "code": p.code,
            "url": format!("/p/{}", p.code),
            "group": p.group,
            "id_in_group": p.id_in_group,
            "page": page,
            "round": p.round,
            // Since the first view of the page (else the arrival on it), as the monitor shows.
            "seconds_on_page": manifest.is_some_and(|m| !finished(&p, m)).then(|| now_ms().saturating_sub(p.page_viewed_ms.unwrap_or(p.page_entered_ms)) / 1000),
            "live": state.monitor.get(&p.code),
        }));
    }
    Ok(json!({
        "code": session.code,
        "game": session.game,
        "treatment": session.treatment,
        "config": session.config,
        "players_per_group": session.players_per_group,
        "created_ms": session.created_ms,
        "participants": participants,
    }))
}

/// `GET /api/sessions/{code}/payments` (see [`super::payments`]).
async fn payments(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Result<Response, ApiError> {
    let who = caller(&state, &headers)?;
    let session = find(&state, &who, &code)?;
    Ok(Json(session_payments(&state, &session).await?).into_response())
}

/// The payments of `session`, read off the async threads.
pub(crate) async fn session_payments(state: &Arc<AppState>, session: &Session) -> Result<Value, ApiError> {
    let game = state.game(&session.game).ok_or_else(|| {
        ApiError(StatusCode::CONFLICT, format!("the game `{}` of session `{}` is not loaded: its fields are unknown", session.game, session.code))
    })?;
    let (store, session) = (state.store.clone(), session.clone());
    tokio::task::spawn_blocking(move || super::payments::payments(&store, &game.manifest, &session))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("payments failed: {e}")))?
        .map_err(ApiError::from)
}

async fn export_session(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let who = caller(&state, &headers)?;
    let Query(query) =
        query.map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("bad query ({e}): use ?format=json or ?format=csv[&table=log]")))?;
    let session = find(&state, &who, &code)?;
    export::respond(&state, &session, &query).await
}

/// `GET /api/sessions/{code}/bundle` (see [`super::bundle`]).
async fn bundle(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Result<Response, ApiError> {
    let who = caller(&state, &headers)?;
    let session = find(&state, &who, &code)?;
    super::bundle::respond(&state, &session).await
}
