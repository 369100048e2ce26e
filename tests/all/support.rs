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
pub(crate) fn runtime() -> &'static Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let config = RuntimeConfig { cache_dir: Some(root().join("target/stoa-cache")), ..RuntimeConfig::default() };
        Arc::new(Runtime::new(config).expect("runtime"))
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
    store.group(GroupKey { session: session.code, round: 1, group }, session.players_per_group).expect("group")
}

/// Parses JSON text, panicking with the text on failure.
pub(crate) fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A real server on `127.0.0.1:0` serving `games` (paths from the repository root) with
/// its data in `data`; stopped (gracefully, store flushed) by [`TestServer::stop`].
pub(crate) struct TestServer {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) state: Arc<stoa::server::AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// The admin token of every test server.
pub(crate) const TOKEN: &str = "test-admin-token";

impl TestServer {
    pub(crate) async fn start(games: &[&str], data: &std::path::Path) -> TestServer {
        TestServer::start_with(games, data, stoa::server::ServerConfig::default()).await
    }

    pub(crate) async fn start_with(games: &[&str], data: &std::path::Path, config: stoa::server::ServerConfig) -> TestServer {
        TestServer::start_on(runtime().clone(), games, data, config).await
    }

    /// [`TestServer::start_with`] on a runtime of its own (its own compiled-component cache,
    /// a small pool).
    pub(crate) async fn start_on(runtime: Arc<Runtime>, games: &[&str], data: &std::path::Path, config: stoa::server::ServerConfig) -> TestServer {
        let loaded = games.iter().map(|p| {
            let g = game(p);
            (g.name().to_string(), g)
        });
        let store = Store::open(data).expect("open store");
        let state = stoa::server::AppState::new(runtime, loaded.collect(), store, Some(TOKEN.into()), config).expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(stoa::server::run(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        TestServer { addr, state, stop: Some(tx), task: Some(task) }
    }

    /// Stops the server and waits until its store is flushed and closed.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stopped cleanly");
        }
    }
}

/// A copy of the looper fixture in a temporary directory, its manifest passed through `edit`
/// (to turn on warm instances, or give a loop more time on a busy machine).
pub(crate) fn looper_copy(edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = root().join("tests/fixtures/looper");
    for sub in ["target", "templates"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
    }
    for f in ["target/looper.wasm", "templates/Play.hbs", "templates/End.hbs"] {
        std::fs::copy(src.join(f), dir.path().join(f)).expect("copy");
    }
    let manifest = std::fs::read_to_string(src.join("game.toml")).expect("manifest");
    std::fs::write(dir.path().join("game.toml"), edit(&manifest)).expect("write");
    dir
}
