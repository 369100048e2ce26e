//! The live channel: `/live/{participant}`, a participant's WebSocket to their group's actor
//! ([`crate::server::actors`]).
//!
//! - `socket`: upgrades, reads client frames, forwards good ones to the group's actor, writes
//!   the frames queued for the socket.
//! - `check`: the checks of a client frame — rate, quota, size, JSON, the participant's page.

pub(crate) mod check;
pub(crate) mod socket;

pub use check::check_frame;
pub(crate) use socket::socket;
