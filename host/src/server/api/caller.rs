//! Who calls the API: the bearer token's owner, or a 401; the operator alone, or a 403.

use axum::http::{HeaderMap, StatusCode};

use crate::server::api::error::ApiError;
use crate::server::auth;
use crate::server::state::AppState;
use crate::server::who::Who;

/// Who sent the request (bearer token: the operator's or a researcher's), or a 401.
pub(crate) fn caller(state: &AppState, headers: &HeaderMap) -> Result<Who, ApiError> {
    auth::bearer_who(state, headers)
        .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "missing or wrong token: send `Authorization: Bearer <admin or researcher token>`".into()))
}

/// The operator, or a 403.
pub(crate) fn operator(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match caller(state, headers)? {
        Who::Operator => Ok(()),
        Who::Researcher(_) => Err(ApiError(StatusCode::FORBIDDEN, "only the operator (the admin token) may manage researchers".into())),
    }
}
