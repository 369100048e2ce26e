//! The experimenter's JSON API, behind `Authorization: Bearer <token>` (the admin token or a
//! researcher's). Every error is `{"error": "..."}`.
//!
//! - `sessions`: `/api/sessions` — create, list, inspect; `export`: a session's data as JSON
//!   or CSV; `bundle`: its export bundle for `stoa replay`; `provenance`: the provenance
//!   block both show; `advance`: the monitor's advance of the slowest participants; `payments`.
//! - `rooms`: `/api/rooms` — create, list, inspect, close a room's session.
//! - `researchers`: shared hosting — `/api/games`, `/api/researchers`, `/api/me`.
//! - `caller`: who the token is (401, 403); `error`: [`ApiError`](error::ApiError).

pub(crate) mod advance;
pub(crate) mod bundle;
pub(crate) mod caller;
pub(crate) mod error;
pub(crate) mod export;
pub(crate) mod payments;
pub(crate) mod provenance;
pub(crate) mod researchers;
pub(crate) mod rooms;
pub(crate) mod sessions;
