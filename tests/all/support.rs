//! Shared test helpers: the workspace paths, one runtime for the whole test binary (its
//! pooling allocator reserves address space, so one is enough), and game loading.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use stoa::{Game, Group, GroupKey, Runtime, RuntimeConfig, Store};

/// The repository root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ has a parent").to_path_buf()
}

/// The runtime shared by every test, caching compiled components under `target/stoa-cache`.
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let config = RuntimeConfig { cache_dir: Some(root().join("target/stoa-cache")), ..RuntimeConfig::default() };
        Runtime::new(config).expect("runtime")
    })
}

/// Loads a game package by its path from the repository root (`example-games/auction`).
/// Fails loudly when the component is missing: `make test` builds every game first.
pub(crate) fn game(path: &str) -> Arc<Game> {
    let dir = root().join(path);
    Game::load(runtime(), &dir).unwrap_or_else(|e| panic!("cannot load {path} (run `make games` first): {e}"))
}

/// A fresh on-disk store in a temporary directory (kept alive by the returned guard).
pub(crate) fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("data")).expect("open store");
    (dir, store)
}

/// A session of `game` with `participants` players and the log position of group `group`
/// in round 1.
pub(crate) fn session_group(game: &Game, store: &Store, participants: u32, group: u32) -> Group {
    let (session, _) = store.create_session(&game.manifest, participants).expect("session");
    store
        .group(GroupKey { session: session.code, round: 1, group }, game.manifest.players_per_group)
        .expect("group")
}

/// Parses JSON text, panicking with the text on failure.
pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
