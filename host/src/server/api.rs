//! Placeholder until the api routes land.

use std::sync::Arc;

use axum::Router;

use crate::server::state::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
