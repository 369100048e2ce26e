//! `stoa load`: a load test of a Stoa server's live channel, and `stoa echo`, its ceiling.
//!
//! The client creates a session through the API (admin token) or takes participant codes,
//! opens every participant's page as a browser would, opens their live WebSockets and sends
//! payloads made from a template: `{n}` in it becomes a counter unique over the run, and a
//! `"seq"` key holding the same number is added to object payloads. Games that echo `seq` in
//! the replies a message causes (the example auctions do) let the client match each send to
//! its sender's reply; latency is from the send (or, at a fixed rate, from the time the send
//! was scheduled, so a stalled server is not hidden by a stalled client) to that reply.
//!
//! - Saturation: every participant keeps `window` messages in flight.
//! - Fixed rate: `rate` messages per second in all, spread evenly over the participants and
//!   over time (open loop).
//! - Idle: participants connect and stay silent for `hold` seconds (memory per connection).
//!
//! Every run is bounded by a message count and a duration, then waits at most `drain` for
//! replies still due; what is still unanswered is counted. A run may start with a warm-up
//! (`warmup`): the same load, whose messages are reported apart ([`WarmUp`]) — a server just
//! started pays once for what its first calls set up, and a steady-state figure should
//! neither hide that nor be set by it. Only loopback hosts are accepted
//! unless the caller names the host in `allow_hosts`.
//!
//! - `config`: what a run is asked to do ([`Config`], [`Target`], [`Mode`]).
//! - `target`: whom a run drives — the host check, the session, the participants' pages.
//! - `http`: the few HTTP requests before the sockets open.
//! - `run`: one run — connect every socket, drive them, gather the [`Report`].
//! - `plan`: what every connection of a run shares; `drive`: one socket through the run;
//!   `pace`: the fixed-rate schedule.
//! - `report`: [`Report`], [`Latency`] and [`describe`]; `process`: the open-file limit, a
//!   process's CPU and memory.
//! - [`ceiling`]: the same load against `stoa echo` children, and the ratios to them.
//! - [`echo`]: the bare echo server.

pub mod ceiling;
mod config;
mod drive;
pub mod echo;
mod http;
mod pace;
mod plan;
mod process;
mod report;
mod run;
mod target;

pub use config::{Config, Mode, Target};
pub use process::{process_cpu_seconds, process_rss_bytes, raise_fd_limit};
pub use report::{Latency, Report, WarmUp, describe};
pub use run::run;
pub use target::checked_addr;
