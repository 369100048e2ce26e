//! `/admin`: the experimenter's pages — games, sessions, participant links, live monitor and
//! exports. HTML from the host templates (`layout`).
//!
//! Signing in: `GET /admin?token=T` (the link `stoa serve` prints; a researcher's token
//! works too) shows a "Sign in" button posting the token; it, or the form on the 401 page
//! (`POST /admin/login`: a token, or a researcher's name and password), sets the
//! `stoa_admin` cookie and redirects to `/admin`. Every admin page takes the cookie or a
//! bearer token; forms, the sign-in one too, also pass the same-origin check (`auth`).
//! A researcher sees only their own games and sessions (another's session is a 404).
//!
//! - `GET /admin`: games, the upload form of a researcher (`POST /admin/games`, multipart
//!   field `archive` → 303 to `/admin`) and the "create session" form → `POST
//!   /admin/sessions` → 303 to `/admin/sessions/{code}`;
//! - `GET /admin/researchers` (operator): researchers and their quotas, the "add researcher"
//!   form (`POST /admin/researchers` → a page showing the new token once) and a quota form
//!   per researcher (`POST /admin/researchers/{name}/quotas`);
//! - `GET /admin/rooms`: the rooms and the "create room" form (`POST /admin/rooms`, labels
//!   pasted one per line → 303 to `/admin/rooms/{name}`); `GET /admin/rooms/{name}`: its link,
//!   its labels' links, its open session and `POST /admin/rooms/{name}/close`;
//! - `GET /admin/sessions`: every session;
//! - `GET /admin/sessions/{code}`: absolute participant links, the monitor table (refreshed
//!   every 2 s from `GET /admin/sessions/{code}/monitor`, the API's session info) and export
//!   links (`GET /admin/sessions/{code}/export`, as the API's export).
//!
//! - `access`: the sign-in page and form, and the guards of every page (signed in, same
//!   origin, the operator).
//! - `home`: `/admin` and the upload form; `sessions`: the session pages; `rooms`: the room
//!   pages; `researchers`: the operator's researcher pages.

use std::sync::Arc;

use axum::Router;

use crate::server::state::AppState;

mod access;
mod home;
mod researchers;
mod rooms;
mod sessions;

/// The admin routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().merge(access::routes()).merge(home::routes()).merge(sessions::routes()).merge(rooms::routes()).merge(researchers::routes())
}
