//! [`ApiError`]: an API failure, answered as `{"error": "..."}` with its status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::hosting::accounts::AccountError;
use crate::store::{RoomError, StoreError};

/// An API failure: its status and the text of `{"error": ...}`.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(why) => ApiError(StatusCode::BAD_REQUEST, why),
            StoreError::Halted(why) => ApiError(StatusCode::SERVICE_UNAVAILABLE, why),
            other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(why) => ApiError(StatusCode::BAD_REQUEST, why),
            AccountError::Exists(why) => ApiError(StatusCode::CONFLICT, why),
            AccountError::NotFound(why) => ApiError(StatusCode::NOT_FOUND, why),
            AccountError::Quota(why) => ApiError(StatusCode::FORBIDDEN, why),
            AccountError::Store(e) => e.into(),
        }
    }
}

impl From<RoomError> for ApiError {
    fn from(e: RoomError) -> Self {
        match e {
            RoomError::Invalid(why) => ApiError(StatusCode::BAD_REQUEST, why),
            RoomError::Exists(why) | RoomError::Busy(why) => ApiError(StatusCode::CONFLICT, why),
            RoomError::NotFound(why) => ApiError(StatusCode::NOT_FOUND, why),
            RoomError::Store(e) => e.into(),
        }
    }
}
