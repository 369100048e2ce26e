//! Stoa: a server for live multiplayer experiments whose games are sandboxed WebAssembly
//! components.
//!
//! # Layout
//!
//! - [`manifest`]: `game.toml` — fields, pages, limits; refused with file, key and reason.
//! - [`limits`]: per-call sandbox limits, their defaults and the host maxima.
//! - [`runtime`]: the shared wasmtime engine, linker, epoch ticker and compiled-component cache.
//! - [`game`]: a loaded game and the calls into it (fresh instance per call).
//! - `call`: one call's store data — WASI granting nothing, the field overlay, `fields` and
//!   `bot-driver` host implementations.
//! - [`store`]: the sled database — sessions, participants, fields.
//! - [`live_log`]: the per-group live log and the atomic commit of a live call.
//! - `group_commit`: one fsync shared by concurrent calls.
//! - `journal`: where a live call becomes durable — one writer thread, one fsync per batch,
//!   callbacks once on disk.
//! - [`pages`]: template data and rendering of a page.
//! - [`bots`]: headless bot runs (`stoa bots`).
//! - [`scaffold`]: `stoa new` — a new game package from the templates in `host/scaffold/`.
//! - `bindings`: the one `bindgen!` of `wit/game.wit`.
//! - [`load`]: `stoa load` — the load test client — and `stoa echo`, its bare ceiling.
//! - [`server`]: `stoa serve` — pages, live WebSocket, group actors, API, admin.
//! - [`accounts`], [`upload`]: researcher accounts, quotas and uploaded game packages (shared
//!   hosting).
//! - `guest_output`: a game's stdout/stderr, capped, to the host log.

/// The allocator of everything that links Stoa (the `stoa` command, tests, benchmarks):
/// mimalloc, because the hot path allocates and frees many small buffers on several threads
/// (JSON texts, sled nodes, wasmtime stores), where it measured faster than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod bots;
pub mod cli;
pub mod engine;
pub mod game;
pub mod hosting;
mod journal;
pub mod live;
pub mod load;
pub mod server;
pub mod store;

pub use engine::{Runtime, RuntimeConfig};
pub use game::manifest::Manifest;
pub use game::{CallError, Committed, Game, Instance, LoadError};
pub use live::{Group, Routed};
pub use store::{GroupKey, Participant, Session, Store};
