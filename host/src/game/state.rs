//! `CallState`: the data of one call's wasmtime store — the WASI context (granting nothing),
//! the group's fields as this call sees them, and what the call is allowed to do.
//!
//! Field reads see committed values plus this call's own writes; writes stay in an overlay
//! until [`crate::game::Game::live_call`] commits them with the log entry. Nothing leaves a
//! store whose call failed, so a trap or an `err` rolls back by construction.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::value::RawValue;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::game::bindings::stoa::game::{bot_driver, fields, types};
use crate::game::guest_output::GuestOutput;
use crate::game::manifest::FieldSpec;
use crate::game::{BotCall, Game};
use crate::live::Group;
use crate::store::{GroupKey, Store};

/// What the running export may do.
pub(crate) enum Mode {
    /// `live-method`: fields are writable.
    Live,
    /// `error-message`, `vars-for-template`: fields are read-only.
    ReadOnly(&'static str),
    /// `call-live-method`: read-only, and `bot-driver` makes nested live calls on `group`.
    Bot(Box<BotEnv>),
}

/// The state of a bot run: the group's log position and what its nested calls did.
pub(crate) struct BotEnv {
    pub(crate) group: Group,
    pub(crate) page: String,
    pub(crate) calls: Vec<BotCall>,
    /// The group's warm instance for nested live calls (games with `warm_instances`).
    pub(crate) warm: Option<crate::game::Instance>,
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
    pub(crate) game: Arc<Game>,
    pub(crate) store: Store,
    pub(crate) group: GroupKey,
    pub(crate) players: u32,
    pub(crate) mode: Mode,
    /// This call's field writes, by sled key.
    pub(crate) writes: HashMap<Vec<u8>, Write>,
    /// Set when the game tried to grow a memory past its cap (the size it asked for).
    pub(crate) memory_refused: Option<usize>,
    /// A refused host-function use was logged in this call (one line per call, so a game
    /// cannot flood the log by failing a million writes).
    pub(crate) refusal_logged: bool,
    pub(crate) stdout: GuestOutput,
    pub(crate) stderr: GuestOutput,
}

/// One field write: which field (player None = group field) and its JSON value, checked once
/// when written and committed as it is.
pub(crate) struct Write {
    pub(crate) player: Option<u32>,
    pub(crate) name: String,
    pub(crate) value: Box<RawValue>,
}

/// Guest stdout/stderr kept per call before it goes to the host log.
const OUTPUT_CAP: usize = 16 << 10;

impl CallState {
    pub(crate) fn new(game: Arc<Game>, store: Store, group: GroupKey, players: u32, mode: Mode) -> CallState {
        CallState {
            wasi: None,
            table: ResourceTable::new(),
            wait_until: std::time::Instant::now(),
            game,
            store,
            group,
            players,
            mode,
            writes: HashMap::new(),
            memory_refused: None,
            refusal_logged: false,
            stdout: GuestOutput::new(OUTPUT_CAP),
            stderr: GuestOutput::new(OUTPUT_CAP),
        }
    }

    fn read(&self, key: Vec<u8>, spec: &FieldSpec) -> Result<String, String> {
        if let Some(w) = self.writes.get(&key) {
            return Ok(w.value.get().to_string());
        }
        match self.store.field_record(&self.group, &key) {
            Ok(Some(v)) => Ok(String::from_utf8_lossy(&v).into_owned()),
            Ok(None) => Ok(spec.initial.clone()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn write(&mut self, key: Vec<u8>, field: (Option<u32>, &str), spec: &FieldSpec, value: String) -> Result<(), String> {
        // Named only when a write is refused: no allocation on the path that succeeds.
        let what = || match field {
            (None, name) => format!("group field `{name}`"),
            (Some(_), name) => format!("player field `{name}`"),
        };
        match &self.mode {
            Mode::Live => {}
            Mode::ReadOnly(export) => return Err(format!("fields are read-only in {export}; write them in live-method")),
            Mode::Bot(_) => {
                return Err("fields are read-only in call-live-method; bots change them through bot-driver.live-method".into());
            }
        }
        let cap = self.game.limits.field_bytes;
        if value.len() > cap {
            return Err(format!("value of {} is {} bytes, above the limit of {cap} bytes", what(), value.len()));
        }
        if spec.ty != crate::game::manifest::FieldType::Json {
            match serde_json::from_str::<serde_json::Value>(&value) {
                Err(e) => return Err(format!("value of {} is not JSON: {e}", what())),
                Ok(v) if !spec.ty.accepts(&v) => return Err(format!("{} is {}, and {} is not", what(), spec.ty, shorten(&value, 60))),
                Ok(_) => {}
            }
        }
        let value = crate::game::raw_json(value).map_err(|e| format!("value of {} is not JSON: {e}", what()))?;
        self.writes.insert(key, Write { player: field.0, name: field.1.to_string(), value });
        Ok(())
    }

    /// Logs a host function the game used wrongly (the game sees `reason` as an `err`), once per call.
    fn refused(&mut self, what: &str, reason: String) -> String {
        if std::mem::replace(&mut self.refusal_logged, true) {
            return reason;
        }
        let g = &self.group;
        tracing::info!(target: "stoa::game", game = %self.game.manifest.name, session = %g.session, round = g.round, group = g.group, "{what} refused: {reason}");
        reason
    }

    fn player_in_group(&self, id: u32) -> Result<(), String> {
        if id == 0 || id > self.players {
            return Err(format!("player {id} is not in this group (ids 1..={})", self.players));
        }
        Ok(())
    }
}

/// At most `max` characters of `text`, for error messages.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (stdout, stderr) = (&self.stdout, &self.stderr);
        // No preopened dirs, no env, no args, sockets denied: the game gets nothing.
        let ctx = self.wasi.get_or_insert_with(|| WasiCtx::builder().stdout(stdout.clone()).stderr(stderr.clone()).build());
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
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.game.limits.memory_bytes {
            self.memory_refused = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

impl types::Host for CallState {}

impl fields::Host for CallState {
    fn group_get(&mut self, name: String) -> Result<String, String> {
        let game = self.game.clone();
        let spec = game.manifest.group_fields.get(&name).ok_or_else(|| format!("no group field `{name}` in game.toml"))?;
        self.read(self.group.group_field(&name), spec)
    }

    fn group_set(&mut self, name: String, value: String) -> Result<(), String> {
        let game = self.game.clone();
        let spec = game.manifest.group_fields.get(&name).ok_or_else(|| format!("no group field `{name}` in game.toml"))?;
        let key = self.group.group_field(&name);
        self.write(key, (None, &name), spec, value).map_err(|r| self.refused("fields.group-set", r))
    }

    fn player_get(&mut self, id_in_group: u32, name: String) -> Result<String, String> {
        self.player_in_group(id_in_group)?;
        let game = self.game.clone();
        let spec = game.manifest.player_fields.get(&name).ok_or_else(|| format!("no player field `{name}` in game.toml"))?;
        self.read(self.group.player_field(id_in_group, &name), spec)
    }

    fn player_set(&mut self, id_in_group: u32, name: String, value: String) -> Result<(), String> {
        self.player_in_group(id_in_group)?;
        let game = self.game.clone();
        let spec = game.manifest.player_fields.get(&name).ok_or_else(|| format!("no player field `{name}` in game.toml"))?;
        let key = self.group.player_field(id_in_group, &name);
        self.write(key, (Some(id_in_group), &name), spec, value).map_err(|r| self.refused("fields.player-set", r))
    }
}

impl bot_driver::Host for CallState {
    fn live_method(&mut self, id_in_group: u32, payload: String) -> Result<Vec<types::Message>, String> {
        let Mode::Bot(env) = &mut self.mode else {
            return Err(self.refused("bot-driver.live-method", "bot-driver is only available inside call-live-method".into()));
        };
        let result = self.game.clone().live_call_in(&mut env.warm, &self.store, &mut env.group, &env.page, id_in_group, &payload);
        let answer = match &result {
            Ok(c) => Ok(c.messages.iter().map(|m| types::Message { to: m.to, payload: m.payload.clone() }).collect()),
            Err(e) => Err(e.to_string()),
        };
        env.calls.push(BotCall { player: id_in_group, payload, result: result.map(|c| c.messages) });
        answer
    }
}
