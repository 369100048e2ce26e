//! `/p/{participant}`: a participant's pages.
//!
//! - `GET` renders the current page: the game's template (`vars-for-template` + fields) in the
//!   host layout, with live.js on live pages, a countdown on timed pages, a poll on wait pages.
//!   A page past its deadline is left first (the timer may not have fired yet).
//! - `POST` submits the page's form (`application/x-www-form-urlencoded`): every field but the
//!   host's own `stoa_*` ones becomes a JSON object of strings (a repeated name keeps its last
//!   value) for `error-message`. A refusal shows the page again with the text; else the
//!   participant moves on. The form names its page and round (`stoa_page`, `stoa_round`): a
//!   submit for a page the participant has left (a double submit, a late timeout) moves nobody.
//!   Either way the answer is a 303 to `GET /p/{participant}`.
//!   A finished participant's `GET` is a `302` to the session's `completion_url`, if it has
//!   one (`pages::room`).
//! - `GET /p/{participant}/position`: `{"round", "page", "finished"}`, polled by wait pages.
//!
//! Every answer carries [`layout::SANDBOX`]: a page runs a researcher's template and scripts, which
//! must not act with the rights of whoever opens it (the operator's admin cookie goes with
//! every same-origin request). Sandboxed, a page has an opaque origin: its scripts can still
//! open the live socket, submit the form and poll the position (which allows any origin), but
//! a request to `/admin` or `/api` goes without the cookie and its answer cannot be read.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value};

use crate::game::forms::FormState;
use crate::game::{Game, Seat};
use crate::manifest::PageKind;
use crate::server::flow::{Leave, MoveError};
use crate::server::live::check::take_token;
use crate::server::pages::layout::{self, PageView};
use crate::server::state::AppState;
use crate::session::{current_page, deadline, finished, form, on_wait_page};
use crate::store::{Participant, Session, StoreError, now_ms};

/// The participant's routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/p/{participant}", get(show).post(submit))
        .route("/p/{participant}/position", get(position))
        .layer(axum::middleware::map_response(sandboxed))
}

async fn sandboxed(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(layout::SANDBOX));
    response
}

/// A timeout submitted by the page's countdown counts if it is at most this early by the
/// server's clock (the page computed its deadline from a value the server sent).
const TIMEOUT_SLACK_MS: u64 = 1000;

/// Why a participant page cannot be shown; answered as an HTML page.
#[derive(Debug)]
enum PageError {
    NotFound,
    Unavailable(String),
    BadRequest(String),
    Internal(String),
}

impl From<MoveError> for PageError {
    fn from(e: MoveError) -> Self {
        match e {
            MoveError::Store(e) => e.into(),
            MoveError::Hook(why) => PageError::Internal(format!("The page could not be left: {why}")),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Halted(why) => PageError::Unavailable(why),
            other => PageError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound => {
                layout::message(StatusCode::NOT_FOUND, "Page not found", "There is no participant with this link. Check the link you were given.")
            }
            PageError::Unavailable(why) => layout::message(StatusCode::SERVICE_UNAVAILABLE, "Not available", &why),
            PageError::BadRequest(why) => layout::message(StatusCode::BAD_REQUEST, "Bad request", &why),
            PageError::Internal(why) => {
                tracing::error!("participant page failed: {why}");
                layout::message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", &why)
            }
        }
    }
}

/// A participant with their session and game, positioned: an overdue page left, a complete
/// wait page released.
struct Current {
    p: Participant,
    session: Session,
    game: Arc<Game>,
}

async fn current(state: &Arc<AppState>, code: &str) -> Result<Current, PageError> {
    let p = state.store.participant(code)?.ok_or(PageError::NotFound)?;
    let session = state.store.session(&p.session)?.ok_or(PageError::NotFound)?;
    let game = state
        .game(&session.game)
        .ok_or_else(|| PageError::Unavailable(format!("The game `{}` of this session is not running on this server.", session.game)))?;
    if deadline(&p, &game.manifest).is_some_and(|d| now_ms() >= d) {
        state.flow.advance(&game, &session, &p, Leave::TimedOut(Vec::new())).await?;
    } else if on_wait_page(&p, &game.manifest) {
        state.flow.release_wait_page(&game, &session, &p).await?;
    } else {
        return Ok(Current { p, session, game });
    }
    let p = state.store.participant(code)?.ok_or(PageError::NotFound)?;
    Ok(Current { p, session, game })
}

async fn show(State(state): State<Arc<AppState>>, Path(code): Path<String>) -> Response {
    match current(&state, &code).await {
        Ok(mut at) => {
            if finished(&at.p, &at.game.manifest)
                && let Some(to) = super::room::completion_target(&state, &at.p.code, &at.session)
            {
                return super::room::found(&to);
            }
            // The first view of a page starts its timeout.
            match state.flow.viewed(&at.game, &at.session, &at.p).await {
                Ok(p) => at.p = p,
                Err(e) => return PageError::from(e).into_response(),
            }
            // A render starts an instance: it takes one of the participant's rate tokens.
            if let Err(reason) = take_token(&state, &at.p.code) {
                return layout::message(StatusCode::TOO_MANY_REQUESTS, "Too many requests", &reason);
            }
            render(&state, &at, None, StatusCode::OK).await.unwrap_or_else(IntoResponse::into_response)
        }
        Err(e) => e.into_response(),
    }
}

/// The current page in the layout, with `error` in its error box.
async fn render(state: &Arc<AppState>, at: &Current, error: Option<String>, status: StatusCode) -> Result<Response, PageError> {
    render_with(state, at, error, None, status).await
}

/// [`render`] showing a refused submission's `form` again.
async fn render_with(
    state: &Arc<AppState>,
    at: &Current,
    error: Option<String>,
    form: Option<FormState>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let manifest = &at.game.manifest;
    let Some(page) = current_page(&at.p, manifest) else {
        return Ok(layout::message(StatusCode::OK, "You have finished", "Thank you for taking part. You can close this page."));
    };
    let (game, store, p, name) = (at.game.clone(), state.store.clone(), at.p.clone(), page.name.clone());
    let players = at.session.players_per_group;
    let body = tokio::task::spawn_blocking(move || {
        let seat = Seat { group: &p.group_key(), players, page: &name, id_in_group: p.id_in_group };
        crate::game::render::render_form(&mut None, &game, &store, seat, &p.code, form.as_ref())
    })
    .await
    .map_err(|e| PageError::Internal(format!("page task failed: {e}")))?
    .map_err(|e| PageError::Internal(format!("the game could not show page `{}`: {e}", page.name)))?;
    let view = PageView {
        participant: at.p.code.clone(),
        page: page.name.clone(),
        round: at.p.round,
        num_rounds: manifest.num_rounds,
        body,
        error,
        live: page.live,
        wait: page.kind == PageKind::Wait,
        timeout_ms: deadline(&at.p, manifest).map(|d| d.saturating_sub(now_ms()).max(1)),
        history: page.history,
    };
    Ok(layout::html(status, "page", &view))
}

/// The submitted form: the host's fields and the game's values.
struct Submission {
    page: Option<String>,
    round: Option<u32>,
    timeout: bool,
    values: Map<String, Value>,
}

fn split(fields: Vec<(String, String)>) -> Submission {
    let mut s = Submission { page: None, round: None, timeout: false, values: Map::new() };
    for (name, value) in fields {
        match name.as_str() {
            "stoa_page" => s.page = Some(value),
            "stoa_round" => s.round = value.parse().ok(),
            "stoa_timeout" => s.timeout = value == "1",
            _ if name.starts_with("stoa_") => {}
            _ => {
                s.values.insert(name, Value::String(value));
            }
        }
    }
    s
}

async fn submit(State(state): State<Arc<AppState>>, Path(code): Path<String>, form: Result<Form<Vec<(String, String)>>, FormRejection>) -> Response {
    match try_submit(&state, &code, form).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn try_submit(state: &Arc<AppState>, code: &str, form: Result<Form<Vec<(String, String)>>, FormRejection>) -> Result<Response, PageError> {
    let at = current(state, code).await?;
    let Form(fields) = form.map_err(|e| PageError::BadRequest(format!("The form could not be read: {e}")))?;
    let sub = split(fields);
    let back = Redirect::to(&format!("/p/{code}")).into_response();
    let Some(page) = current_page(&at.p, &at.game.manifest) else { return Ok(back) };
    let (Some(name), Some(round)) = (&sub.page, sub.round) else {
        return Err(PageError::BadRequest("The form does not say which page it submits (stoa_page and stoa_round are missing).".into()));
    };
    // A page left already (double submit, timer), or a wait page, which nobody submits.
    if *name != page.name || round != at.p.round || page.kind == PageKind::Wait {
        return Ok(back);
    }
    let timed_out = sub.timeout && deadline(&at.p, &at.game.manifest).is_some_and(|d| now_ms() + TIMEOUT_SLACK_MS >= d);
    // The form's fields, typed and checked by the host: a bad value shows the page again
    // with the reason beside its field, and the game is not called.
    let typed = match form::parse(&at.game.manifest, page, &sub.values, timed_out) {
        Ok(typed) => typed,
        Err(errors) => {
            let state_of_form = FormState { submitted: sub.values, errors };
            let text = "Please correct the errors below.".to_string();
            return render_with(state, &at, Some(text), Some(state_of_form), StatusCode::OK).await;
        }
    };
    if !timed_out {
        let (game, store, p, page_name) = (at.game.clone(), state.store.clone(), at.p.clone(), page.name.clone());
        // A page with a form gives error-message its typed values; one without, what was sent.
        let values = if page.form_fields.is_empty() {
            Value::Object(sub.values.clone()).to_string()
        } else {
            Value::Object(typed.iter().cloned().collect()).to_string()
        };
        let players = at.session.players_per_group;
        let verdict = tokio::task::spawn_blocking(move || {
            let seat = Seat { group: &p.group_key(), players, page: &page_name, id_in_group: p.id_in_group };
            game.error_message(&mut None, &store, seat, &values)
        })
        .await
        .map_err(|e| PageError::Internal(format!("error-message task failed: {e}")))?;
        let again = || Some(FormState { submitted: sub.values.clone(), errors: Default::default() });
        match verdict {
            Ok(None) => {}
            Ok(Some(text)) => return render_with(state, &at, Some(text), again(), StatusCode::OK).await,
            Err(e) => {
                let text = format!("Your answers could not be checked (the game failed: {e}). Please try again.");
                return render_with(state, &at, Some(text), again(), StatusCode::INTERNAL_SERVER_ERROR).await;
            }
        }
    }
    let leave = if timed_out { Leave::TimedOut(typed) } else { Leave::Submitted(typed) };
    match state.flow.advance(&at.game, &at.session, &at.p, leave).await {
        Ok(_) => Ok(back),
        Err(MoveError::Hook(why)) => {
            let form = FormState { submitted: sub.values, errors: Default::default() };
            let text = format!("Your answers could not be saved (the game refused: {why}). Please try again.");
            render_with(state, &at, Some(text), Some(form), StatusCode::OK).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The participant's position, readable from the sandboxed page's opaque origin (the code in
/// the path is the only credential, and the answer carries nothing else).
async fn position(State(state): State<Arc<AppState>>, Path(code): Path<String>) -> Response {
    let mut response = position_of(&state, &code).await;
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

async fn position_of(state: &Arc<AppState>, code: &str) -> Response {
    match current(state, code).await {
        Ok(at) => {
            let page = current_page(&at.p, &at.game.manifest).map(|p| p.name.as_str());
            Json(serde_json::json!({
                "round": at.p.round,
                "page": page.unwrap_or("finished"),
                "finished": finished(&at.p, &at.game.manifest),
            }))
            .into_response()
        }
        Err(PageError::NotFound) => (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "unknown participant" }))).into_response(),
        Err(e) => {
            let status = e.into_response().status();
            (status, Json(serde_json::json!({ "error": "position unavailable" }))).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_fields_are_split_from_the_game_values() {
        let s = split(vec![
            ("stoa_page".into(), "Bid".into()),
            ("stoa_round".into(), "2".into()),
            ("stoa_timeout".into(), "1".into()),
            ("stoa_other".into(), "x".into()),
            ("offer".into(), "1".into()),
            ("offer".into(), "5".into()),
        ]);
        assert_eq!((s.page.as_deref(), s.round, s.timeout), (Some("Bid"), Some(2), true));
        assert_eq!(Value::Object(s.values), serde_json::json!({"offer": "5"}));
    }

    #[test]
    fn a_form_without_inputs_gives_an_empty_object() {
        assert_eq!(Value::Object(split(Vec::new()).values).to_string(), "{}");
    }
}
