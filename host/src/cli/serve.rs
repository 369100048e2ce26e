//! `stoa serve`: load the games, open the data folder and serve until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use super::data_dir::DataDir;
use crate::server::{AppState, ServerConfig, state::load_games};
use crate::{Runtime, RuntimeConfig, Store};

#[derive(clap::Args)]
pub(super) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: String,
    /// Folder of game packages (each a directory with a game.toml).
    #[arg(long, default_value = "games")]
    games: PathBuf,
    #[command(flatten)]
    data: DataDir,
    /// Create a demo session of this game at start and print its participant links.
    #[arg(long)]
    demo: Option<String>,
    /// Largest client frame, bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    frame_bytes: usize,
    /// Live messages per second a participant may send.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Live sockets one participant may hold open at once (more are refused with 429).
    #[arg(long, default_value_t = 8)]
    sockets: usize,
    /// Game instances alive at once, all games together (the pool's slots).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    instances: u32,
    /// Instances one researcher's games may hold at once (at most --instances).
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u32).range(1..))]
    researcher_instances: u32,
    /// Mark the sign-in cookie `Secure`: set it when clients reach the server over HTTPS
    /// (a reverse proxy terminating TLS), so the browser never sends the cookie in clear.
    #[arg(long)]
    secure_cookies: bool,
    /// Connections open at once, live sockets included (one more is answered 503 and closed).
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Seconds a client has to send a request's headers before it is disconnected.
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// Messages a (re)connecting live socket is replayed at most: the group's last ones.
    #[arg(long, default_value_t = 1000)]
    replay: u64,
    /// Write the admin token to this file (mode 0600) and print only its path, not the
    /// token: for a server whose output goes to a log.
    #[arg(long, value_name = "PATH")]
    admin_token_file: Option<PathBuf>,
}

pub(super) fn run(a: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(a.max_connections > 0, "--max-connections must be at least 1");
    anyhow::ensure!(a.header_timeout > 0, "--header-timeout must be at least 1 second");
    let config = ServerConfig {
        frame_bytes: a.frame_bytes,
        rate_per_second: a.rate,
        rate_burst: a.rate * 2.0,
        sockets_per_participant: a.sockets,
        secure_cookies: a.secure_cookies,
        max_connections: a.max_connections,
        header_read_timeout: std::time::Duration::from_secs(a.header_timeout),
        replay_messages: a.replay,
    };
    let (addr, games_dir, data) = (a.addr, a.games, a.data.data);
    // Every participant's socket is an open file.
    crate::load::raise_fd_limit();
    if a.researcher_instances > a.instances {
        anyhow::bail!(
            "--researcher-instances {} is above --instances {}: one researcher's share must fit in the pool",
            a.researcher_instances,
            a.instances
        );
    }
    let runtime =
        Arc::new(Runtime::new(RuntimeConfig { instances: a.instances, researcher_instances: a.researcher_instances, ..RuntimeConfig::default() })?);
    let games = load_games(&runtime, &games_dir)?;
    if games.is_empty() {
        // A shared server may have no games of its own: researchers upload theirs.
        println!("note: no games in `{}` (a game is a folder with a game.toml); researchers may upload theirs", games_dir.display());
    }
    let store = Store::open(&data).with_context(|| format!("cannot open the data folder `{}`", data.display()))?;
    let token = std::env::var("STOA_ADMIN_TOKEN").ok();
    let state = AppState::new(runtime, games, store, token, config)?;
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    tokio.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let base = format!("http://{local}");
        println!("Stoa is serving {} game(s) from {} on {base}", state.games.len(), games_dir.display());
        match &a.admin_token_file {
            Some(path) => {
                write_private(path, &state.admin_token).with_context(|| format!("cannot write the admin token to `{}`", path.display()))?;
                println!("admin:  {base}/admin (sign in with the token in {})", path.display());
            }
            None => {
                println!("admin:  {base}/admin?token={}", state.admin_token);
                println!("token:  {}", state.admin_token);
            }
        }
        if let Some(name) = a.demo {
            let game = state.games.get(&name).with_context(|| format!("--demo: no game named `{name}`"))?;
            let (session, people) = game.create_default_session(&state.store, game.manifest.default_participants())?;
            println!("demo session {} of `{name}`; participant links:", session.code);
            for p in people {
                match p.group {
                    // Groups form by arrival: nobody has one yet.
                    0 => println!("  participant {}: {base}/p/{}", p.index + 1, p.code),
                    group => println!("  group {group} player {}: {base}/p/{}", p.id_in_group, p.code),
                }
            }
        }
        crate::server::run(listener, state, shutdown()).await?;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// Writes `text` to `path`, readable and writable by its owner alone (mode 0600, also when
/// the file was there before with a wider mode).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())
}

/// Resolves on Ctrl-C (or SIGTERM on Unix), saying that the server is shutting down.
async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    println!("shutting down: finishing requests and flushing the store");
}
