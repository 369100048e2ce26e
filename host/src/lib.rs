//! Stoa: a server for live multiplayer experiments whose games are sandboxed WebAssembly
//! components.
//!
//! # Layout
//!
//! A live message goes socket → group actor → game → live log → journal; the tree follows it,
//! top to bottom. Dependencies point down only: a module never imports one listed above it.
//!
//! - `cli` (with `main.rs`): the `stoa` command, one file per subcommand.
//! - [`server`]: `stoa serve` — participant pages, the live WebSocket, group actors and their
//!   runners, the API, the admin pages, tenants and rate limits.
//! - [`bots`]: headless bot runs (`stoa bots`): the page sequence walked by the game's bots.
//! - [`load`]: `stoa load`, the load-test client, and `stoa echo`, its ceilings.
//! - [`replay`]: `stoa replay` and export bundles — a session's log re-run through its
//!   game in a scratch store, every call compared with its entry.
//! - [`session`]: the page sequence of a participant, pure: current page, step, deadlines,
//!   and where a finished participant goes (the completion URL).
//! - [`hosting`]: researchers' accounts and quotas, and the game packages they upload.
//! - [`game`]: a loaded game — its templates, the linker, one file per WIT interface's
//!   host side (`fields`, `bot-driver`, a deadline-bound `wasi:io/poll`) — and the calls into it.
//! - [`store`]: the sled database — sessions, participants, rooms, host settings, shared flushes;
//!   field reads and commits through the live log.
//! - [`live`]: one group's live log and its commit protocol — entries, keys, commit, reads,
//!   write-behind to sled, recovery after a crash.
//! - `journal`: where a live call becomes durable: segments, one writer, checkpoints.
//! - [`manifest`]: `game.toml` — fields, pages, limits; refused naming file, key and reason.
//! - [`engine`]: wasmtime only — the engine, deadlines, the compiled-component cache, limits.
//! - `clock`: the wall clock in milliseconds, for everything that stamps a record.

/// The allocator of everything that links Stoa (the `stoa` command, tests, benchmarks):
/// mimalloc, because the hot path allocates and frees many small buffers on several threads
/// (JSON texts, sled nodes, wasmtime stores), which it serves from per-thread pages where
/// glibc's malloc contends on its arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod bots;
pub mod cli;
mod clock;
pub mod engine;
pub mod game;
pub mod hosting;
mod journal;
pub mod live;
pub mod load;
pub mod manifest;
pub mod replay;
pub mod server;
pub mod session;
pub mod store;

pub use engine::{Runtime, RuntimeConfig};
pub use game::{CallError, Committed, Game, Instance, LoadError};
pub use live::{Group, Routed};
pub use manifest::Manifest;
pub use store::{GroupKey, Participant, Session, Store};
