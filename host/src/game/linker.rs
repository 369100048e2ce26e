//! What a game may import: Stoa's interfaces and WASI p2, linked granting nothing.

use anyhow::Context as _;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

use crate::game::state::CallState;

/// Import names a game may have: Stoa's interfaces and WASI p2 (linked, granting nothing).
pub(crate) fn allowed_import(name: &str) -> bool {
    name.starts_with("stoa:game/") || name.starts_with("wasi:")
}

/// A linker with all of WASI p2 and Stoa's interfaces (both versions), implemented on [`CallState`];
/// WASI's `poll` is replaced by one bounded by the call's deadline ([`crate::game::poll`]).
pub(crate) fn linker(engine: &Engine) -> anyhow::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from).context("failed to link WASI")?;
    linker.allow_shadowing(true);
    wasmtime_wasi::p2::bindings::sync::io::poll::add_to_linker::<CallState, crate::game::poll::HasWaits>(&mut linker, CallState::waits)
        .map_err(anyhow::Error::from)
        .context("failed to link the bounded wasi:io/poll")?;
    linker.allow_shadowing(false);
    crate::game::bindings::v0_1::Game::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)
        .map_err(anyhow::Error::from)
        .context("failed to link stoa:game@0.1.0")?;
    crate::game::bindings::v0_2::Game::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)
        .map_err(anyhow::Error::from)
        .context("failed to link stoa:game@0.2.0")?;
    Ok(linker)
}
