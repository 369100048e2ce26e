//! The room pages: the rooms the signed-in may see and the "create room" form (labels pasted
//! one per line), and one room — its link, its labels, its open session, and a button that
//! closes it. A session is opened in a room from the "create session" form on `/admin`.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::admin::access::{guard, guard_form};
use crate::server::admin::sessions::base_url;
use crate::server::api::error::ApiError;
use crate::server::api::rooms as api;
use crate::server::pages::layout;
use crate::server::state::AppState;
use crate::store::rooms::labels_from_lines;

/// The room pages' routes.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/rooms", get(list).post(create))
        .route("/admin/rooms/{name}", get(room))
        .route("/admin/rooms/{name}/close", post(close))
}

#[derive(Debug, Deserialize)]
struct CreateForm {
    name: String,
    #[serde(default)]
    display_name: String,
    /// One label per line; empty: anyone with the link.
    #[serde(default)]
    labels: String,
}

/// `GET /admin/rooms`: the rooms and the "create room" form.
async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let who = match guard(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return *refused,
    };
    let rooms = match api::visible_rooms(&state, &who) {
        Ok(rooms) => rooms,
        Err(ApiError(status, why)) => return layout::message(status, "Something went wrong", &why),
    };
    let rows: Vec<Value> = rooms
        .iter()
        .map(|r| json!({ "name": r.name, "display_name": r.display_name, "labels": r.labels.len(), "session": r.session, "owner": r.owner }))
        .collect();
    layout::html(StatusCode::OK, "admin_rooms", &json!({ "rooms": rows, "operator": who.researcher().is_none() }))
}

/// `POST /admin/rooms`: the "create room" form → 303 to the new room's page.
async fn create(State(state): State<Arc<AppState>>, headers: HeaderMap, form: Result<Form<CreateForm>, FormRejection>) -> Response {
    let who = match guard_form(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return *refused,
    };
    let Ok(Form(f)) = form else {
        return layout::message(StatusCode::BAD_REQUEST, "Bad request", "The form needs a room name.");
    };
    match api::create_room(&state, &who, f.name.trim(), Some(&f.display_name), labels_from_lines(&f.labels)).await {
        Ok(room) => Redirect::to(&format!("/admin/rooms/{}", room.name)).into_response(),
        Err(ApiError(status, why)) => layout::message(status, "The room was not created", &why),
    }
}

/// `GET /admin/rooms/{name}`: the room's link (and one per label), its open session.
async fn room(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let who = match guard(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return *refused,
    };
    let room = match api::find_room(&state, &who, &name) {
        Ok(room) => room,
        Err(ApiError(status, why)) => return layout::message(status, "No such room", &why),
    };
    let mut info = api::room_json(&state, &room);
    let link = format!("{}/room/{}", base_url(&headers), room.name);
    let labelled: Vec<Value> = room.labels.iter().map(|l| json!({ "label": l, "link": format!("{link}?participant_label={l}") })).collect();
    info["prolific_link"] = Value::String(format!("{link}?participant_label={{{{%PROLIFIC_PID%}}}}"));
    info["link"] = Value::String(link);
    info["label_links"] = Value::Array(labelled);
    info["title"] = Value::String(format!("Room {}", room.name));
    layout::html(StatusCode::OK, "admin_room", &info)
}

/// `POST /admin/rooms/{name}/close`: closes the room's session → 303 back to the room.
async fn close(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let who = match guard_form(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return *refused,
    };
    match api::close_room(&state, &who, &name).await {
        Ok(room) => Redirect::to(&format!("/admin/rooms/{}", room.name)).into_response(),
        Err(ApiError(status, why)) => layout::message(status, "The room's session was not closed", &why),
    }
}
