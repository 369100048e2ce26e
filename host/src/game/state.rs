//! `CallState`: the data of one call's wasmtime store — the WASI context (granting nothing),
//! the group's fields as this call sees them, and what the call is allowed to do — and
//! [`Instance`], a game instance kept with its store.
//!
//! The data holds the game's manifest and limits, not the `Game` itself: a `Game` holds the
//! component pre-instantiated for this data. A bot run, which calls back into its game,
//! reaches it through [`BotTarget`].

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::value::RawValue;
use wasmtime::Store as WasmStore;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::engine::limits::Limits;
use crate::engine::share::Held;
use crate::game::bindings::{v0_1, v0_2};
use crate::game::error::CallError;
use crate::game::guest_output::GuestOutput;
use crate::game::world::Exports;
use crate::live::{Group, Routed};
use crate::manifest::Manifest;
use crate::store::{GroupKey, Store};

/// A game instance with its store, kept by a caller between calls of one group (never
/// shared across groups or sessions). See [`crate::game::Game::live_call_in`].
pub struct Instance {
    pub(crate) wasm_store: WasmStore<CallState>,
    pub(crate) exports: Exports,
    /// Its slot in its owner's share of the pool, given back with it.
    pub(crate) _held: Held,
}

impl Instance {
    /// The group this instance serves.
    pub fn group(&self) -> &GroupKey {
        &self.wasm_store.data().group
    }
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("group", self.group()).finish_non_exhaustive()
    }
}

/// What the running export may do.
pub(crate) enum Mode {
    /// `live-method`: fields are writable.
    Live,
    /// `error-message`, `vars-for-template`: fields are read-only.
    ReadOnly(&'static str),
    /// `call-live-method`: read-only, and `bot-driver` makes nested live calls on `group`.
    Bot(Box<BotEnv>),
    /// `creating-session` for one round: the whole round's fields and the session's are
    /// writable, players and participants by their position in the session.
    Creating(Box<Creation>),
}

/// The round a `creating-session` call runs for, and what the earlier rounds' calls wrote
/// (the session is stored only once every round's call has run).
pub(crate) struct Creation {
    pub(crate) round: u32,
    /// Who sits where in the round (no group yet when groups form by arrival).
    pub(crate) seating: std::sync::Arc<crate::store::RoundSeating>,
    /// The earlier rounds' writes, by key.
    pub(crate) earlier: HashMap<Vec<u8>, Box<RawValue>>,
}

/// The state of a bot run: the group's log position and what its nested calls did.
pub(crate) struct BotEnv {
    /// The game the nested calls run on.
    pub(crate) game: Arc<dyn BotTarget>,
    pub(crate) group: Group,
    pub(crate) page: String,
    pub(crate) calls: Vec<BotCall>,
    /// The group's warm instance for nested live calls (games with `warm_instances`).
    pub(crate) warm: Option<Instance>,
}

/// What a bot run calls back into: its game. A trait object, so that this data need not
/// name the `Game` that holds the component pre-instantiated for it.
pub(crate) trait BotTarget: Send + Sync {
    /// A live call by player `id_in_group` on `group`'s `page`, on the instance kept in
    /// `warm`: the messages it routed.
    fn live_method(
        &self,
        warm: &mut Option<Instance>,
        store: &Store,
        group: &mut Group,
        page: &str,
        id_in_group: u32,
        payload: &str,
    ) -> Result<Vec<Routed>, CallError>;
}

/// One nested live call made by a bot.
#[derive(Debug, Clone)]
pub struct BotCall {
    /// The player the bot acted as.
    pub player: u32,
    /// The payload sent.
    pub payload: String,
    /// What was routed, or why the call failed.
    pub result: Result<Vec<Routed>, CallError>,
}

/// The data of one call's store.
pub(crate) struct CallState {
    /// Built on the game's first use of WASI: most calls of a compiled game never use it (a
    /// Rust game that does not print), and building one is a tenth of a fresh instance's cost.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
    /// When the running call's deadline falls on the wall clock: no wait inside it (a sleep)
    /// goes past it (see [`crate::game::poll`]).
    pub(crate) wait_until: std::time::Instant,
    /// The game's declared fields, and its name for the log.
    pub(crate) manifest: Arc<Manifest>,
    /// The limits the game's calls run under.
    pub(crate) limits: Limits,
    pub(crate) store: Store,
    pub(crate) group: GroupKey,
    pub(crate) players: u32,
    pub(crate) mode: Mode,
    /// This call's field writes, by sled key.
    pub(crate) writes: HashMap<Vec<u8>, Write>,
    /// Set when the game tried to grow its memories past its cap (the total it asked for).
    pub(crate) memory_refused: Option<usize>,
    /// Bytes of all the instance's linear memories together (a component may have several).
    memory_total: usize,
    /// Elements of all the instance's tables together.
    table_total: usize,
    /// A refused host-function use was logged in this call (one line per call, so a game
    /// cannot flood the log by failing a million writes).
    pub(crate) refusal_logged: bool,
    pub(crate) stdout: GuestOutput,
    pub(crate) stderr: GuestOutput,
    /// The clock and random the game sees, set for each call ([`crate::game::determinism`]).
    pub(crate) determinism: crate::game::determinism::Determinism,
}

/// One field write: whose field, its name and its JSON value, checked once when written and
/// committed as it is.
pub(crate) struct Write {
    pub(crate) owner: Owner,
    pub(crate) name: String,
    pub(crate) value: Box<RawValue>,
}

/// Whose field a call reads or writes. In `creating-session`, players and participants are
/// named by their position in the session, elsewhere by their id in the calling group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The calling group.
    Group,
    /// A player of the group.
    Player(u32),
    /// A player's participant.
    Participant(u32),
    /// The session.
    Session,
    /// Group `n` of the round (creating-session only).
    GroupIn(u32),
}

/// WASI resources (streams, pollables) one instance may hold at once: a game needs a few; the
/// host keeps each in its own memory, outside the instance's memory cap.
pub(crate) const MAX_RESOURCES: usize = 10_000;

/// Function-table elements of one instance, all its tables together.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 1_000_000;

/// Guest stdout/stderr kept per call before it goes to the host log.
const OUTPUT_CAP: usize = 16 << 10;

impl CallState {
    /// The data of a fresh store for `group`'s calls.
    pub(crate) fn new(manifest: Arc<Manifest>, limits: Limits, store: Store, group: GroupKey, players: u32, mode: Mode) -> CallState {
        CallState {
            wasi: None,
            table: {
                let mut table = ResourceTable::new();
                table.set_max_capacity(MAX_RESOURCES);
                table
            },
            wait_until: std::time::Instant::now(),
            manifest,
            limits,
            store,
            group,
            players,
            mode,
            writes: HashMap::new(),
            memory_refused: None,
            memory_total: 0,
            table_total: 0,
            refusal_logged: false,
            stdout: GuestOutput::new(OUTPUT_CAP),
            stderr: GuestOutput::new(OUTPUT_CAP),
            determinism: Default::default(),
        }
    }

    /// Logs a host function the game used wrongly (the game sees `reason` as an `err`), once per call.
    pub(crate) fn refused(&mut self, what: &str, reason: String) -> String {
        if std::mem::replace(&mut self.refusal_logged, true) {
            return reason;
        }
        let g = &self.group;
        tracing::info!(target: "stoa::game", game = %self.manifest.name, session = %g.session, round = g.round, group = g.group, "{what} refused: {reason}");
        reason
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (stdout, stderr, d) = (&self.stdout, &self.stderr, &self.determinism);
        // No preopened dirs, no env, no args, sockets denied: the game gets nothing. Its
        // clocks and random are the call's (reproducible from its log entry).
        let ctx = self.wasi.get_or_insert_with(|| {
            let mut b = WasiCtx::builder();
            b.stdout(stdout.clone()).stderr(stderr.clone());
            b.wall_clock(d.clock()).monotonic_clock(d.clock()).secure_random(d.random(0)).insecure_random(d.random(1));
            b.insecure_random_seed(d.seed_u128());
            b.build()
        });
        WasiCtxView { ctx, table: &mut self.table }
    }
}

impl CallState {
    /// The call's resources and deadline, for the bounded `wasi:io/poll`.
    pub(crate) fn waits(&mut self) -> crate::game::poll::Waits<'_> {
        crate::game::poll::Waits { table: &mut self.table, until: self.wait_until }
    }
}

impl wasmtime::ResourceLimiter for CallState {
    /// The cap is on all of an instance's memories together: wasmtime asks per memory (a new
    /// memory grows from 0), so the total is the sum of what each grow added.
    fn memory_growing(&mut self, current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory_total.saturating_add(desired.saturating_sub(current));
        if total as u64 > self.limits.memory_bytes {
            self.memory_refused = Some(total);
            return Ok(false);
        }
        self.memory_total = total;
        Ok(true)
    }

    /// Likewise for all of an instance's tables together.
    fn table_growing(&mut self, current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.table_total.saturating_add(desired.saturating_sub(current));
        if total > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        self.table_total = total;
        Ok(true)
    }
}

/// The `types` interfaces declare types only.
impl v0_1::stoa::game::types::Host for CallState {}
impl v0_2::stoa::game::types::Host for CallState {}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use wasmtime::ResourceLimiter;

    use super::*;

    fn state(memory_bytes: u64) -> CallState {
        let manifest = Manifest::parse(
            Path::new("game.toml"),
            "name = \"x\"\nplayers_per_group = 1\ncomponent = \"x.wasm\"\n[[page]]\nname = \"P\"\ntemplate = \"P.hbs\"\n",
        )
        .expect("manifest");
        let limits = Limits { memory_bytes, ..Limits::DEFAULT };
        let key = GroupKey { session: "s".into(), round: 1, group: 1 };
        CallState::new(Arc::new(manifest), limits, Store::temporary().expect("store"), key, 1, Mode::ReadOnly("test"))
    }

    #[test]
    fn the_memory_cap_is_on_all_of_an_instances_memories_together() {
        let mut s = state(100 << 20);
        // Two memories of 40 MiB each fit; a third of 40 MiB does not, though each is under the cap.
        assert!(s.memory_growing(0, 40 << 20, None).expect("grow"));
        assert!(s.memory_growing(0, 40 << 20, None).expect("grow"));
        assert!(!s.memory_growing(0, 40 << 20, None).expect("grow"));
        assert_eq!(s.memory_refused, Some(120 << 20));
        // Growing one of them by what is left still fits; one more page does not.
        assert!(s.memory_growing(40 << 20, 60 << 20, None).expect("grow"));
        assert!(!s.memory_growing(60 << 20, (60 << 20) + 65536, None).expect("grow"));
    }

    #[test]
    fn the_table_cap_is_on_all_of_an_instances_tables_together() {
        let mut s = state(100 << 20);
        assert!(s.table_growing(0, MAX_TABLE_ELEMENTS / 2, None).expect("grow"));
        assert!(s.table_growing(0, MAX_TABLE_ELEMENTS / 2, None).expect("grow"));
        assert!(!s.table_growing(0, 1, None).expect("grow"));
    }
}
