//! `stoa serve`: the HTTP and WebSocket server.
//!
//! - [`state`]: `AppState` — games, store, group hub, admin token, monitor, config.
//! - `live`: the `/live/{participant}` WebSocket: checks frames, forwards calls, writes frames.
//! - `group_actor`: one task per active group; serializes its calls, commits durably, routes.
//! - `participant`: `/p/{participant}` pages — rendering and form submission.
//! - `flow`: page moves — the sequence, rounds, wait pages, restart-proof timeouts.
//! - `layout`: the host page around a game's template (`host/templates/`).
//! - `api`: `/api/sessions` — create, inspect (admin token); `export`: CSV and JSON export.
//! - `admin`: `/admin` pages — games, sessions, links, live monitor, export; `auth`: the
//!   admin token, its cookie and the origin check.
//! - `hosting`: shared hosting — who a request is, researchers' loaded games, live quotas;
//!   `researchers`: `/api/games`, `/api/researchers`, `/api/me`.
//! - `assets`: `/static/live.js`.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;

pub(crate) mod admin;
pub(crate) mod api;
pub(crate) mod assets;
pub(crate) mod auth;
pub(crate) mod export;
pub(crate) mod flow;
pub(crate) mod group_actor;
pub mod hosting;
pub(crate) mod layout;
pub(crate) mod live;
pub(crate) mod participant;
pub(crate) mod researchers;
pub mod state;

pub use live::check_frame;
pub use state::{AppState, ServerConfig};

/// The whole application; tests call it with their own state.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/live/{participant}", get(live::socket))
        .route("/static/live.js", get(assets::live_js))
        .merge(participant::routes())
        .merge(api::routes())
        .merge(admin::routes())
        .merge(researchers::routes())
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then waits for open requests and
/// flushes the store, so nothing acknowledged is lost.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    participant::start_timers(&state);
    group_actor::GroupHub::start_idle_sweep(Arc::downgrade(&state));
    // Live frames are small and answered at once: no Nagle delay waiting for an ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app(state.clone())).with_graceful_shutdown(shutdown).await?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.write_back_all().and_then(|()| store.wait_durable()))
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)
}
