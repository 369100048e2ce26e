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
}

pub(super) fn run(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = ServerConfig { frame_bytes: a.frame_bytes, rate_per_second: a.rate, rate_burst: a.rate * 2.0, sockets_per_participant: a.sockets };
    let (addr, games_dir, data) = (a.addr, a.games, a.data.data);
    // Every participant's socket is an open file.
    crate::load::raise_fd_limit();
    if a.researcher_instances > a.instances {
        anyhow::bail!("--researcher-instances {} is above --instances {}: one researcher's share must fit in the pool", a.researcher_instances, a.instances);
    }
    let runtime = Arc::new(Runtime::new(RuntimeConfig { instances: a.instances, researcher_instances: a.researcher_instances, ..RuntimeConfig::default() })?);
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
        println!("admin:  {base}/admin?token={}", state.admin_token);
        println!("token:  {}", state.admin_token);
        if let Some(name) = a.demo {
            let game = state.games.get(&name).with_context(|| format!("--demo: no game named `{name}`"))?;
            let (session, people) = state.store.create_session(&game.manifest, game.manifest.players_per_group * 2)?;
            println!("demo session {} of `{name}`; participant links:", session.code);
            for p in people {
                println!("  group {} player {}: {base}/p/{}", p.group, p.id_in_group, p.code);
            }
        }
        crate::server::run(listener, state, shutdown()).await?;
        anyhow::Ok(ExitCode::SUCCESS)
    })
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
