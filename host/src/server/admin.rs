//! `/admin`: the experimenter's pages — games, sessions, participant links, live monitor and
//! exports. HTML from the host templates (`layout`).
//!
//! Signing in: `GET /admin?token=T` (the link `stoa serve` prints; a researcher's token
//! works too) or the form on the 401 page (`POST /admin/login`: a token, or a researcher's
//! name and password) sets the `stoa_admin` cookie and redirects to `/admin`. Every admin
//! page takes the cookie or a bearer token; forms also pass the same-origin check (`auth`).
//! A researcher sees only their own games and sessions (another's session is a 404).
//!
//! - `GET /admin`: games, the upload form of a researcher (`POST /admin/games`, multipart
//!   field `archive` → 303 to `/admin`) and the "create session" form → `POST
//!   /admin/sessions` → 303 to `/admin/sessions/{code}`;
//! - `GET /admin/researchers` (operator): researchers and their quotas, the "add researcher"
//!   form (`POST /admin/researchers` → a page showing the new token once) and a quota form
//!   per researcher (`POST /admin/researchers/{name}/quotas`);
//! - `GET /admin/sessions`: every session;
//! - `GET /admin/sessions/{code}`: absolute participant links, the monitor table (refreshed
//!   every 2 s from `GET /admin/sessions/{code}/monitor`, the API's session info) and export
//!   links (`GET /admin/sessions/{code}/export`, as the API's export).

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::hosting::accounts::QuotaPatch;
use crate::server::api::{self, ApiError};
use crate::server::export::{self, ExportQuery};
use crate::server::hosting::Who;
use crate::server::researchers;
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
        .route("/admin/games", post(upload).layer(DefaultBodyLimit::max(crate::hosting::upload::Caps::default().archive_bytes + (64 << 10))))
        .route("/admin/researchers", get(researchers_page).post(add_researcher))
        .route("/admin/researchers/{name}/quotas", post(set_quotas))
}

/// The 401 page: says why and asks for the token.
fn sign_in(message: &str) -> Response {
    layout::html(StatusCode::UNAUTHORIZED, "admin_login", &json!({ "message": message }))
}

fn signed_in(state: &AppState, who: &Who) -> Response {
    let mut response = Redirect::to("/admin").into_response();
    if let Ok(cookie) = auth::set_cookie_for(state, who).parse() {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Who is signed in, or the sign-in page.
fn guard(state: &AppState, headers: &HeaderMap) -> Result<Who, Response> {
    auth::who(state, headers).ok_or_else(|| sign_in("Sign in with the admin token, or a researcher's token or name and password, to see this page."))
}

/// Who sent a form, or the refusal of a form from nobody signed in or from another site.
fn guard_form(state: &AppState, headers: &HeaderMap) -> Result<Who, Response> {
    let who = guard(state, headers)?;
    if !auth::same_origin(headers) {
        return Err(layout::message(StatusCode::FORBIDDEN, "Refused", "This form was sent from another site."));
    }
    Ok(who)
}

/// The operator signed in, or a refusal.
fn guard_operator(state: &AppState, headers: &HeaderMap, form: bool) -> Result<(), Response> {
    match if form { guard_form(state, headers)? } else { guard(state, headers)? } {
        Who::Operator => Ok(()),
        Who::Researcher(_) => Err(layout::message(StatusCode::FORBIDDEN, "Refused", "Only the operator (the admin token) manages researchers.")),
    }
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn home(State(state): State<Arc<AppState>>, headers: HeaderMap, query: Result<Query<TokenQuery>, QueryRejection>) -> Response {
    if let Ok(Query(TokenQuery { token: Some(token) })) = query {
        return match auth::token_who(&state, &token) {
            Some(who) => signed_in(&state, &who),
            None => sign_in("That token is neither this server's admin token nor a researcher's."),
        };
    }
    let who = match guard(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    let row = |value: String, shown: String, g: &crate::game::Game, version: Option<&str>| {
        let m = &g.manifest;
        let pages: Vec<&str> = m.pages.iter().map(|p| p.name.as_str()).collect();
        json!({ "name": shown, "value": value, "version": version, "players_per_group": m.players_per_group, "num_rounds": m.num_rounds, "pages": pages.join(", ") })
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
    let default_participants = games.first().and_then(|g| g["players_per_group"].as_u64()).unwrap_or(1);
    layout::html(
        StatusCode::OK,
        "admin_home",
        &json!({
            "games": games,
            "session_count": session_count,
            "default_participants": default_participants,
            "researcher": who.researcher(),
            "operator": who.researcher().is_none(),
        }),
    )
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

async fn login(State(state): State<Arc<AppState>>, headers: HeaderMap, form: Result<Form<LoginForm>, FormRejection>) -> Response {
    if !auth::same_origin(&headers) {
        return layout::message(StatusCode::FORBIDDEN, "Refused", "This form was sent from another site.");
    }
    let Ok(Form(f)) = form else { return sign_in("Give a token, or a researcher's name and password.") };
    let who = if f.token.is_empty() {
        let name = f.name.trim().to_string();
        let sign_ins = &state.hosting.sign_ins;
        if let Some(wait) = sign_ins.locked(&name) {
            let why = format!("Too many failed sign-ins as `{name}` in a row: try again in {wait} s.");
            return layout::html(StatusCode::TOO_MANY_REQUESTS, "admin_login", &json!({ "message": why }));
        }
        let Ok(_one_at_a_time) = sign_ins.checking.acquire().await else { return sign_in("The server is stopping.") };
        let (checker, who, password) = (state.clone(), name.clone(), f.password);
        let checked = tokio::task::spawn_blocking(move || checker.hosting.accounts.check_password(&who, &password)).await;
        let found = checked.ok().and_then(Result::ok).flatten();
        sign_ins.note(&name, found.is_some());
        found.map(Who::Researcher)
    } else {
        auth::token_who(&state, f.token.trim())
    };
    match who {
        Some(who) => signed_in(&state, &who),
        None if f.token.is_empty() => sign_in("That name and password do not match a researcher."),
        None => sign_in("That token is neither this server's admin token nor a researcher's."),
    }
}

#[derive(Debug, Deserialize)]
struct CreateForm {
    game: String,
    participants: String,
    #[serde(default)]
    version: String,
}

async fn create(State(state): State<Arc<AppState>>, headers: HeaderMap, form: Result<Form<CreateForm>, FormRejection>) -> Response {
    let who = match guard_form(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    let Ok(Form(f)) = form else {
        return layout::message(StatusCode::BAD_REQUEST, "Bad request", "The form needs a game and a number of participants.");
    };
    let Ok(n) = f.participants.trim().parse::<u32>() else {
        return layout::message(StatusCode::BAD_REQUEST, "Bad request", &format!("`{}` is not a number of participants.", f.participants));
    };
    let version = Some(f.version.trim()).filter(|v| !v.is_empty());
    match api::create_session(&state, &who, &f.game, version, n) {
        Ok(session) => Redirect::to(&format!("/admin/sessions/{}", session.code)).into_response(),
        Err(ApiError(status, why)) => layout::message(status, "The session was not created", &why),
    }
}

async fn sessions(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let who = match guard(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return refused,
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
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let https = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
    format!("{}://{host}", if https { "https" } else { "http" })
}

async fn session(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(code): Path<String>) -> Response {
    let who = match guard(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    let info = api::find(&state, &who, &code).and_then(|s| api::session_info(&state, &s));
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
    let Some(who) = auth::who(&state, &headers) else {
        return ApiError(StatusCode::UNAUTHORIZED, "sign in at /admin first".into()).into_response();
    };
    match api::find(&state, &who, &code).and_then(|s| api::session_info(&state, &s)) {
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
    let who = match guard(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return refused,
    };
    let Ok(Query(query)) = query else {
        return layout::message(StatusCode::BAD_REQUEST, "Bad request", "Use ?format=json or ?format=csv.");
    };
    let session = match api::find(&state, &who, &code) {
        Ok(s) => s,
        Err(ApiError(status, why)) => return layout::message(status, "No such session", &why),
    };
    export::respond(&state, &session, &query).await.unwrap_or_else(IntoResponse::into_response)
}

/// `POST /admin/games`: the upload form (multipart, the file in field `archive`).
async fn upload(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let who = match guard_form(&state, &headers) {
        Ok(who) => who,
        Err(refused) => return refused,
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

async fn researchers_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(refused) = guard_operator(&state, &headers, false) {
        return refused;
    }
    let all = state.hosting.accounts.list().unwrap_or_default();
    let rows: Vec<Value> = all
        .iter()
        .map(|r| {
            let q = &r.quotas;
            json!({
                "name": r.name,
                "deadline_ms": q.deadline_ms.map_or(String::new(), |v| v.to_string()),
                "memory_mb": q.memory_mb.map_or(String::new(), |v| v.to_string()),
                "messages_per_second": q.messages_per_second,
                "sessions": q.sessions,
                "stored_bytes": q.stored_bytes,
                "used_bytes": state.hosting.accounts.stored_bytes(&r.name).unwrap_or(0),
            })
        })
        .collect();
    layout::html(StatusCode::OK, "admin_researchers", &json!({ "researchers": rows, "token": null, "added": null }))
}

#[derive(Debug, Deserialize)]
struct ResearcherForm {
    name: String,
    #[serde(default)]
    password: String,
}

async fn add_researcher(State(state): State<Arc<AppState>>, headers: HeaderMap, form: Result<Form<ResearcherForm>, FormRejection>) -> Response {
    if let Err(refused) = guard_operator(&state, &headers, true) {
        return refused;
    }
    let Ok(Form(f)) = form else { return layout::message(StatusCode::BAD_REQUEST, "Bad request", "The form needs a name.") };
    let password = Some(f.password.as_str()).filter(|p| !p.is_empty());
    let added = researchers::add_researcher(&state, f.name.trim(), password, None);
    let added = match added {
        Ok(done) => researchers::durable(&state).await.map(|()| done),
        Err(e) => Err(e),
    };
    match added {
        Ok((r, token)) => layout::html(StatusCode::CREATED, "admin_researchers", &json!({ "researchers": [], "token": token, "added": r.name })),
        Err(ApiError(status, why)) => layout::message(status, "The researcher was not added", &why),
    }
}

/// The quota form: every field a number; an empty deadline or memory means "the game's own".
#[derive(Debug, Deserialize)]
struct QuotaForm {
    deadline_ms: String,
    memory_mb: String,
    messages_per_second: String,
    sessions: String,
    stored_bytes: String,
}

fn parse_quota_form(f: &QuotaForm) -> Result<QuotaPatch, String> {
    fn num<T: std::str::FromStr>(key: &str, text: &str, empty: Option<T>) -> Result<Option<T>, String> {
        match text.trim() {
            "" => Ok(empty),
            t => t.parse().map(Some).map_err(|_| format!("{key}: `{t}` is not a number")),
        }
    }
    Ok(QuotaPatch {
        deadline_ms: num("deadline_ms", &f.deadline_ms, Some(0))?,
        memory_mb: num("memory_mb", &f.memory_mb, Some(0))?,
        messages_per_second: num("messages_per_second", &f.messages_per_second, None)?,
        sessions: num("sessions", &f.sessions, None)?,
        stored_bytes: num("stored_bytes", &f.stored_bytes, None)?,
    })
}

async fn set_quotas(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    form: Result<Form<QuotaForm>, FormRejection>,
) -> Response {
    if let Err(refused) = guard_operator(&state, &headers, true) {
        return refused;
    }
    let Ok(Form(f)) = form else { return layout::message(StatusCode::BAD_REQUEST, "Bad request", "The form needs every quota field.") };
    let result = parse_quota_form(&f).map_err(|why| ApiError(StatusCode::BAD_REQUEST, why)).and_then(|p| researchers::set_quotas(&state, &name, &p));
    let result = match result {
        Ok(r) => researchers::durable(&state).await.map(|()| r),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Redirect::to("/admin/researchers").into_response(),
        Err(ApiError(status, why)) => layout::message(status, "The quotas were not changed", &why),
    }
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
