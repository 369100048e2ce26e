//! The calls into a game: a player's live call (run, checked, committed), the read-only
//! `error-message` and `vars-for-template`, and a bot run. Each runs one export on an
//! instance kept by the caller for its group, or on a fresh one.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::Store as WasmStore;

use crate::engine::arm_deadline;
use crate::game::determinism::Position;
use crate::game::error::CallError;
use crate::game::json::{raw_json, shorten};
use crate::game::state::{BotCall, BotEnv, CallState, Instance, MAX_RESOURCES, Mode, Owner, Write};
use crate::game::world::{BotSubmission, Context, Exports};
use crate::game::{Committed, Game, INSTANTIATION_BUDGET, Seat};
use crate::live::{FieldWrites, Group};
use crate::store::{GroupKey, Store};

/// What a call did besides its result: its field writes, and the mode it ended in (which
/// carries a bot run's nested calls).
pub(super) struct Effects {
    /// Each write with its key.
    pub(super) writes: Vec<(Vec<u8>, Write)>,
    pub(super) mode: Mode,
}

/// When and where a call runs: what its game's clock reads (its log entry's time) and the
/// position its random is drawn at (see [`crate::game::determinism`]).
pub(super) struct At<'a> {
    pub(super) time_ms: u64,
    /// The call's number in the group's log (0: not logged).
    pub(super) call: u64,
    /// The export, or what of it runs.
    pub(super) what: &'a str,
    /// The session's seed when it is not stored yet (creating-session).
    pub(super) seed: Option<u64>,
}

/// A group call's writes as the log keeps them, by group, player and participant (a group
/// call cannot write the session or another group: those writes were refused).
pub(super) fn field_writes(writes: Vec<(Vec<u8>, Write)>) -> FieldWrites {
    let mut out = FieldWrites::default();
    for (_, w) in writes {
        match w.owner {
            Owner::Group => out.group.insert(w.name, w.value),
            Owner::Player(id) => out.players.entry(id).or_default().insert(w.name, w.value),
            Owner::Participant(id) => out.participants.entry(id).or_default().insert(w.name, w.value),
            Owner::Session | Owner::GroupIn(_) => None,
        };
    }
    out
}

impl Game {
    /// The context every export gets: the group and page it runs for.
    pub(super) fn context(&self, store: &Store, group: &GroupKey, players: u32, page: &str) -> Context {
        Context {
            session: group.session.clone(),
            round_number: group.round,
            page: page.to_string(),
            group_id: group.group,
            players,
            num_rounds: self.manifest.num_rounds,
            config: store.session_config_text(&group.session).to_string(),
        }
    }

    /// [`Game::run_at`] for a call that is not logged (a read-only export): its clock reads
    /// now and its random is drawn at call 0 of the group under the export's name.
    pub(super) fn run<R>(
        &self,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &GroupKey,
        players: u32,
        mode: Mode,
        f: impl FnOnce(&Exports, &mut WasmStore<CallState>) -> wasmtime::Result<R>,
    ) -> (Result<R, CallError>, Effects) {
        let what = match &mode {
            Mode::ReadOnly(export) => *export,
            Mode::Live => "live-method",
            Mode::Bot(_) => "call-live-method",
            Mode::Creating(_) => "creating-session",
        };
        self.run_at(slot, store, group, players, mode, At { time_ms: crate::clock::now_ms(), call: 0, what, seed: None }, f)
    }

    /// Runs `f` for `group` in `mode` on the instance in `slot` when the mode allows and it
    /// belongs to `group`, else on a fresh instance in a fresh store; then logs the game's
    /// output. A live call keeps its instance when the manifest says `warm_instances`, a
    /// read-only call always, a bot run never; a kept instance that did not trap goes back
    /// into `slot` for the group's next call. A bot run has the bot deadline, every other
    /// call the call deadline.
    /// `at`: when and where the call runs, for the clock and random the game sees.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_at<R>(
        &self,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &GroupKey,
        players: u32,
        mode: Mode,
        at: At<'_>,
        f: impl FnOnce(&Exports, &mut WasmStore<CallState>) -> wasmtime::Result<R>,
    ) -> (Result<R, CallError>, Effects) {
        let seed = at.seed.unwrap_or_else(|| store.session_seed(&group.session));
        let position = Position { seed, round: group.round, group: group.group, call: at.call, what: at.what };
        let (reuse, deadline) = match mode {
            Mode::Live => (self.manifest.warm_instances, self.limits.deadline),
            // One instance for every round's creating-session call of a session.
            Mode::Creating(_) => (true, self.limits.deadline),
            Mode::ReadOnly(_) => (true, self.limits.deadline),
            Mode::Bot(_) => (false, self.limits.bot_deadline),
        };
        let mut instance = match slot.take() {
            Some(i) if reuse && i.wasm_store.data().group == *group => {
                i.wasm_store.data().determinism.start(at.time_ms, position);
                i
            }
            _ => {
                let held = match self.share().take() {
                    Ok(held) => held,
                    Err(refusal) => return (Err(CallError::Host(refusal)), Effects { writes: Vec::new(), mode }),
                };
                let state = CallState::new(self.manifest.clone(), self.limits, store.clone(), group.clone(), players, Mode::ReadOnly("start"));
                // The call's clock and random start here: the start function (a language
                // runtime seeding its own random) draws at the call's position too.
                state.determinism.start(at.time_ms, position);
                let mut wasm_store = WasmStore::new(&self.engine, state);
                wasm_store.limiter(|s| s);
                wasm_store.set_hostcall_fuel(copy_bytes(&self.limits));
                // A start function that loops is stopped like a call, but with at least
                // INSTANTIATION_BUDGET: setting up a Python or JavaScript runtime takes its
                // page faults and copies whatever the call's own deadline, and on a busy
                // machine they cost more — a participant's first message should not fail
                // for it.
                let budget = deadline.max(INSTANTIATION_BUDGET);
                arm(&mut wasm_store, budget);
                match self.pre.instantiate(&mut wasm_store) {
                    Ok(exports) => Instance { wasm_store, exports, _held: held },
                    Err(e) => {
                        let err = self.classify(e, wasm_store.data(), budget);
                        tracing::warn!(game = %self.manifest.name, session = %group.session, round = group.round, group = group.group, "the game's initialization failed: {err}");
                        self.log_output(wasm_store.data(), group);
                        return (Err(err), Effects { writes: Vec::new(), mode });
                    }
                }
            }
        };
        let state = instance.wasm_store.data_mut();
        state.mode = mode;
        state.players = players;
        state.writes.clear();
        state.memory_refused = None;
        state.refusal_logged = false;
        arm(&mut instance.wasm_store, deadline);
        let result = f(&instance.exports, &mut instance.wasm_store);
        let state = instance.wasm_store.data_mut();
        let effects = Effects { writes: state.writes.drain().collect(), mode: std::mem::replace(&mut state.mode, Mode::ReadOnly("idle")) };
        // Classify before logging: a trap's reason quotes the game's last stderr lines.
        let result = result.map_err(|e| self.classify(e, instance.wasm_store.data(), deadline));
        self.log_output(instance.wasm_store.data(), group);
        if result.is_ok() && reuse && self.share().keeps_warm() {
            *slot = Some(instance);
        }
        // Otherwise the instance is dropped here: a trapped one can never be entered again.
        (result, effects)
    }

    /// The error a failed call reports: over memory, past its deadline, or a trap quoting the
    /// game's last stderr lines.
    fn classify(&self, e: wasmtime::Error, state: &CallState, deadline: Duration) -> CallError {
        if state.memory_refused.is_some() {
            return CallError::Memory(self.limits.memory_bytes);
        }
        if e.chain().any(|c| c.to_string().contains(HOSTCALL_FUEL_EXHAUSTED)) {
            // wasmtime counts the bytes as it lifts, before it copies them.
            return CallError::Output(format!(
                "it handed the host more than {} bytes at once (a reply, a field value or a page's variables), above the limit of what the host copies out of a game in one step",
                copy_bytes(&self.limits)
            ));
        }
        if e.chain().any(|c| c.to_string().contains(RESOURCE_TABLE_FULL)) {
            return CallError::Trap(format!(
                "it held more than {MAX_RESOURCES} WASI resources (streams, pollables) at once, the most one instance may hold"
            ));
        }
        if e.chain().any(|c| c.to_string().contains(POOL_EXHAUSTED)) {
            return CallError::Host(format!("every game instance this server has is in use ({e}); try again shortly"));
        }
        match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => CallError::Deadline(deadline),
            Some(trap) => {
                let stderr = state.stderr.peek();
                let detail: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                let tail = detail.iter().rev().take(2).rev().cloned().collect::<Vec<_>>().join(" / ");
                if tail.is_empty() { CallError::Trap(trap.to_string()) } else { CallError::Trap(format!("{trap} ({})", shorten(&tail, 300))) }
            }
            None => CallError::Trap(format!("{e:#}")),
        }
    }

    /// Sends what the game printed in this call to the host log, tagged with its group.
    fn log_output(&self, state: &CallState, group: &GroupKey) {
        for (stream, out) in [("stdout", &state.stdout), ("stderr", &state.stderr)] {
            let (text, dropped) = out.take();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                tracing::info!(target: "stoa::game", game = %self.manifest.name, session = %group.session, round = group.round, group = group.group, stream, "{line}");
            }
            if dropped > 0 {
                tracing::warn!(target: "stoa::game", game = %self.manifest.name, session = %group.session, round = group.round, group = group.group, stream, "{dropped} bytes of output dropped past the cap");
            }
        }
    }

    /// A player's `liveSend(payload)` on `page`: runs `live-method` on a fresh instance and, if
    /// it succeeds, commits its field writes, its log entry and its messages in one batch.
    /// A failure writes only an error entry. Durability is the caller's: see
    /// [`Store::wait_durable`].
    pub fn live_call(&self, store: &Store, group: &mut Group, page: &str, id_in_group: u32, payload: &str) -> Result<Committed, CallError> {
        self.live_call_in(&mut None, store, group, page, id_in_group, payload)
    }

    /// [`Game::live_call`] keeping the group's instance in `slot` between calls when the
    /// manifest says `warm_instances = true`; a trap, a limit hit or a refused reply drops it.
    pub fn live_call_in(
        &self,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &mut Group,
        page: &str,
        id_in_group: u32,
        payload: &str,
    ) -> Result<Committed, CallError> {
        self.live_call_at(slot, store, group, page, id_in_group, payload, crate::clock::now_ms())
    }

    /// [`Game::live_call_in`] at `time_ms`: what the game's clock reads and its entry records
    /// (a replay re-issues a call at its logged time).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn live_call_at(
        &self,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &mut Group,
        page: &str,
        id_in_group: u32,
        payload: &str,
        time_ms: u64,
    ) -> Result<Committed, CallError> {
        if let Some(refusal) = store.refusing_calls() {
            // Nothing can be made durable: the game does not run, nothing is logged.
            return Err(CallError::Host(refusal));
        }
        let result = self.try_live_call(slot, store, group, page, id_in_group, payload, time_ms);
        if matches!(result, Err(CallError::Output(_) | CallError::Host(_))) {
            // The instance answered, but with something refused: start the next call afresh.
            // (A trap already dropped it; a game's own `err` leaves it sound.)
            *slot = None;
        }
        if let Err(e) = &result {
            let key = &group.key;
            match e {
                // A game's own `err` and a client's bad input are ordinary answers.
                CallError::Refused(_) | CallError::BadInput(_) => {
                    tracing::debug!(game = %self.manifest.name, session = %key.session, round = key.round, group = key.group, player = id_in_group, "live call refused: {e}")
                }
                // The game misbehaved (or the host failed): the host's operator should see it.
                _ => {
                    tracing::warn!(game = %self.manifest.name, session = %key.session, round = key.round, group = key.group, player = id_in_group, "live call failed: {e}")
                }
            }
            store.log_failure(time_ms, group, page, id_in_group, payload, false, &e.to_string())?;
        }
        result
    }

    /// The live call itself at `time_ms`: checks the input, runs `live-method`, checks what
    /// it routed and commits it with the call's field writes.
    #[allow(clippy::too_many_arguments)]
    fn try_live_call(
        &self,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &mut Group,
        page: &str,
        id: u32,
        payload: &str,
        time_ms: u64,
    ) -> Result<Committed, CallError> {
        if id == 0 || id > group.players {
            return Err(CallError::BadInput(format!("player {id} is not in this group (ids 1..={})", group.players)));
        }
        // Checked once here; the log stores it as it is.
        let stored = raw_json(payload.to_string()).map_err(|e| CallError::BadInput(format!("payload is not JSON: {e}")))?;
        let ctx = self.context(store, &group.key, group.players, page);
        let at = At { time_ms, call: group.next_call, what: "live-method", seed: None };
        let (result, effects) = self.run_at(slot, store, &group.key, group.players, Mode::Live, at, |g, s| g.live_method(s, &ctx, id, payload));
        let messages = result?.map_err(CallError::Refused)?;
        if messages.len() > self.limits.messages {
            return Err(CallError::Output(format!("it routed {} messages, above the limit of {}", messages.len(), self.limits.messages)));
        }
        let mut bytes = 0usize;
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            if m.to > group.players {
                return Err(CallError::Output(format!(
                    "a message is addressed to player {}, but the group has players 1..={} (0 = everyone)",
                    m.to, group.players
                )));
            }
            bytes += m.payload.len();
            if bytes > self.limits.output_bytes {
                return Err(CallError::Output(format!("its messages exceed the limit of {} bytes", self.limits.output_bytes)));
            }
            // Checked once here; the log stores it as it is.
            let payload = match raw_json(m.payload.clone()) {
                Ok(p) => p,
                Err(e) => return Err(CallError::Output(format!("a payload is not JSON ({e}): {}", shorten(&m.payload, 60)))),
            };
            out.push((m.to, payload));
        }
        let (call, messages) = store.commit_call(time_ms, group, page, id, stored, field_writes(effects.writes), out)?;
        Ok(Committed { call, messages })
    }

    /// `error-message` for a form submission (`values` JSON) by the player at `seat`:
    /// `Some(text)` keeps the player on the page. Runs on the read-only instance kept in
    /// `slot` for the group (pass `&mut None` for a fresh one).
    pub fn error_message(&self, slot: &mut Option<Instance>, store: &Store, seat: Seat<'_>, values: &str) -> Result<Option<String>, CallError> {
        let ctx = self.context(store, seat.group, seat.players, seat.page);
        self.run(slot, store, seat.group, seat.players, Mode::ReadOnly("error-message"), |g, s| g.error_message(s, &ctx, seat.id_in_group, values)).0
    }

    /// `is-displayed` for the player at `seat` (0.1 games: always). On a fresh instance.
    pub fn is_displayed(&self, store: &Store, seat: Seat<'_>) -> Result<bool, CallError> {
        if self.world() == crate::game::World::V0_1 {
            return Ok(true);
        }
        let ctx = self.context(store, seat.group, seat.players, seat.page);
        self.run(&mut None, store, seat.group, seat.players, Mode::ReadOnly("is-displayed"), |g, s| g.is_displayed(s, &ctx, seat.id_in_group)).0
    }

    /// `get-timeout-seconds` for the player at `seat`: seconds from now until the page times
    /// out, or `None` for the manifest's `timeout_seconds` (0.1 games: always). On a fresh
    /// instance. A value that is not a number of seconds from 0 to a year is refused.
    pub fn get_timeout_seconds(&self, store: &Store, seat: Seat<'_>) -> Result<Option<f64>, CallError> {
        if self.world() == crate::game::World::V0_1 {
            return Ok(None);
        }
        let ctx = self.context(store, seat.group, seat.players, seat.page);
        let seconds = self
            .run(&mut None, store, seat.group, seat.players, Mode::ReadOnly("get-timeout-seconds"), |g, s| {
                g.get_timeout_seconds(s, &ctx, seat.id_in_group)
            })
            .0?;
        match seconds {
            Some(s) if !(0.0..=MAX_TIMEOUT_SECONDS).contains(&s) => {
                Err(CallError::Output(format!("get-timeout-seconds returned {s}: a timeout is 0 to {MAX_TIMEOUT_SECONDS} seconds")))
            }
            other => Ok(other),
        }
    }

    /// `bot-submissions` for the player at `seat` in bot case `case`: the form submissions its
    /// bot makes on the page, in order (0.1 games: one `{}`).
    pub fn bot_submissions(
        &self,
        slot: &mut Option<Instance>,
        store: &Store,
        seat: Seat<'_>,
        case: Option<&str>,
    ) -> Result<Vec<BotSubmission>, CallError> {
        let ctx = self.context(store, seat.group, seat.players, seat.page);
        self.run(slot, store, seat.group, seat.players, Mode::ReadOnly("bot-submissions"), |g, s| g.bot_submissions(s, &ctx, seat.id_in_group, case))
            .0
    }

    /// Whether leaving `page` is a hook call in the group's log (`before-next-page`, the
    /// form's values): on every normal page of a 0.2 game, and on a 0.1 game's pages with a form.
    pub fn submits_with_hook(&self, page: &crate::manifest::Page) -> bool {
        page.kind == crate::manifest::PageKind::Normal && (self.world() == crate::game::World::V0_2 || !page.form_fields.is_empty())
    }

    /// `vars-for-template` for the player at `seat`: the extra template variables, a JSON
    /// object. Runs on the read-only instance kept in `slot` for the group (pass `&mut None`
    /// for a fresh one).
    pub fn vars_for_template(
        &self,
        slot: &mut Option<Instance>,
        store: &Store,
        seat: Seat<'_>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, CallError> {
        let ctx = self.context(store, seat.group, seat.players, seat.page);
        let text = self
            .run(slot, store, seat.group, seat.players, Mode::ReadOnly("vars-for-template"), |g, s| g.vars_for_template(s, &ctx, seat.id_in_group))
            .0?;
        match serde_json::from_str(&text) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(serde_json::Value::Null) => Ok(serde_json::Map::new()),
            Ok(other) => Err(CallError::Output(format!("vars-for-template must return a JSON object, not {}", shorten(&other.to_string(), 60)))),
            Err(e) => Err(CallError::Output(format!("vars-for-template returned text that is not JSON: {e}"))),
        }
    }

    /// Runs `call-live-method` for `group` on `page` with bot `case`; every nested
    /// `bot-driver.live-method` call is a real live call on `group`. Returns the nested calls
    /// and the bot's own verdict.
    pub fn bot_run(self: &Arc<Self>, store: &Store, group: &mut Group, page: &str, case: Option<&str>) -> (Vec<BotCall>, Result<(), CallError>) {
        let ctx = self.context(store, &group.key, group.players, page);
        let env = BotEnv { game: self.clone(), group: group.clone(), page: page.to_string(), calls: Vec::new(), warm: None };
        let key = group.key.clone();
        let (result, effects) = self.run(&mut None, store, &key, group.players, Mode::Bot(Box::new(env)), |g, s| g.call_live_method(s, &ctx, case));
        let Mode::Bot(env) = effects.mode else {
            return (Vec::new(), Err(CallError::Host("bot state lost".into())));
        };
        *group = env.group;
        let verdict = result.and_then(|r| r.map_err(CallError::Refused));
        (env.calls, verdict)
    }
}

/// The longest timeout `get-timeout-seconds` may give: a year.
const MAX_TIMEOUT_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// The text of wasmtime's error when a lift runs out of hostcall fuel (its type is private).
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// The text of wasmtime's error when the pooling allocator has no free slot.
const POOL_EXHAUSTED: &str = "maximum concurrent limit of";

/// The text of wasmtime's error when an instance's resource table is full.
const RESOURCE_TABLE_FULL: &str = "resource table has no free keys";

/// The most the host copies out of a game's memory in one step (wasmtime's hostcall fuel,
/// which it counts before copying): one reply (its payloads and 16 bytes per message), one
/// field value, or a page's variables (at most a page's size), with 64 KiB to spare for
/// names and envelopes. A reply of 100 messages aliasing one 16 MiB string is refused by it
/// before a byte is copied, where wasmtime's default (128 MiB) copied 128 MiB first.
pub(crate) fn copy_bytes(limits: &crate::engine::limits::Limits) -> usize {
    let reply = limits.output_bytes.saturating_add(limits.messages.saturating_mul(16));
    reply.max(limits.field_bytes).max(crate::game::templates::MAX_PAGE_BYTES).saturating_add(64 << 10)
}

/// Arms `store` for a call of `deadline`: its CPU deadline (the engine's epoch), and the same
/// moment on the wall clock for every wait inside it (see [`crate::game::poll`]).
fn arm(store: &mut WasmStore<CallState>, deadline: Duration) {
    arm_deadline(store, deadline);
    store.data_mut().wait_until = std::time::Instant::now() + deadline;
}
