//! [`AppState`]: what every request handler shares, and [`ServerConfig`], the client-facing
//! limits.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::engine::Runtime;
use crate::game::Game;
use crate::server::actors::GroupHub;
use crate::server::flow::Flow;
use crate::server::monitor::Monitor;
use crate::server::tenants::Tenants;
use crate::store::{Rooms, Store};

/// Server settings (client-facing limits).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest WebSocket frame a client may send, in bytes.
    pub frame_bytes: usize,
    /// Live messages per second a participant may send (sustained).
    pub rate_per_second: f64,
    /// Burst of messages above the rate.
    pub rate_burst: f64,
    /// Live sockets one participant may hold open at once; more are refused (429).
    pub sockets_per_participant: usize,
    /// Whether the sign-in cookie is `Secure` (sent over HTTPS only): set it when clients
    /// reach the server through TLS, e.g. a reverse proxy terminating HTTPS.
    pub secure_cookies: bool,
    /// Connections open at once (live sockets included); one more is answered 503 and
    /// closed, so a flood of idle connections cannot take every file descriptor.
    pub max_connections: usize,
    /// Time a client has to send a request's headers; a client that trickles them (slowloris)
    /// is disconnected instead of holding its connection.
    pub header_read_timeout: std::time::Duration,
    /// Messages a (re)connecting live socket is replayed at most, the group's last ones: a
    /// replay reads the group's log back from its end, so this bounds the work of each
    /// reconnect however long the group has run.
    pub replay_messages: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            frame_bytes: 64 << 10,
            rate_per_second: 50.0,
            rate_burst: 100.0,
            sockets_per_participant: 8,
            secure_cookies: false,
            max_connections: 10_000,
            header_read_timeout: std::time::Duration::from_secs(10),
            replay_messages: 1000,
        }
    }
}

/// Shared by every handler.
pub struct AppState {
    /// The engine.
    pub runtime: Arc<Runtime>,
    /// Loaded games by name.
    pub games: BTreeMap<String, Arc<Game>>,
    /// The database.
    pub store: Store,
    /// Bearer token of the experimenter (admin pages and API).
    pub admin_token: String,
    /// Client limits.
    pub config: ServerConfig,
    /// The group actors.
    pub(crate) hub: Arc<GroupHub>,
    /// Connection state, message counts and rate limit per participant.
    pub(crate) monitor: Monitor,
    /// Page moves, serialized per group (wait pages, timeouts, submits).
    pub(crate) flow: Arc<Flow>,
    /// Researcher accounts, their uploaded games and quotas (shared hosting).
    pub tenants: Tenants,
    /// Rooms, their open sessions and who was seated where.
    pub rooms: Rooms,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("games", &self.games.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state: `games` loaded, the admin token from `token` (else the one stored in
    /// the data dir, else a new random one, stored).
    pub fn new(
        runtime: Arc<Runtime>,
        games: BTreeMap<String, Arc<Game>>,
        store: Store,
        token: Option<String>,
        config: ServerConfig,
    ) -> anyhow::Result<Arc<AppState>> {
        let admin_token = match token {
            Some(t) if !t.is_empty() => t,
            _ => match store.meta("admin_token")? {
                Some(t) => t,
                None => {
                    let t = crate::store::random_code(32);
                    store.set_meta("admin_token", &t)?;
                    t
                }
            },
        };
        let tenants = Tenants::new(runtime.clone(), &store)?;
        let rooms = Rooms::open(&store)?;
        let hub = Arc::new(GroupHub::new(store.clone(), config.replay_messages));
        Ok(Arc::new(AppState {
            tenants,
            runtime,
            games,
            hub: hub.clone(),
            flow: Flow::new(store.clone(), hub),
            store,
            admin_token,
            config,
            monitor: Monitor::default(),
            rooms,
        }))
    }

    /// The game of a session: an operator's game by name, or a researcher's uploaded version
    /// by its key `owner/name@version` (loaded from the store on first use).
    pub fn game(&self, key: &str) -> Option<Arc<Game>> {
        match self.games.get(key) {
            Some(g) => Some(g.clone()),
            None => self.tenants.game(key),
        }
    }
}

/// Loads every game package (a directory with a `game.toml`) directly under `dir`. Two games
/// with one name is an error, as is any game that does not load.
pub fn load_games(runtime: &Runtime, dir: &Path) -> anyhow::Result<BTreeMap<String, Arc<Game>>> {
    let mut games = BTreeMap::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read games folder `{}`", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("game.toml").is_file())
        .collect();
    entries.sort();
    for path in entries {
        let game = Game::load(runtime, &path)?;
        if let Some(other) = games.insert(game.name().to_string(), game.clone()) {
            anyhow::bail!("two games are named `{}`: `{}` and `{}`", game.name(), other.dir.display(), game.dir.display());
        }
    }
    Ok(games)
}
