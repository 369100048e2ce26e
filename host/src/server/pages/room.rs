//! `/room/{name}`: a room's link, which never changes, and where a finished participant goes.
//!
//! - `GET /room/{name}[?participant_label=X]`: while no session is open in the room, a waiting
//!   page whose script polls `GET /room/{name}/status` (`{"open": bool}`, any origin, like a
//!   wait page's position) and reloads once one is. With a session open, a `302` to a
//!   participant's page: the one the label was given before (a refresh, another device, a
//!   restart in between), else the session's next free participant, seated durably before the
//!   answer. A room with a label list refuses a label not on it (`403`) and asks for one when
//!   none is given; a label that is not 1–100 of `A-Z a-z 0-9 _ - . @` is a `400`. Without a
//!   label, the `stoa_room_{name}` cookie (the participant given to this browser) resumes,
//!   as oTree's does. A session with no free participant left says so (`409`, "This session
//!   is full").
//! - [`completion_target`]: once finished, a participant's page is a `302` to the session
//!   config's `completion_url` (see [`crate::session::completion`]).
//!
//! Every answer carries the participant pages' [`SANDBOX`]: a room's page shows what its
//! creator wrote (its display name) to whoever opens it.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::server::auth;
use crate::server::pages::layout::{self, SANDBOX};
use crate::server::state::AppState;
use crate::session::completion;
use crate::store::rooms::check_label;
use crate::store::{Room, Seat, Session, StoreError};

/// How long a browser keeps the participant it was given in a room without labels.
const COOKIE_SECONDS: u64 = 30 * 24 * 3600;

/// The room routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/room/{name}", get(enter)).route("/room/{name}/status", get(status)).layer(axum::middleware::map_response(sandboxed))
}

async fn sandboxed(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SANDBOX));
    response
}

#[derive(Debug, Deserialize)]
struct Arrival {
    participant_label: Option<String>,
}

/// A `302` to `to`.
pub(crate) fn found(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => layout::message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "The next address could not be written."),
    }
}

fn failed(e: impl std::fmt::Display) -> Response {
    tracing::error!("room page failed: {e}");
    layout::message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", &e.to_string())
}

/// The room page that is not a redirect: waiting (`waiting`) or asking for a label (`ask`).
fn page(status: StatusCode, room: &Room, waiting: bool, ask: Option<&str>) -> Response {
    let data = json!({ "title": room.display_name, "name": room.name, "waiting": waiting, "ask": ask.is_some(), "why": ask.unwrap_or("") });
    layout::html(status, "room", &data)
}

async fn enter(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Arrival>, QueryRejection>,
) -> Response {
    let room = match state.rooms.get(&name) {
        Ok(Some(room)) => room,
        Ok(None) => {
            return layout::message(StatusCode::NOT_FOUND, "No such room", "There is no room at this address. Check the link you were given.");
        }
        Err(e) => return failed(e),
    };
    let Ok(Query(arrival)) = query else {
        return layout::message(StatusCode::BAD_REQUEST, "Bad request", "This link's query could not be read: use ?participant_label=YOUR_LABEL.");
    };
    let label = arrival.participant_label.map(|l| l.trim().to_string()).filter(|l| !l.is_empty());
    if let Some(label) = &label {
        if let Err(why) = check_label(label) {
            return layout::message(StatusCode::BAD_REQUEST, "Bad participant label", &format!("This link's {why}."));
        }
        if !room.labels.is_empty() && !room.labels.contains(label) {
            let why = format!("The participant label `{label}` is not on this room's list. Check the label you were given, or ask the experimenter.");
            return layout::message(StatusCode::FORBIDDEN, "Unknown participant label", &why);
        }
    } else if !room.labels.is_empty() {
        return page(StatusCode::OK, &room, false, Some("Please enter the participant label you were given."));
    }
    let session = match room.session.as_deref().map(|code| state.store.session(code)) {
        Some(Ok(Some(session))) => session,
        Some(Err(e)) => return failed(e),
        None | Some(Ok(None)) => return page(StatusCode::OK, &room, true, None),
    };
    let cookie_name = format!("stoa_room_{}", room.name);
    if label.is_none()
        && let Some(code) = auth::cookie(&headers, &cookie_name)
        && session.participants.iter().any(|c| c == code)
    {
        return found(&format!("/p/{code}"));
    }
    match seat(&state, &session, label.as_deref()).await {
        Ok(Seat::Again(code)) => found(&format!("/p/{code}")),
        Ok(Seat::New(code)) => {
            let mut to = found(&format!("/p/{code}"));
            if label.is_none() {
                let secure = if state.config.secure_cookies { "; Secure" } else { "" };
                let cookie = format!("{cookie_name}={code}; Path=/room/{}; Max-Age={COOKIE_SECONDS}; HttpOnly; SameSite=Lax{secure}", room.name);
                if let Ok(value) = HeaderValue::from_str(&cookie) {
                    to.headers_mut().insert(header::SET_COOKIE, value);
                }
            }
            to
        }
        Ok(Seat::Full) => {
            let why = format!(
                "All {} places of this session are taken. Thank you for your interest; please contact the experimenter.",
                session.participants.len()
            );
            layout::message(StatusCode::CONFLICT, "This session is full", &why)
        }
        Err(StoreError::Halted(why)) => layout::message(StatusCode::SERVICE_UNAVAILABLE, "Not available", &why),
        Err(e) => failed(e),
    }
}

/// Seats an arrival in `session` and waits until the seat is on disk: a label answered with
/// a participant gets that one back after any crash.
async fn seat(state: &Arc<AppState>, session: &Session, label: Option<&str>) -> Result<Seat, StoreError> {
    let (rooms, store, session, label) = (state.rooms.clone(), state.store.clone(), session.clone(), label.map(str::to_string));
    tokio::task::spawn_blocking(move || {
        store.refuse_if_halted()?;
        let seat = rooms.seat(&session, label.as_deref())?;
        store.wait_durable()?;
        Ok(seat)
    })
    .await
    .map_err(|e| StoreError::Invalid(format!("seating failed: {e}")))?
}

/// `{"open": bool}`: whether a session is open in the room, for its waiting page's poll.
async fn status(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let mut response = match state.rooms.get(&name) {
        Ok(Some(room)) => Json(json!({ "open": room.session.is_some() })).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, Json(json!({ "error": "no such room" }))).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": "room unavailable" }))).into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Where finished participant `code` of `session` goes, if its config has a completion URL:
/// with their label appended when the URL ends in `=`.
pub(crate) fn completion_target(state: &AppState, code: &str, session: &Session) -> Option<String> {
    completion::configured(&session.config).ok()??;
    let label = state.rooms.label_of(code).ok().flatten();
    completion::target(&session.config, label.as_deref())
}
