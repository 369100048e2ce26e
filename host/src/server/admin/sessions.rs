//! The session pages: create, list, one session (links, monitor, export, bundle, provenance).

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::admin::access::{Refused, guard, guard_form};
use crate::server::api::error::ApiError;
use crate::server::api::export::{self, ExportQuery};
use crate::server::api::sessions as api;
use crate::server::auth;
use crate::server::pages::layout;
use crate::server::state::AppState;

/// The session pages' routes.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/sessions", get(list).post(create))
        .route("/admin/sessions/{code}", get(session))
        .route("/admin/sessions/{code}/monitor", get(monitor))
        .route("/admin/sessions/{code}/export", get(export_session))
        .route("/admin/sessions/{code}/bundle", get(bundle))
        .route("/admin/sessions/{code}/payments", get(payments))
        .route("/admin/sessions/{code}/advance", axum::routing::post(advance))
}

/// `POST /admin/sessions/{code}/advance`: the monitor's button, advancing the slowest
/// participants (see [`crate::server::api::advance`]) → 303 back to the session's page.
async fn advance(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    let who = match guard_form(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return *refused,
    };
    let session = match api::find(&state, &who, &code) {
        Ok(s) => s,
        Err(ApiError(status, why)) => return layout::message(status, "No such session", &why),
    };
    match crate::server::api::advance::advance(&state, &session, Default::default()).await {
        Ok(_) => Redirect::to(&format!("/admin/sessions/{code}")).into_response(),
        Err(ApiError(status, why)) => layout::message(status, "Nobody was advanced", &why),
    }
}

#[derive(Debug, Deserialize)]
struct CreateForm {
    game: String,
    participants: String,
    #[serde(default)]
    version: String,
    /// A `[[session_config]]`'s name, or empty.
    #[serde(default)]
    config: String,
    /// Edited config values, a JSON object, or empty.
    #[serde(default)]
    params: String,
    /// The room to open the session in, or empty.
    #[serde(default)]
    room: String,
    /// The session's seed, or empty (a random one).
    #[serde(default)]
    seed: String,
}

/// `POST /admin/sessions`: the "create session" form → 303 to the new session's page.
async fn create(State(state): State<Arc<AppState>>, headers: HeaderMap, form: Result<Form<CreateForm>, FormRejection>) -> Response {
    let who = match guard_form(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return *refused,
    };
    let Ok(Form(f)) = form else {
        return layout::message(StatusCode::BAD_REQUEST, "Bad request", "The form needs a game and a number of participants.");
    };
    let Ok(n) = f.participants.trim().parse::<u32>() else {
        return layout::message(StatusCode::BAD_REQUEST, "Bad request", &format!("`{}` is not a number of participants.", f.participants));
    };
    let version = Some(f.version.trim()).filter(|v| !v.is_empty());
    let treatment = Some(f.config.trim()).filter(|v| !v.is_empty());
    let params = match f.params.trim() {
        "" => serde_json::Map::new(),
        text => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => {
                return layout::message(
                    StatusCode::BAD_REQUEST,
                    "The session was not created",
                    &format!("Edited values must be a JSON object, like {{\"endowment\": 50}}, not `{text}`."),
                );
            }
        },
    };
    let room = Some(f.room.trim()).filter(|v| !v.is_empty());
    let seed = match f.seed.trim() {
        "" => None,
        text => match text.parse::<u64>() {
            Ok(seed) => Some(seed),
            Err(_) => {
                let why = format!("The seed must be a whole number from 0 to {}, not `{text}`.", u64::MAX);
                return layout::message(StatusCode::BAD_REQUEST, "The session was not created", &why);
            }
        },
    };
    let opening = api::Opening { game: &f.game, version, participants: n, treatment, params: &params, room, seed };
    match api::create_session(&state, &who, opening).await {
        Ok(session) => Redirect::to(&format!("/admin/sessions/{}", session.code)).into_response(),
        Err(ApiError(status, why)) => layout::message(status, "The session was not created", &why),
    }
}

/// `GET /admin/sessions`: every session the signed-in may see, newest first.
async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let who = match guard(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return *refused,
    };
    let all = match state.store.sessions() {
        Ok(all) => all,
        Err(e) => return layout::message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", &e.to_string()),
    };
    let rows: Vec<Value> = all
        .iter()
        .rev()
        .filter(|s| who.owns(s))
        .map(|s| json!({ "code": s.code, "game": s.game, "participants": s.participants.len(), "created": utc(s.created_ms) }))
        .collect();
    layout::html(StatusCode::OK, "admin_sessions", &json!({ "sessions": rows }))
}

/// `http://host` of this request, for absolute participant links.
pub(super) fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let https = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// `GET /admin/sessions/{code}`: participant links, monitor and export links.
async fn session(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    let who = match guard(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return *refused,
    };
    let info = api::find(&state, &who, &code).and_then(|s| Ok((api::session_info(&state, &s)?, provenance(&state, &s)?)));
    let (mut info, provenance) = match info {
        Ok(info) => info,
        Err(ApiError(status, why)) => return layout::message(status, "No such session", &why),
    };
    info["provenance"] = provenance;
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

/// The provenance block of `session` for its page (its seed once every participant has
/// finished), or null when its game is not loaded.
fn provenance(state: &AppState, session: &crate::store::Session) -> Result<Value, ApiError> {
    let Some(game) = state.game(&session.game) else { return Ok(Value::Null) };
    let finished = crate::server::api::provenance::all_finished(&state.store, &game.manifest, session)?;
    Ok(crate::server::api::provenance::block(&state.store, &game, session, finished)?)
}

/// Session `code` if the signed-in caller may see it, else the page saying why not (sign in,
/// or no such session).
// The refusal is the page itself, as `guard`'s is: large, and built only for a refused request.
#[allow(clippy::result_large_err)]
fn signed_in_session(state: &AppState, headers: &HeaderMap, code: &str) -> Result<crate::store::Session, Refused> {
    let who = guard(state, headers)?;
    api::find(state, &who, code).map_err(|ApiError(status, why)| Box::new(layout::message(status, "No such session", &why)))
}

/// `GET /admin/sessions/{code}/bundle`: as the API's bundle.
async fn bundle(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    let session = match signed_in_session(&state, &headers, &code) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    match crate::server::api::bundle::respond(&state, &session).await {
        Ok(bundle) => bundle,
        Err(ApiError(status, why)) => layout::message(status, "The bundle could not be written", &why),
    }
}

/// `GET /admin/sessions/{code}/monitor`: the API's session info, for the monitor table.
async fn monitor(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    let Some(who) = auth::who(&state, &headers) else {
        return ApiError(StatusCode::UNAUTHORIZED, "sign in at /admin first".into()).into_response();
    };
    match api::find(&state, &who, &code).and_then(|s| api::session_info(&state, &s)) {
        Ok(info) => Json(info).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /admin/sessions/{code}/payments`: each participant's points and money.
async fn payments(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    let session = match signed_in_session(&state, &headers, &code) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    match crate::server::api::sessions::session_payments(&state, &session).await {
        Ok(mut info) => {
            info["title"] = Value::String(format!("Payments of session {code}"));
            layout::html(StatusCode::OK, "admin_payments", &info)
        }
        Err(ApiError(status, why)) => layout::message(status, "The payments could not be read", &why),
    }
}

/// `GET /admin/sessions/{code}/export`: as the API's export.
async fn export_session(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Response {
    let session = match signed_in_session(&state, &headers, &code) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let Ok(Query(query)) = query else {
        return layout::message(StatusCode::BAD_REQUEST, "Bad request", "Use ?format=json or ?format=csv.");
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
