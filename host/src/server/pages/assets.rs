//! Static assets served by the host.

use axum::http::header;
use axum::response::IntoResponse;

/// The live-page client: `liveSend`, `liveRecv`, reconnect with resume.
pub(crate) const LIVE_JS: &str = include_str!("../../../static/live.js");

/// `GET /static/live.js`.
pub(crate) async fn live_js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], LIVE_JS)
}
