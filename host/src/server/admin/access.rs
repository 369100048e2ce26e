//! Signing in to the admin pages (the 401 page and its form), and the guards every admin
//! page passes: someone signed in, a form from this site, the operator.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use crate::server::auth;
use crate::server::pages::layout;
use crate::server::sign_ins::Attempt;
use crate::server::state::AppState;
use crate::server::who::Who;

/// `POST /admin/login`.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/admin/login", post(login))
}

/// The 401 page: says why and asks for the token.
pub(super) fn sign_in(message: &str) -> Response {
    layout::html(StatusCode::UNAUTHORIZED, "admin_login", &json!({ "message": message }))
}

/// The page of the sign-in link `/admin?token=T`: a button posting `token` to the sign-in
/// form. Not a cookie at once: another site's link would sign this browser in as whoever
/// that site's token names (login CSRF). The page is not framed (no click is borrowed) and
/// not cached, and its URL is not sent on as a referrer.
pub(super) fn confirm_sign_in(token: &str, who: &Who) -> Response {
    let who = match who {
        Who::Operator => "the operator".to_string(),
        Who::Researcher(r) => format!("researcher `{}`", r.name),
    };
    let mut page = layout::html(StatusCode::OK, "admin_confirm", &json!({ "token": token, "who": who }));
    let headers = page.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static("frame-ancestors 'none'"));
    headers.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    page
}

/// The redirect to `/admin` that sets `who`'s cookie.
fn signed_in(state: &AppState, who: &Who) -> Response {
    let mut response = Redirect::to("/admin").into_response();
    if let Ok(cookie) = auth::set_cookie_for(state, who).parse() {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// A refusal: the page to answer with (boxed: a `Response` is large, and the path that
/// refuses is the rare one).
pub(super) type Refused = Box<Response>;

/// Who is signed in, or the sign-in page.
pub(super) fn guard(state: &AppState, headers: &HeaderMap) -> Result<Who, Refused> {
    auth::who(state, headers)
        .ok_or_else(|| Box::new(sign_in("Sign in with the admin token, or a researcher's token or name and password, to see this page.")))
}

/// Who sent a form, or the refusal of a form from nobody signed in or from another site.
pub(super) fn guard_form(state: &AppState, headers: &HeaderMap) -> Result<Who, Refused> {
    let who = guard(state, headers)?;
    if !auth::same_origin(headers) {
        return Err(Box::new(layout::message(StatusCode::FORBIDDEN, "Refused", "This form was sent from another site.")));
    }
    Ok(who)
}

/// The operator signed in, or a refusal.
pub(super) fn guard_operator(state: &AppState, headers: &HeaderMap, form: bool) -> Result<(), Refused> {
    match if form { guard_form(state, headers)? } else { guard(state, headers)? } {
        Who::Operator => Ok(()),
        Who::Researcher(_) => {
            Err(Box::new(layout::message(StatusCode::FORBIDDEN, "Refused", "Only the operator (the admin token) manages researchers.")))
        }
    }
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

/// `POST /admin/login`: a token, or a researcher's name and password (one check at a
/// time, locked after failures in a row); only from this site's own pages (`same_origin`),
/// so another site cannot sign a browser in as someone else.
async fn login(State(state): State<Arc<AppState>>, headers: HeaderMap, form: Result<Form<LoginForm>, FormRejection>) -> Response {
    if !auth::same_origin(&headers) {
        return layout::message(StatusCode::FORBIDDEN, "Refused", "This form was sent from another site.");
    }
    let Ok(Form(f)) = form else { return sign_in("Give a token, or a researcher's name and password.") };
    let who = if f.token.is_empty() {
        let name = f.name.trim().to_string();
        // A name no account can have is answered at once and never kept.
        if !crate::hosting::accounts::valid_name(&name) {
            return sign_in("That name and password do not match a researcher.");
        }
        let (checker, who, password) = (state.clone(), name.clone(), f.password);
        let check = move || checker.tenants.accounts.check_password(&who, &password).ok().flatten();
        match state.tenants.sign_ins.attempt(&name, check).await {
            Attempt::Checked(found) => found.map(Who::Researcher),
            Attempt::Locked(wait) => {
                let why = format!("Too many failed sign-ins as `{name}` in a row: try again in {wait} s.");
                return layout::html(StatusCode::TOO_MANY_REQUESTS, "admin_login", &json!({ "message": why }));
            }
            Attempt::Busy => {
                let why = "Too many sign-ins at once: try again in a few seconds.";
                return layout::html(StatusCode::TOO_MANY_REQUESTS, "admin_login", &json!({ "message": why }));
            }
        }
    } else {
        auth::token_who(&state, f.token.trim())
    };
    match who {
        Some(who) => signed_in(&state, &who),
        None if f.token.is_empty() => sign_in("That name and password do not match a researcher."),
        None => sign_in("That token is neither this server's admin token nor a researcher's."),
    }
}
