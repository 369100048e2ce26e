//! `/admin`: the experimenter's pages — games, sessions, participant links, live monitor and
//! exports. HTML from the host templates (`layout`).
//!
//! Signing in: `GET /admin?token=T` (the link `stoa serve` prints) or the form on the 401 page
//! (`POST /admin/login`) sets the `stoa_admin` cookie and redirects to `/admin`. Every admin
//! page takes the cookie or a bearer token; forms also pass the same-origin check (`auth`).
//!
//! - `GET /admin`: games and the "create session" form → `POST /admin/sessions` → 303 to
//!   `/admin/sessions/{code}`;
//! - `GET /admin/sessions`: every session;
//! - `GET /admin/sessions/{code}`: absolute participant links, the monitor table (refreshed
//!   every 2 s from `GET /admin/sessions/{code}/monitor`, the API's session info) and export
//!   links (`GET /admin/sessions/{code}/export`, as the API's export).

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::api::{self, ApiError};
use crate::server::export::{self, ExportQuery};
use crate::server::state::AppState;
use crate::server::{auth, layout};

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/login", post(login))
        .route("/admin/sessions", get(sessions).post(create))
        .route("/admin/sessions/{code}", get(session))
        .route("/admin/sessions/{code}/monitor", get(monitor))
        .route("/admin/sessions/{code}/export", get(export_session))
}

/// The 401 page: says why and asks for the token.
fn sign_in(message: &str) -> Response {
    layout::html(StatusCode::UNAUTHORIZED, "admin_login", &json!({ "message": message }))
}

fn signed_in(state: &AppState) -> Response {
    let mut response = Redirect::to("/admin").into_response();
    if let Ok(cookie) = auth::set_cookie(state).parse() {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The refusal of a request without the admin cookie or token, if it has neither.
fn guard(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    (!auth::is_admin(state, headers)).then(|| sign_in("Sign in with the admin token to see this page."))
}

/// The refusal of a form from someone else or posted from another site.
fn guard_form(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    guard(state, headers).or_else(|| {
        (!auth::same_origin(headers)).then(|| layout::message(StatusCode::FORBIDDEN, "Refused", "This form was sent from another site."))
    })
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn home(State(state): State<Arc<AppState>>, headers: HeaderMap, query: Result<Query<TokenQuery>, QueryRejection>) -> Response {
    if let Ok(Query(TokenQuery { token: Some(token) })) = query {
        return if state.is_admin(&token) { signed_in(&state) } else { sign_in("That token is not this server's admin token.") };
    }
    if let Some(refused) = guard(&state, &headers) {
        return refused;
    }
    let games: Vec<Value> = state
        .games
        .values()
        .map(|g| {
            let m = &g.manifest;
            let pages: Vec<&str> = m.pages.iter().map(|p| p.name.as_str()).collect();
            json!({ "name": m.name, "players_per_group": m.players_per_group, "num_rounds": m.num_rounds, "pages": pages.join(", ") })
        })
        .collect();
    let session_count = state.store.sessions().map(|s| s.len()).unwrap_or(0);
    let default_participants = state.games.values().next().map_or(1, |g| g.manifest.players_per_group);
    layout::html(StatusCode::OK, "admin_home", &json!({ "games": games, "session_count": session_count, "default_participants": default_participants }))
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<Arc<AppState>>, headers: HeaderMap, form: Result<Form<LoginForm>, FormRejection>) -> Response {
    if !auth::same_origin(&headers) {
        return layout::message(StatusCode::FORBIDDEN, "Refused", "This form was sent from another site.");
    }
    match form {
        Ok(Form(f)) if state.is_admin(&f.token) => signed_in(&state),
        _ => sign_in("That token is not this server's admin token."),
    }
}

#[derive(Debug, Deserialize)]
struct CreateForm {
    game: String,
    participants: String,
}

async fn create(State(state): State<Arc<AppState>>, headers: HeaderMap, form: Result<Form<CreateForm>, FormRejection>) -> Response {
    if let Some(refused) = guard_form(&state, &headers) {
        return refused;
    }
    let Ok(Form(f)) = form else {
        return layout::message(StatusCode::BAD_REQUEST, "Bad request", "The form needs a game and a number of participants.");
    };
    let Ok(n) = f.participants.trim().parse::<u32>() else {
        return layout::message(StatusCode::BAD_REQUEST, "Bad request", &format!("`{}` is not a number of participants.", f.participants));
    };
    match api::create_session(&state, &f.game, n) {
        Ok(session) => Redirect::to(&format!("/admin/sessions/{}", session.code)).into_response(),
        Err(ApiError(status, why)) => layout::message(status, "The session was not created", &why),
    }
}

async fn sessions(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = guard(&state, &headers) {
        return refused;
    }
    let all = match state.store.sessions() {
        Ok(all) => all,
        Err(e) => return layout::message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", &e.to_string()),
    };
    let rows: Vec<Value> = all
        .iter()
        .rev()
        .map(|s| json!({ "code": s.code, "game": s.game, "participants": s.participants.len(), "created": utc(s.created_ms) }))
        .collect();
    layout::html(StatusCode::OK, "admin_sessions", &json!({ "sessions": rows }))
}

/// `http://host` of this request, for absolute participant links.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let https = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

async fn session(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    if let Some(refused) = guard(&state, &headers) {
        return refused;
    }
    let info = api::find(&state, &code).and_then(|s| api::session_info(&state, &s));
    let mut info = match info {
        Ok(info) => info,
        Err(ApiError(status, why)) => return layout::message(status, "No such session", &why),
    };
    let base = base_url(&headers);
    if let Some(Value::Array(people)) = info.get_mut("participants") {
        for p in people.iter_mut() {
            let link = format!("{base}{}", p["url"].as_str().unwrap_or_default());
            p["link"] = Value::String(link);
        }
    }
    info["title"] = Value::String(format!("Session {code}"));
    layout::html(StatusCode::OK, "admin_session", &info)
}

async fn monitor(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    if !auth::is_admin(&state, &headers) {
        return ApiError(StatusCode::UNAUTHORIZED, "sign in at /admin first".into()).into_response();
    }
    match api::find(&state, &code).and_then(|s| api::session_info(&state, &s)) {
        Ok(info) => Json(info).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn export_session(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Response {
    if let Some(refused) = guard(&state, &headers) {
        return refused;
    }
    let Ok(Query(query)) = query else {
        return layout::message(StatusCode::BAD_REQUEST, "Bad request", "Use ?format=json or ?format=csv.");
    };
    let session = match api::find(&state, &code) {
        Ok(s) => s,
        Err(ApiError(status, why)) => return layout::message(status, "No such session", &why),
    };
    export::respond(&state, &session, &query).await.unwrap_or_else(IntoResponse::into_response)
}

/// `YYYY-MM-DD HH:MM` (UTC) of a time in ms since the Unix epoch.
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Days to civil date (H. Hinnant's algorithm), to avoid a date crate for one column.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates_are_civil_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00");
        assert_eq!(super::utc(1_709_210_096_000), "2024-02-29 12:34");
    }
}
