//! `/api/rooms`: rooms in the experimenter's JSON API, behind `Authorization: Bearer <token>`.
//! A room belongs to whoever created it: a researcher's rooms are theirs alone (another
//! researcher's room is a 404 everywhere, as if it did not exist); the operator's token, as
//! for sessions, reaches every room.
//!
//! - `POST /api/rooms` `{"name": "econ101", "display_name": "Econ 101", "labels": ["A1",
//!   "A2"]}` (`display_name` and `labels` optional) → 201 with the room; a bad name, display
//!   name or label, a label listed twice or more than [`MAX_LABELS`] labels are 400 naming
//!   which and why; a name taken (room names are one namespace: they are links) is 409;
//! - `GET /api/rooms` → `{"rooms": [ROOM...]}`, the caller's own;
//! - `GET /api/rooms/{name}` → the room: `{"name", "display_name", "owner", "url", "labels",
//!   "session", "seated"}` (`session`: the open session's code or null; `seated`: its
//!   participants handed out through the room so far);
//! - `POST /api/rooms/{name}/close` → the room, its session closed: the session goes on for
//!   those in it, new arrivals wait for the next session opened in the room.
//!
//! A session is opened in a room by `POST /api/sessions` with `"room": NAME` (see
//! [`room_for_session`]): one at a time, as in oTree; a room holding one answers 409 naming it.
//!
//! [`MAX_LABELS`]: crate::store::rooms::MAX_LABELS

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::hosting::accounts::parse_key;
use crate::server::api::caller::caller;
use crate::server::api::error::ApiError;
use crate::server::state::AppState;
use crate::server::who::Who;
use crate::store::Room;
use crate::store::rooms::new_room;

/// The room routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/rooms", get(list).post(create)).route("/api/rooms/{name}", get(one)).route("/api/rooms/{name}/close", post(close))
}

/// What `POST /api/rooms` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRoom {
    name: String,
    display_name: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
}

/// Creates room `name` for `who`, durable before it returns.
pub(crate) async fn create_room(state: &AppState, who: &Who, name: &str, display_name: Option<&str>, labels: Vec<String>) -> Result<Room, ApiError> {
    let room = new_room(name, display_name, labels, who.room_owner())?;
    state.rooms.add(&room)?;
    super::researchers::durable(state).await?;
    Ok(room)
}

/// The room `name` if `who` may see it, or a 404 (the same for someone else's room as for
/// one that does not exist).
pub(crate) fn find_room(state: &AppState, who: &Who, name: &str) -> Result<Room, ApiError> {
    state.rooms.get(name)?.filter(|r| who.owns_room(r)).ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no room `{name}`")))
}

/// Every room `who` may see, by name.
pub(crate) fn visible_rooms(state: &AppState, who: &Who) -> Result<Vec<Room>, ApiError> {
    Ok(state.rooms.list()?.into_iter().filter(|r| who.owns_room(r)).collect())
}

/// The room as the API shows it.
pub(crate) fn room_json(state: &AppState, room: &Room) -> Value {
    let seated = room.session.as_deref().map(|s| state.rooms.seated(s).unwrap_or(0));
    json!({
        "name": room.name,
        "display_name": room.display_name,
        "owner": room.owner,
        "url": format!("/room/{}", room.name),
        "labels": room.labels,
        "session": room.session,
        "seated": seated,
        "created_ms": room.created_ms,
    })
}

/// The room `name` a session of game `game_key` may open in, for `who`: theirs to use, no
/// session open in it, and the game its owner's (an operator's room holds the operator's
/// games, a researcher's room that researcher's, so the session is as visible as the room).
pub(crate) fn room_for_session(state: &AppState, who: &Who, name: &str, game_key: &str) -> Result<Room, ApiError> {
    let room = find_room(state, who, name)?;
    if let Some(open) = &room.session {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "room `{name}` holds session `{open}` already: close it first (POST /api/rooms/{name}/close), a room holds one session at a time"
            ),
        ));
    }
    let game_owner = parse_key(game_key).map(|(owner, _, _)| owner);
    if game_owner != room.owner.as_deref() {
        let whose = |o: Option<&str>| o.map_or("the operator's".to_string(), |o| format!("researcher `{o}`'s"));
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "room `{name}` is {}, and game `{game_key}` is {}: a room holds sessions of its owner's games",
                whose(room.owner.as_deref()),
                whose(game_owner)
            ),
        ));
    }
    Ok(room)
}

async fn create(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = caller(&state, &headers)?;
    let new: NewRoom = serde_json::from_slice(&body).map_err(|e| {
        ApiError(StatusCode::BAD_REQUEST, format!("expected {{\"name\": NAME[, \"display_name\": TEXT][, \"labels\": [LABEL...]]}}: {e}"))
    })?;
    let room = create_room(&state, &who, &new.name, new.display_name.as_deref(), new.labels).await?;
    let location = format!("/api/rooms/{}", room.name);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(room_json(&state, &room))).into_response())
}

async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let who = caller(&state, &headers)?;
    let rooms: Vec<Value> = visible_rooms(&state, &who)?.iter().map(|r| room_json(&state, r)).collect();
    Ok(Json(json!({ "rooms": rooms })))
}

async fn one(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let who = caller(&state, &headers)?;
    Ok(Json(room_json(&state, &find_room(&state, &who, &name)?)))
}

/// Closes the room's session for `who`, durable before it returns.
pub(crate) async fn close_room(state: &AppState, who: &Who, name: &str) -> Result<Room, ApiError> {
    find_room(state, who, name)?;
    let room = state.rooms.close_session(name)?;
    super::researchers::durable(state).await?;
    Ok(room)
}

async fn close(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    let who = caller(&state, &headers)?;
    let room = close_room(&state, &who, &name).await?;
    Ok(Json(room_json(&state, &room)))
}
