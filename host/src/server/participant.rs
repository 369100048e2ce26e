//! Placeholder until the participant routes land.

use std::sync::Arc;

use axum::Router;

use crate::server::state::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
}

/// Schedules page timeouts (placeholder).
pub(crate) fn start_timers(_state: &Arc<AppState>) {}
