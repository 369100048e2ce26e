//! `Game`: a loaded game package — manifest, limits, templates and the pre-linked component —
//! and the calls into it. Every call gets a fresh instance, so no call ever sees memory left
//! by another; a trapped instance is simply dropped with its store.

pub mod bindings;
pub(crate) mod guest_output;
mod linker;
pub mod manifest;
pub mod render;
pub(crate) mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use wasmtime::component::types::ComponentItem;

use crate::engine::Runtime;
use crate::engine::limits::Limits;
use crate::game::bindings::{Context, GamePre};
use crate::game::manifest::{Manifest, ManifestError};
use crate::game::state::{BotEnv, CallState, Mode, shorten};
use crate::live::{Group, Routed};
use crate::store::{GroupKey, Store, StoreError};

/// Why a game could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The manifest is bad.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The component could not be read, compiled or linked.
    #[error("failed to load game `{game}`: {reason}")]
    Component { game: String, reason: String },
}

/// Why a call produced nothing. `Display` is the text the sender sees.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The game's own `err`.
    #[error("{0}")]
    Refused(String),
    /// The payload was not JSON, or the player not in the group.
    #[error("{0}")]
    BadInput(String),
    /// The call ran past its deadline.
    #[error("the game ran past its deadline of {} ms", .0.as_millis())]
    Deadline(Duration),
    /// The game grew memory past its cap.
    #[error("the game went over its memory limit of {} MiB", .0 >> 20)]
    Memory(u64),
    /// The game trapped (panic, abort, stack overflow...).
    #[error("the game crashed: {0}")]
    Trap(String),
    /// What the game routed broke a rule (too much, bad recipient, not JSON).
    #[error("the game's reply was refused: {0}")]
    Output(String),
    /// The host failed (storage).
    #[error("host error: {0}")]
    Host(String),
}

impl From<StoreError> for CallError {
    fn from(e: StoreError) -> Self {
        CallError::Host(e.to_string())
    }
}

/// The least CPU time a game's initialization (its start function, a language runtime's
/// setup) may take, whatever its call deadline.
pub const INSTANTIATION_BUDGET: Duration = Duration::from_secs(1);

/// A committed live call: its number in the group's log and the messages it routed.
#[derive(Debug, Clone)]
pub struct Committed {
    /// Call number in the group's log.
    pub call: u64,
    /// The routed messages, in seq order.
    pub messages: Vec<Routed>,
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

/// A game instance with its store, kept by a caller between calls of one group (never
/// shared across groups or sessions). See [`Game::live_call_in`].
pub struct Instance {
    store: wasmtime::Store<CallState>,
    exports: crate::game::bindings::Game,
}

impl Instance {
    /// The group this instance serves.
    pub fn group(&self) -> &GroupKey {
        &self.store.data().group
    }
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("group", &self.store.data().group).finish_non_exhaustive()
    }
}

/// What a call leaves behind: its field writes and its mode (a bot's state).
struct Taken {
    writes: Vec<crate::game::state::Write>,
    mode: Mode,
}

/// A loaded game.
pub struct Game {
    /// The manifest.
    pub manifest: Manifest,
    /// The package directory.
    pub dir: PathBuf,
    /// The limits its calls run under.
    pub limits: Limits,
    /// Page templates, registered under the page names.
    pub templates: handlebars::Handlebars<'static>,
    engine: wasmtime::Engine,
    pre: GamePre<CallState>,
}

impl std::fmt::Debug for Game {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Game").field("name", &self.manifest.name).field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// Checks that `text` is one JSON value that any JSON reader takes back. Skimmed without
/// building anything, except where skimming is too lenient, which gets a full parse: a `\u`
/// escape (skimming takes a lone surrogate, `"\ud800"`, which no string can hold) and a
/// number with an exponent or 300 digits (skimming takes `1e999`, which no f64 can hold).
/// Either kind in a field or the log could never be read back. Both found by `make fuzz`
/// (target client_frame).
pub(crate) fn check_json(text: &str) -> Result<(), serde_json::Error> {
    serde_json::from_str::<IgnoredAny>(text)?;
    check_deeply(text)
}

/// [`check_json`] that keeps the checked text, for what is stored as it is: skimmed once,
/// while becoming a `RawValue`.
pub(crate) fn raw_json(text: String) -> Result<Box<RawValue>, serde_json::Error> {
    let raw = RawValue::from_string(text)?;
    check_deeply(raw.get())?;
    Ok(raw)
}

/// The full parse of [`check_json`], where skimming is not enough.
fn check_deeply(text: &str) -> Result<(), serde_json::Error> {
    if skimming_is_not_enough(text.as_bytes()) {
        serde_json::from_str::<serde_json::Value>(text)?;
    }
    Ok(())
}

/// Whether `text` may hold a `\u` escape or a number out of f64's range (false positives,
/// say `"a1e"` inside a string, only cost a full parse).
fn skimming_is_not_enough(text: &[u8]) -> bool {
    let mut digits = 0usize;
    let mut prev = 0u8;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits >= 300 {
                    return true;
                }
            }
            b'e' | b'E' if prev.is_ascii_digit() => return true,
            b'u' if prev == b'\\' => return true,
            _ => digits = 0,
        }
        prev = b;
    }
    false
}

impl Game {
    /// Loads the package in `dir`: manifest, templates, limits, and the component, which must
    /// export the `game` world and import nothing but Stoa's interfaces and WASI.
    pub fn load(runtime: &Runtime, dir: &Path) -> Result<Arc<Game>, LoadError> {
        let manifest = Manifest::load(dir)?;
        let file = dir.join("game.toml");
        let limits = manifest.limits.resolve(&runtime.config.defaults, &runtime.config.max).map_err(|(key, reason)| ManifestError {
            file: file.clone(),
            key,
            reason,
        })?;
        let mut templates = crate::game::render::registry();
        for (i, page) in manifest.pages.iter().enumerate() {
            templates.register_template_file(&page.name, dir.join(&page.template)).map_err(|e| ManifestError {
                file: file.clone(),
                key: format!("page[{i}].template"),
                reason: format!("template `{}` does not parse: {e}", page.template.display()),
            })?;
        }
        let fail = |reason: String| LoadError::Component { game: manifest.name.clone(), reason };
        let component = runtime.compile(&dir.join(&manifest.component)).map_err(|e| fail(format!("{e:#}")))?;
        let ty = component.component_type();
        let unknown: Vec<String> = ty.imports(&runtime.engine).map(|(name, _)| name.to_string()).filter(|n| !linker::allowed_import(n)).collect();
        if !unknown.is_empty() {
            return Err(fail(format!(
                "the component imports {}, which Stoa does not provide (games may import stoa:game and WASI only)",
                unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
            )));
        }
        for export in ["live-method", "error-message", "vars-for-template", "call-live-method"] {
            if !ty.exports(&runtime.engine).any(|(name, item)| name == export && matches!(item.ty, ComponentItem::ComponentFunc(_))) {
                return Err(fail(format!("the component does not export `{export}` (is it built for world stoa:game/game?)")));
            }
        }
        let linker = linker::linker(&runtime.engine).map_err(|e| fail(format!("{e:#}")))?;
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| fail(format!("{e:#}")))?;
        let pre = GamePre::new(instance_pre).map_err(|e| fail(format!("the component does not match world stoa:game/game: {e:#}")))?;
        Ok(Arc::new(Game { manifest, dir: dir.to_path_buf(), limits, templates, engine: runtime.engine.clone(), pre }))
    }

    /// The game's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    fn context(&self, group: &GroupKey, players: u32, page: &str) -> Context {
        Context { session: group.session.clone(), round_number: group.round, page: page.to_string(), group_id: group.group, players }
    }

    /// Runs `f` on the instance in `slot` when `reuse` allows and it belongs to `group`, else
    /// on a fresh instance in a fresh store; then logs the game's output. When `reuse` is set
    /// and the call did not trap, the instance goes back into `slot` for the group's next
    /// call. Returns the call's field writes and its mode (a bot's state) with the result.
    #[allow(clippy::too_many_arguments)]
    fn run<R>(
        self: &Arc<Self>,
        slot: &mut Option<Instance>,
        reuse: bool,
        store: &Store,
        group: &GroupKey,
        players: u32,
        mode: Mode,
        deadline: Duration,
        f: impl FnOnce(&crate::game::bindings::Game, &mut wasmtime::Store<CallState>) -> wasmtime::Result<R>,
    ) -> (Result<R, CallError>, Taken) {
        let mut instance = match slot.take() {
            Some(i) if reuse && i.store.data().group == *group => i,
            _ => {
                let state = CallState::new(self.clone(), store.clone(), group.clone(), players, Mode::ReadOnly("start"));
                let mut wstore = wasmtime::Store::new(&self.engine, state);
                wstore.limiter(|s| s);
                // A start function that loops is stopped like a call, but with at least
                // INSTANTIATION_BUDGET: setting up a Python or JavaScript runtime takes its
                // page faults and copies whatever the call's own deadline, and on a busy
                // machine they cost more — a participant's first message should not fail
                // for it.
                let budget = deadline.max(INSTANTIATION_BUDGET);
                crate::engine::arm_deadline(&mut wstore, budget);
                match self.pre.instantiate(&mut wstore) {
                    Ok(exports) => Instance { store: wstore, exports },
                    Err(e) => {
                        let err = self.classify(e, wstore.data(), budget);
                        tracing::warn!(game = %self.manifest.name, session = %group.session, round = group.round, group = group.group, "the game's initialization failed: {err}");
                        self.log_output(wstore.data(), group);
                        return (Err(err), Taken { writes: Vec::new(), mode });
                    }
                }
            }
        };
        let state = instance.store.data_mut();
        state.mode = mode;
        state.players = players;
        state.writes.clear();
        state.memory_refused = None;
        state.refusal_logged = false;
        crate::engine::arm_deadline(&mut instance.store, deadline);
        let result = f(&instance.exports, &mut instance.store);
        let state = instance.store.data_mut();
        let taken =
            Taken { writes: state.writes.drain().map(|(_, w)| w).collect(), mode: std::mem::replace(&mut state.mode, Mode::ReadOnly("idle")) };
        // Classify before logging: a trap's reason quotes the game's last stderr lines.
        let result = result.map_err(|e| self.classify(e, instance.store.data(), deadline));
        self.log_output(instance.store.data(), group);
        if result.is_ok() && reuse {
            *slot = Some(instance);
        }
        // Otherwise the instance is dropped here: a trapped one can never be entered again.
        (result, taken)
    }

    fn classify(&self, e: wasmtime::Error, state: &CallState, deadline: Duration) -> CallError {
        if state.memory_refused.is_some() {
            return CallError::Memory(self.limits.memory_bytes);
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
    pub fn live_call(
        self: &Arc<Self>,
        store: &Store,
        group: &mut Group,
        page: &str,
        id_in_group: u32,
        payload: &str,
    ) -> Result<Committed, CallError> {
        self.live_call_in(&mut None, store, group, page, id_in_group, payload)
    }

    /// [`Game::live_call`] keeping the group's instance in `slot` between calls when the
    /// manifest says `warm_instances = true`; a trap, a limit hit or a refused reply drops it.
    pub fn live_call_in(
        self: &Arc<Self>,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &mut Group,
        page: &str,
        id_in_group: u32,
        payload: &str,
    ) -> Result<Committed, CallError> {
        if let Some(refusal) = store.refusing_calls() {
            // Nothing can be made durable: the game does not run, nothing is logged.
            return Err(CallError::Host(refusal));
        }
        let result = self.try_live_call(slot, store, group, page, id_in_group, payload);
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
            store.log_failure(group, page, id_in_group, payload, &e.to_string())?;
        }
        result
    }

    fn try_live_call(
        self: &Arc<Self>,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &mut Group,
        page: &str,
        id: u32,
        payload: &str,
    ) -> Result<Committed, CallError> {
        if id == 0 || id > group.players {
            return Err(CallError::BadInput(format!("player {id} is not in this group (ids 1..={})", group.players)));
        }
        // Checked once here; the log stores it as it is.
        let stored = raw_json(payload.to_string()).map_err(|e| CallError::BadInput(format!("payload is not JSON: {e}")))?;
        let ctx = self.context(&group.key, group.players, page);
        let reuse = self.manifest.warm_instances;
        let (result, taken) = self.run(slot, reuse, store, &group.key, group.players, Mode::Live, self.limits.deadline, |g, s| {
            g.call_live_method(s, &ctx, id, &payload.to_string())
        });
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
        let mut writes = crate::live::FieldWrites::default();
        for w in taken.writes {
            match w.player {
                None => writes.group.insert(w.name, w.value),
                Some(id) => writes.players.entry(id).or_default().insert(w.name, w.value),
            };
        }
        let (call, messages) = store.commit_call(group, page, id, stored, writes, out)?;
        Ok(Committed { call, messages })
    }

    /// `error-message` for a form submission (`values` JSON): `Some(text)` keeps the player on
    /// the page. Runs on the read-only instance kept in `slot` for `group` (pass `&mut None`
    /// for a fresh one).
    #[allow(clippy::too_many_arguments)]
    pub fn error_message(
        self: &Arc<Self>,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &GroupKey,
        players: u32,
        page: &str,
        id_in_group: u32,
        values: &str,
    ) -> Result<Option<String>, CallError> {
        let ctx = self.context(group, players, page);
        self.run(slot, true, store, group, players, Mode::ReadOnly("error-message"), self.limits.deadline, |g, s| {
            g.call_error_message(s, &ctx, id_in_group, &values.to_string())
        })
        .0
    }

    /// `vars-for-template`: the extra template variables, a JSON object. Runs on the read-only
    /// instance kept in `slot` for `group` (pass `&mut None` for a fresh one).
    pub fn vars_for_template(
        self: &Arc<Self>,
        slot: &mut Option<Instance>,
        store: &Store,
        group: &GroupKey,
        players: u32,
        page: &str,
        id_in_group: u32,
    ) -> Result<serde_json::Map<String, serde_json::Value>, CallError> {
        let ctx = self.context(group, players, page);
        let text = self
            .run(slot, true, store, group, players, Mode::ReadOnly("vars-for-template"), self.limits.deadline, |g, s| {
                g.call_vars_for_template(s, &ctx, id_in_group)
            })
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
        let ctx = self.context(&group.key, group.players, page);
        let env = BotEnv { group: group.clone(), page: page.to_string(), calls: Vec::new(), warm: None };
        let key = group.key.clone();
        let (result, taken) = self.run(&mut None, false, store, &key, group.players, Mode::Bot(Box::new(env)), self.limits.bot_deadline, |g, s| {
            g.call_call_live_method(s, &ctx, case)
        });
        let Mode::Bot(env) = taken.mode else {
            return (Vec::new(), Err(CallError::Host("bot state lost".into())));
        };
        *group = env.group;
        let verdict = result.and_then(|r| r.map_err(CallError::Refused));
        (env.calls, verdict)
    }
}
