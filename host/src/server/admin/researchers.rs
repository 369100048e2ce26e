//! The operator's researcher pages: the list with quota forms, adding a researcher, setting
//! quotas.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::hosting::accounts::QuotaPatch;
use crate::server::admin::access::guard_operator;
use crate::server::api::error::ApiError;
use crate::server::api::researchers;
use crate::server::pages::layout;
use crate::server::state::AppState;

/// The researcher pages' routes (the operator's).
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/admin/researchers", get(page).post(add)).route("/admin/researchers/{name}/quotas", post(set_quotas))
}

/// `GET /admin/researchers`: researchers, their quotas and usage.
async fn page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(refused) = guard_operator(&state, &headers, false) {
        return *refused;
    }
    let all = state.tenants.accounts.list().unwrap_or_default();
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
                "used_bytes": state.tenants.accounts.stored_bytes(&r.name).unwrap_or(0),
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

/// `POST /admin/researchers`: adds one; the page shows the new token once.
async fn add(State(state): State<Arc<AppState>>, headers: HeaderMap, form: Result<Form<ResearcherForm>, FormRejection>) -> Response {
    if let Err(refused) = guard_operator(&state, &headers, true) {
        return *refused;
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

/// `POST /admin/researchers/{name}/quotas` → 303 to `/admin/researchers`.
async fn set_quotas(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    form: Result<Form<QuotaForm>, FormRejection>,
) -> Response {
    if let Err(refused) = guard_operator(&state, &headers, true) {
        return *refused;
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
