//! What a load run is asked to do ([`Config`]): whom it drives ([`Target`]), how it sends
//! ([`Mode`]), its bounds; and the socket settings of the client and the echo server.

use std::time::Duration;

use serde::Serialize;

/// Who is driven.
#[derive(Debug, Clone)]
pub enum Target {
    /// Create a session of `game` with `participants` participants (API, admin token).
    NewSession { token: String, game: String, participants: u32 },
    /// These participants of an existing session.
    Codes(Vec<String>),
    /// A bare echo server (`stoa echo`): `participants` sockets to any path.
    Echo { participants: u32 },
}

impl Target {
    /// How many sockets the run opens.
    pub fn participants(&self) -> u32 {
        match self {
            Target::Codes(c) => c.len() as u32,
            Target::NewSession { participants, .. } | Target::Echo { participants } => *participants,
        }
    }
}

/// How messages are sent.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Each participant keeps this many messages in flight.
    Saturation { window: u32 },
    /// Messages per second over all participants, on a fixed schedule.
    Rate { per_second: f64 },
    /// Connect, stay silent this long, disconnect.
    Idle { hold_seconds: f64 },
}

/// A load run.
#[derive(Debug, Clone)]
pub struct Config {
    /// `http://host:port` (or `ws://`) of the server.
    pub url: String,
    pub target: Target,
    pub mode: Mode,
    /// The payload template; `{n}` becomes the message's number.
    pub payload: String,
    /// Most messages sent in all.
    pub messages: u64,
    /// Longest time messages are sent after the warm-up.
    pub duration: Duration,
    /// Sending time before the measured part: the same load, reported apart.
    pub warmup: Duration,
    /// Longest wait for replies after the last send.
    pub drain: Duration,
    /// Hosts other than loopback the user allows.
    pub allow_hosts: Vec<String>,
    /// The server's process, for its CPU time and memory (same machine only).
    pub server_pid: Option<u32>,
    /// Print progress to stderr every second.
    pub progress: bool,
}

/// Socket settings of the client and the echo server: 4 KiB read buffers, as `stoa serve`
/// (tungstenite's default of 128 KiB each would dominate memory at 10,000 sockets).
pub(super) fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096)
}
