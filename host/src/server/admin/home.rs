//! `GET /admin` (and the `?token=` sign-in link's page) and `POST /admin/games`, a
//! researcher's upload.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::admin::access::{confirm_sign_in, guard, guard_form, sign_in};
use crate::server::api::error::ApiError;
use crate::server::api::researchers;
use crate::server::auth;
use crate::server::pages::layout;
use crate::server::state::AppState;

/// `/admin` and the upload form's `POST /admin/games`.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/games", post(upload).layer(DefaultBodyLimit::max(crate::hosting::upload::Caps::default().archive_bytes + (64 << 10))))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The games, the upload form of a researcher and the "create session" form.
async fn home(State(state): State<Arc<AppState>>, headers: HeaderMap, query: Result<Query<TokenQuery>, QueryRejection>) -> Response {
    if let Ok(Query(TokenQuery { token: Some(token) })) = query {
        return match auth::token_who(&state, &token) {
            Some(who) => confirm_sign_in(&token, &who),
            None => sign_in("That token is neither this server's admin token nor a researcher's."),
        };
    }
    let who = match guard(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return *refused,
    };
    let row = |value: String, shown: String, g: &crate::game::Game, version: Option<&str>| {
        let m = &g.manifest;
        let pages: Vec<&str> = m.pages.iter().map(|p| p.name.as_str()).collect();
        let treatments: Vec<&str> = m.treatments.iter().map(|t| t.name.as_str()).collect();
        json!({ "name": shown, "value": value, "version": version, "players_per_group": m.players_per_group.map_or_else(|| json!("the whole session"), |n| json!(n)), "num_rounds": m.num_rounds, "pages": pages.join(", "), "treatments": treatments.join(", ") })
    };
    let mut games: Vec<Value> = Vec::new();
    if who.researcher().is_none() {
        games.extend(state.games.values().map(|g| row(g.name().to_string(), g.name().to_string(), g, None)));
    }
    for record in researchers::visible_games(&state, &who).unwrap_or_default() {
        let Some(newest) = record.versions.last() else { continue };
        let Some(g) = state.game(&record.key(newest)) else { continue };
        let value = if who.researcher().is_some() { record.name.clone() } else { format!("{}/{}", record.owner, record.name) };
        games.push(row(value.clone(), value, &g, Some(newest.short())));
    }
    let session_count = state.store.sessions().map(|s| s.iter().filter(|s| who.owns(s)).count()).unwrap_or(0);
    let rooms: Vec<Value> = crate::server::api::rooms::visible_rooms(&state, &who)
        .unwrap_or_default()
        .iter()
        .map(|r| json!({ "name": r.name, "display_name": r.display_name, "busy": r.session.is_some() }))
        .collect();
    let default_participants = games.first().and_then(|g| g["players_per_group"].as_u64()).unwrap_or(1);
    layout::html(
        StatusCode::OK,
        "admin_home",
        &json!({
            "games": games,
            "rooms": rooms,
            "session_count": session_count,
            "default_participants": default_participants,
            "researcher": who.researcher(),
            "operator": who.researcher().is_none(),
        }),
    )
}

/// `POST /admin/games`: the upload form (multipart, the file in field `archive`).
async fn upload(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let who = match guard_form(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return *refused,
    };
    let refused = |status: StatusCode, why: &str| layout::message(status, "The game was not uploaded", why);
    let Ok(mut multipart) = multipart else { return refused(StatusCode::BAD_REQUEST, "Send the form with a game archive in the field `archive`.") };
    let mut archive = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("archive") => match field.bytes().await {
                Ok(bytes) => archive = Some(bytes),
                Err(e) => return refused(e.status(), &format!("The archive could not be read: {e}")),
            },
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => return refused(e.status(), &format!("The form could not be read: {e}")),
        }
    }
    let Some(archive) = archive else { return refused(StatusCode::BAD_REQUEST, "The form has no file in the field `archive`.") };
    match researchers::upload(&state, &who, archive).await {
        Ok(_) => Redirect::to("/admin").into_response(),
        Err(ApiError(status, why)) => refused(status, &why),
    }
}
