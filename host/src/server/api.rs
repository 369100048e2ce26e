//! `/api/sessions`: the experimenter's JSON API, behind `Authorization: Bearer <admin token>`.
//!
//! - `POST /api/sessions` `{"game": "auction", "participants": 6}` → 201 with the session info;
//! - `GET /api/sessions` → `{"sessions": [{"code", "game", "participants", "created_ms"}]}`;
//! - `GET /api/sessions/{code}` → the session info: `{"code", "game", "participants": [{"code",
//!   "url", "group", "id_in_group", "page", "round", "live": {"connected", "sent", "received",
//!   "errors"}}]}`, `page` being the current page's name or `"finished"`;
//! - `GET /api/sessions/{code}/export?format=json|csv[&table=players|log]`: see [`export`].
//!
//! Every error is `{"error": "..."}`: 401 without the token, 400 for a bad request, 404 for
//! an unknown session.
//!
//! [`export`]: crate::server::export

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::{auth, flow};
use crate::server::export::{self, ExportQuery};
use crate::server::state::AppState;
use crate::store::{Session, StoreError};

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/sessions", get(list).post(create))
        .route("/api/sessions/{code}", get(info))
        .route("/api/sessions/{code}/export", get(export_session))
}

/// An API failure: its status and the text of `{"error": ...}`.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(why) => ApiError(StatusCode::BAD_REQUEST, why),
            other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

fn check(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if auth::has_bearer(state, headers) {
        Ok(())
    } else {
        Err(ApiError(StatusCode::UNAUTHORIZED, "missing or wrong admin token: send `Authorization: Bearer <token>`".into()))
    }
}

/// What `POST /api/sessions` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSession {
    game: String,
    participants: u32,
}

/// Creates a session of `game` with `participants` participants and starts the timer of its
/// first page if that page has a timeout; the errors say what is wrong.
pub(crate) fn create_session(state: &Arc<AppState>, game: &str, participants: u32) -> Result<Session, ApiError> {
    let Some(loaded) = state.games.get(game) else {
        let names: Vec<&str> = state.games.keys().map(String::as_str).collect();
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("unknown game `{game}`; this server has: {}", names.join(", "))));
    };
    let (session, people) = state.store.create_session(&loaded.manifest, participants)?;
    for p in &people {
        flow::schedule(state, loaded, p);
    }
    Ok(session)
}

async fn create(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    check(&state, &headers)?;
    let new: NewSession = serde_json::from_slice(&body).map_err(|e| {
        ApiError(StatusCode::BAD_REQUEST, format!("expected {{\"game\": NAME, \"participants\": N}}: {e}"))
    })?;
    let session = create_session(&state, &new.game, new.participants)?;
    let info = session_info(&state, &session)?;
    let location = format!("/api/sessions/{}", session.code);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(info)).into_response())
}

async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    check(&state, &headers)?;
    let sessions: Vec<Value> = state
        .store
        .sessions()?
        .iter()
        .map(|s| json!({ "code": s.code, "game": s.game, "participants": s.participants.len(), "created_ms": s.created_ms }))
        .collect();
    Ok(Json(json!({ "sessions": sessions })))
}

/// The session with `code`, or a 404.
pub(crate) fn find(state: &AppState, code: &str) -> Result<Session, ApiError> {
    state.store.session(code)?.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no session `{code}`")))
}

async fn info(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Result<Json<Value>, ApiError> {
    check(&state, &headers)?;
    let session = find(&state, &code)?;
    Ok(Json(session_info(&state, &session)?))
}

/// The session info: its participants, where they are, and their live connections.
pub(crate) fn session_info(state: &AppState, session: &Session) -> Result<Value, ApiError> {
    let manifest = state.games.get(&session.game).map(|g| &g.manifest);
    let mut participants = Vec::with_capacity(session.participants.len());
    for code in &session.participants {
        let Some(p) = state.store.participant(code)? else { continue };
        let page = match manifest {
            Some(m) => m.pages.get(p.page_index as usize).map_or("finished", |pg| pg.name.as_str()),
            None => "unknown (game not loaded)",
        };
        participants.push(json!({
            "code": p.code,
            "url": format!("/p/{}", p.code),
            "group": p.group,
            "id_in_group": p.id_in_group,
            "page": page,
            "round": p.round,
            "live": state.monitor.get(&p.code),
        }));
    }
    Ok(json!({
        "code": session.code,
        "game": session.game,
        "players_per_group": session.players_per_group,
        "created_ms": session.created_ms,
        "participants": participants,
    }))
}

async fn export_session(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    check(&state, &headers)?;
    let Query(query) = query.map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("bad query ({e}): use ?format=json or ?format=csv[&table=log]")))?;
    let session = find(&state, &code)?;
    export::respond(&state, &session, &query).await
}
