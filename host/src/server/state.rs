//! `AppState`: what every request handler shares.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;

use crate::engine::Runtime;
use crate::game::Game;
use crate::server::group_actor::GroupHub;
use crate::store::Store;

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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { frame_bytes: 64 << 10, rate_per_second: 50.0, rate_burst: 100.0, sockets_per_participant: 8 }
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
    pub(crate) hub: GroupHub,
    /// Connection state and message counts per participant, for the admin monitor.
    pub monitor: Monitor,
    /// Serializes page moves per group (wait pages, timeouts, submits).
    pub(crate) flow: crate::server::flow::Flow,
    /// Researcher accounts, their uploaded games and quotas (shared hosting).
    pub hosting: crate::server::hosting::Hosting,
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
        let hosting = crate::server::hosting::Hosting::new(runtime.clone(), &store)?;
        Ok(Arc::new(AppState {
            hosting,
            runtime,
            games,
            hub: GroupHub::new(store.clone()),
            store,
            admin_token,
            config,
            monitor: Monitor::default(),
            flow: crate::server::flow::Flow::default(),
        }))
    }

    /// The game of a session: an operator's game by name, or a researcher's uploaded version
    /// by its key `owner/name@version` (loaded from the store on first use).
    pub fn game(&self, key: &str) -> Option<Arc<Game>> {
        match self.games.get(key) {
            Some(g) => Some(g.clone()),
            None => self.hosting.game(key),
        }
    }

    /// Whether `given` is the admin token, compared in constant time.
    pub fn is_admin(&self, given: &str) -> bool {
        crate::server::auth::constant_eq(self.admin_token.as_bytes(), given.as_bytes())
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

/// Per-participant connection state, for the admin monitor and the rate limit.
#[derive(Debug, Default)]
pub struct Monitor {
    inner: Mutex<HashMap<String, Activity>>,
}

/// What one participant's live connections did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Activity {
    /// Open sockets now.
    pub connected: u32,
    /// Frames received from the participant.
    pub sent: u64,
    /// Frames delivered to the participant.
    pub received: u64,
    /// Error frames sent to the participant.
    pub errors: u64,
    /// Rate-limit tokens (internal).
    #[serde(skip)]
    tokens: f64,
    #[serde(skip)]
    refilled: Option<Instant>,
}

impl Monitor {
    /// Applies `f` to a participant's activity.
    pub fn update<R>(&self, participant: &str, f: impl FnOnce(&mut Activity) -> R) -> R {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Looked up first: the key is copied only for a participant's first update.
        if let Some(activity) = map.get_mut(participant) {
            return f(activity);
        }
        f(map.entry(participant.to_string()).or_default())
    }

    /// A snapshot of a participant's activity.
    pub fn get(&self, participant: &str) -> Activity {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).get(participant).cloned().unwrap_or_default()
    }

    /// Takes one token from the participant's bucket (`rate` per second, up to `burst`);
    /// false when the bucket is empty.
    pub fn take_token(&self, participant: &str, rate: f64, burst: f64) -> bool {
        self.update(participant, |a| {
            let now = Instant::now();
            let elapsed = a.refilled.map(|t| now.duration_since(t).as_secs_f64()).unwrap_or(f64::INFINITY);
            a.tokens = (a.tokens + elapsed * rate).min(burst);
            a.refilled = Some(now);
            if a.tokens >= 1.0 {
                a.tokens -= 1.0;
                true
            } else {
                false
            }
        })
    }
}
