//! `stoa serve`: the HTTP and WebSocket server.
//!
//! Handlers on top, what they share below; dependencies point down this list:
//!
//! - `admin/`: `/admin` pages — games, sessions, rooms, links, live monitor, researchers, export.
//! - `api/`: `/api/sessions` (create, inspect, export), `/api/rooms` and the shared-hosting API
//!   (`/api/games`, `/api/researchers`, `/api/me`), errors as `{"error": ...}`.
//! - `pages/`: `/p/{participant}` pages, `/room/{name}` links, the host layout and
//!   `/static/live.js`.
//! - `live/`: the `/live/{participant}` WebSocket — frame checks, forwarding.
//! - `connections`: the accept loop — hyper's HTTP/1 per connection, the connection cap and
//!   the header-read timeout.
//! - `auth`: who a request is — token, cookie — and the same-origin check.
//! - [`state`]: [`AppState`] — games, store, group hub, page flow, monitor, tenants, config.
//! - `actors/`: one actor per active group, run on a few threads, routing once durable.
//! - `flow`: page moves — submits, wait pages, restart-proof timeouts.
//! - `tenants`: researchers' loaded games and live quotas; `sign_ins`: the sign-in lockout;
//!   `who`: the operator or a researcher.
//! - `monitor`: each participant's connections and counts; `rate`: the token bucket.
//!
//! Where a participant goes next is [`crate::session`], which knows no server.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;

pub(crate) mod actors;
pub(crate) mod admin;
pub(crate) mod api;
pub(crate) mod auth;
pub(crate) mod connections;
pub(crate) mod flow;
pub(crate) mod live;
pub(crate) mod monitor;
pub(crate) mod pages;
pub(crate) mod rate;
pub(crate) mod sign_ins;
pub mod state;
pub(crate) mod tenants;
pub(crate) mod who;

pub use live::check_frame;
pub use state::{AppState, ServerConfig};
pub use tenants::Tenants;

/// The whole application; tests call it with their own state.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/live/{participant}", get(live::socket))
        .route("/static/live.js", get(pages::assets::live_js))
        .merge(pages::participant::routes())
        .merge(pages::room::routes())
        .merge(api::sessions::routes())
        .merge(api::rooms::routes())
        .merge(admin::routes())
        .merge(api::researchers::routes())
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then waits for open requests and
/// flushes the store, so nothing acknowledged is lost.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Weak, like the timers: a pending scan does not keep a stopped server's state alive.
    let games = Arc::downgrade(&state);
    state.flow.start_timers(move |key| games.upgrade()?.game(key));
    state.hub.start_idle_sweep();
    connections::serve(listener, app(state.clone()), &state.config, shutdown).await?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.write_back_all().and_then(|()| store.wait_durable()))
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)
}
