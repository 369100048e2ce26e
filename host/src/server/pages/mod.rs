//! A participant's pages.
//!
//! - `participant`: `/p/{participant}` — the current page, its form, the position polled by
//!   wait pages; page moves go through [`crate::server::flow`].
//! - `room`: `/room/{name}` — a room's link: waiting, seating arrivals and labels; and the
//!   completion redirect of a finished participant.
//! - `layout`: the host's HTML (`host/templates/`): the page around a game's template, message
//!   pages, the admin pages.
//! - `assets`: `/static/live.js`.

pub(crate) mod assets;
pub(crate) mod layout;
pub(crate) mod participant;
pub(crate) mod room;
