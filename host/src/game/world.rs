//! The worlds a game may implement: `stoa:game/game@0.2.0` and, for components built before it,
//! `@0.1.0`. `Pre` and `Exports` hide which one a game is: every call is made in 0.2's
//! shape (0.1 gets its context without `num-rounds` and `config`), and a 0.1 game gets
//! DESIGN.md's defaults for the hooks it does not have (`is-displayed` true,
//! `before-next-page` and `after-all-players-arrive` ok, `bot-submissions` one `{}`).

use wasmtime::Store as WasmStore;
use wasmtime::component::InstancePre;

use crate::game::bindings::{v0_1, v0_2};

pub use crate::game::bindings::v0_2::stoa::game::types::{BotSubmission, Context, Message};

/// Which world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// `stoa:game/game@0.1.0`: live pages only.
    V0_1,
    /// `stoa:game/game@0.2.0`: the whole study.
    V0_2,
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            World::V0_1 => "stoa:game/game@0.1.0",
            World::V0_2 => "stoa:game/game@0.2.0",
        })
    }
}

/// A linked component, ready to instantiate, in the world it implements, for stores whose
/// data is `T` (a call's state, `crate::game::state::CallState`).
pub(crate) enum Pre<T: 'static> {
    V0_1(v0_1::GamePre<T>),
    V0_2(v0_2::GamePre<T>),
}

/// An instance's exports.
pub(crate) enum Exports {
    V0_1(v0_1::Game),
    V0_2(v0_2::Game),
}

/// The context of a call in 0.1's shape.
fn v0_1_context(c: &Context) -> v0_1::stoa::game::types::Context {
    v0_1::stoa::game::types::Context {
        session: c.session.clone(),
        round_number: c.round_number,
        page: c.page.clone(),
        group_id: c.group_id,
        players: c.players,
    }
}

impl<T: Send + 'static> Pre<T> {
    /// The world `pre`'s component implements: 0.2 if its exports match it, else 0.1; the
    /// error says why it matches neither.
    pub(crate) fn new(pre: InstancePre<T>) -> Result<Pre<T>, String> {
        let v0_2 = match v0_2::GamePre::new(pre.clone()) {
            Ok(p) => return Ok(Pre::V0_2(p)),
            Err(e) => e,
        };
        match v0_1::GamePre::new(pre) {
            Ok(p) => Ok(Pre::V0_1(p)),
            Err(v0_1) => Err(format!("the component matches neither world: as {}: {v0_2:#}; as {}: {v0_1:#}", World::V0_2, World::V0_1)),
        }
    }

    pub(crate) fn world(&self) -> World {
        match self {
            Pre::V0_1(_) => World::V0_1,
            Pre::V0_2(_) => World::V0_2,
        }
    }

    pub(crate) fn instantiate(&self, store: &mut WasmStore<T>) -> wasmtime::Result<Exports> {
        Ok(match self {
            Pre::V0_1(p) => Exports::V0_1(p.instantiate(store)?),
            Pre::V0_2(p) => Exports::V0_2(p.instantiate(store)?),
        })
    }
}

impl Exports {
    pub(crate) fn live_method<T: Send>(
        &self,
        store: &mut WasmStore<T>,
        ctx: &Context,
        id: u32,
        payload: &str,
    ) -> wasmtime::Result<Result<Vec<Message>, String>> {
        Ok(match self {
            Exports::V0_1(g) => g
                .call_live_method(store, &v0_1_context(ctx), id, &payload.to_string())?
                .map(|list| list.into_iter().map(|m| Message { to: m.to, payload: m.payload }).collect()),
            Exports::V0_2(g) => g.call_live_method(store, ctx, id, &payload.to_string())?,
        })
    }

    pub(crate) fn error_message<T: Send>(&self, store: &mut WasmStore<T>, ctx: &Context, id: u32, values: &str) -> wasmtime::Result<Option<String>> {
        match self {
            Exports::V0_1(g) => g.call_error_message(store, &v0_1_context(ctx), id, &values.to_string()),
            Exports::V0_2(g) => g.call_error_message(store, ctx, id, &values.to_string()),
        }
    }

    pub(crate) fn vars_for_template<T: Send>(&self, store: &mut WasmStore<T>, ctx: &Context, id: u32) -> wasmtime::Result<String> {
        match self {
            Exports::V0_1(g) => g.call_vars_for_template(store, &v0_1_context(ctx), id),
            Exports::V0_2(g) => g.call_vars_for_template(store, ctx, id),
        }
    }

    pub(crate) fn call_live_method<T: Send>(
        &self,
        store: &mut WasmStore<T>,
        ctx: &Context,
        case: Option<&str>,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Exports::V0_1(g) => g.call_call_live_method(store, &v0_1_context(ctx), case),
            Exports::V0_2(g) => g.call_call_live_method(store, ctx, case),
        }
    }

    pub(crate) fn is_displayed<T: Send>(&self, store: &mut WasmStore<T>, ctx: &Context, id: u32) -> wasmtime::Result<bool> {
        match self {
            Exports::V0_1(_) => Ok(true),
            Exports::V0_2(g) => g.call_is_displayed(store, ctx, id),
        }
    }

    pub(crate) fn before_next_page<T: Send>(
        &self,
        store: &mut WasmStore<T>,
        ctx: &Context,
        id: u32,
        timeout: bool,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Exports::V0_1(_) => Ok(Ok(())),
            Exports::V0_2(g) => g.call_before_next_page(store, ctx, id, timeout),
        }
    }

    pub(crate) fn after_all_players_arrive<T: Send>(&self, store: &mut WasmStore<T>, ctx: &Context) -> wasmtime::Result<Result<(), String>> {
        match self {
            Exports::V0_1(_) => Ok(Ok(())),
            Exports::V0_2(g) => g.call_after_all_players_arrive(store, ctx),
        }
    }

    pub(crate) fn creating_session<T: Send>(&self, store: &mut WasmStore<T>, ctx: &Context) -> wasmtime::Result<Result<(), String>> {
        match self {
            Exports::V0_1(_) => Ok(Ok(())),
            Exports::V0_2(g) => g.call_creating_session(store, ctx),
        }
    }

    pub(crate) fn get_timeout_seconds<T: Send>(&self, store: &mut WasmStore<T>, ctx: &Context, id: u32) -> wasmtime::Result<Option<f64>> {
        match self {
            Exports::V0_1(_) => Ok(None),
            Exports::V0_2(g) => g.call_get_timeout_seconds(store, ctx, id),
        }
    }

    pub(crate) fn bot_submissions<T: Send>(
        &self,
        store: &mut WasmStore<T>,
        ctx: &Context,
        id: u32,
        case: Option<&str>,
    ) -> wasmtime::Result<Vec<BotSubmission>> {
        match self {
            Exports::V0_1(_) => Ok(empty_submission()),
            Exports::V0_2(g) => g.call_bot_submissions(store, ctx, id, case),
        }
    }
}

/// The one `{}` submission a game without `bot-submissions` makes.
fn empty_submission() -> Vec<BotSubmission> {
    vec![BotSubmission { values: "{}".into(), must_fail: false }]
}
