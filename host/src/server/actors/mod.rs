//! The group actors: one per active group, running its live calls one after another on a
//! few runner threads and routing their messages once durable. The live sockets
//! (`server::live`) send them commands and write the frames they queue.
//!
//! - `hub`: [`GroupHub`], the actors by group, forgotten when idle.
//! - `actor`: one group's calls, one after another, routed once durable.
//! - `runners`: the few threads that run the actors with work.
//! - `subscription`: a socket's place among its group's subscribers, left when dropped.
//! - `frame`: a frame to a client — a message or an error, known by its kind.

pub(crate) mod actor;
pub(crate) mod frame;
pub(crate) mod hub;
pub(crate) mod runners;
pub(crate) mod subscription;

#[cfg(test)]
mod tests;

pub(crate) use hub::GroupHub;
