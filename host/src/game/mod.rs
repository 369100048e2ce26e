//! `Game`: a loaded game package — manifest, limits, templates and the pre-linked component —
//! and the calls into it. Every call gets a fresh instance unless its caller keeps one for its
//! group, so no call ever sees memory left by another group; a trapped instance is dropped
//! with its store.
//!
//! Loading is here; the calls are in `calls`, each WIT interface's host side in its own file
//! (`fields`, `bot_driver`), a call's store data and a kept instance in `state`, pages in
//! `render`, what the game was loaded from in `provenance`.

pub mod bindings;
mod bot_driver;
mod calls;
mod creation;
pub(crate) mod determinism;
mod error;
mod fields;
pub mod forms;
pub(crate) mod guest_output;
mod hooks;
pub(crate) mod json;
mod linker;
mod poll;
mod provenance;
pub mod render;
pub(crate) mod state;
mod templates;
pub mod world;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use crate::engine::Runtime;
use crate::engine::limits::Limits;
use crate::engine::share::{Share, Shares};
use crate::game::state::CallState;
use crate::game::world::Pre;
use crate::live::Routed;
use crate::manifest::{Manifest, ManifestError};
use crate::store::{GroupKey, Provenance};

pub use crate::game::error::{CallError, LoadError};
pub use crate::game::hooks::Hook;
pub(crate) use crate::game::json::check_json;
pub use crate::game::state::{BotCall, Instance};
pub use crate::game::world::{BotSubmission, World};

/// The least CPU time a game's initialization (its start function, a language runtime's
/// setup) may take, whatever its call deadline.
pub const INSTANTIATION_BUDGET: Duration = Duration::from_secs(1);

/// Where a call happens: a player's place in a group, on a page.
#[derive(Debug, Clone, Copy)]
pub struct Seat<'a> {
    /// The group.
    pub group: &'a GroupKey,
    /// How many players the group has.
    pub players: u32,
    /// The page the player is on.
    pub page: &'a str,
    /// The player's id in the group, `1..=players`.
    pub id_in_group: u32,
}

/// A committed live call: its number in the group's log and the messages it routed.
#[derive(Debug, Clone)]
pub struct Committed {
    /// Call number in the group's log.
    pub call: u64,
    /// The routed messages, in seq order.
    pub messages: Vec<Routed>,
}

/// A loaded game.
pub struct Game {
    /// The manifest (shared with every call's store data).
    pub manifest: Arc<Manifest>,
    /// The package directory.
    pub dir: PathBuf,
    /// The limits its calls run under.
    pub limits: Limits,
    /// Page templates, registered under the page names.
    pub templates: handlebars::Handlebars<'static>,
    /// What it was loaded from: the hashes of its component and templates, its manifest's
    /// text, this host's version (kept with each session it creates).
    pub provenance: Provenance,
    engine: Engine,
    pre: Pre<CallState>,
    shares: Arc<Shares>,
    /// The share of the pool its instances are taken from: its owner's (a researcher's game is
    /// named `owner/name@version` once hosted), found on first use since hosting renames it
    /// after loading.
    share: OnceLock<Arc<Share>>,
}

impl std::fmt::Debug for Game {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Game").field("name", &self.manifest.name).field("dir", &self.dir).finish_non_exhaustive()
    }
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
        let templates = templates::load(&manifest, dir, &file)?;
        let fail = |reason: String| LoadError::Component { game: manifest.name.clone(), reason };
        let path = dir.join(&manifest.component);
        let bytes = runtime.read_component(&path).map_err(|e| fail(format!("{e:#}")))?;
        let provenance = provenance::of(&manifest, dir, &bytes).map_err(fail)?;
        let component = runtime
            .compile_bytes(&bytes)
            .with_context(|| format!("cannot compile component `{}`", path.display()))
            .map_err(|e| fail(format!("{e:#}")))?;
        check_world(&component, &runtime.engine).map_err(fail)?;
        let linker = linker::linker(&runtime.engine).map_err(|e| fail(format!("{e:#}")))?;
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| fail(format!("{e:#}")))?;
        let pre = Pre::new(instance_pre).map_err(fail)?;
        Ok(Arc::new(Game {
            manifest: Arc::new(manifest),
            dir: dir.to_path_buf(),
            limits,
            templates,
            provenance,
            engine: runtime.engine.clone(),
            pre,
            shares: runtime.shares.clone(),
            share: OnceLock::new(),
        }))
    }

    /// The game's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The world its component implements.
    pub fn world(&self) -> World {
        self.pre.world()
    }

    /// The share of the pool this game's instances are taken from.
    pub(crate) fn share(&self) -> &Arc<Share> {
        self.share.get_or_init(|| self.shares.of(self.manifest.name.split_once('/').map(|(owner, _)| owner)))
    }
}

/// Checks that `component` imports nothing but Stoa's interfaces and WASI, and exports the
/// functions every version of world `stoa:game/game` has, so a wrong component is refused by name at load.
fn check_world(component: &Component, engine: &Engine) -> Result<(), String> {
    let ty = component.component_type();
    let unknown: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_string()).filter(|n| !linker::allowed_import(n)).collect();
    if !unknown.is_empty() {
        return Err(format!(
            "the component imports {}, which Stoa does not provide (games may import stoa:game and WASI only)",
            unknown.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    for export in ["live-method", "error-message", "vars-for-template", "call-live-method"] {
        if !ty.exports(engine).any(|(name, item)| name == export && matches!(item.ty, ComponentItem::ComponentFunc(_))) {
            return Err(format!("the component does not export `{export}` (is it built for world stoa:game/game@0.2.0 or @0.1.0?)"));
        }
    }
    Ok(())
}
