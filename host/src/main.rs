//! The `stoa` command: `serve`, `bots`, `check`, `new`. Run `stoa --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use stoa::server::{AppState, ServerConfig, state::load_games};
use stoa::{Game, Runtime, RuntimeConfig, Store, bots};

#[derive(Parser)]
#[command(name = "stoa", version, about = "Live multiplayer experiments whose games are sandboxed WebAssembly components")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the games in `--games` to participants and experimenters.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000")]
        addr: String,
        /// Folder of game packages (each a directory with a game.toml).
        #[arg(long, default_value = "games")]
        games: PathBuf,
        /// Where the sled database lives.
        #[arg(long, default_value = "stoa-data")]
        data: PathBuf,
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
    },
    /// Run a headless bot session of a game; exit 0 only if every call succeeded.
    Bots {
        /// The game package (the directory holding game.toml).
        game_dir: PathBuf,
        /// Participants (a multiple of the group size; default: two groups).
        #[arg(long)]
        participants: Option<u32>,
        /// Bot case to run (default: every case in game.toml's bot_cases).
        #[arg(long)]
        case: Option<String>,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
        /// Groups run at once (default: the number of cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Check a game package: manifest, templates, and that the component exports the world.
    Check {
        /// The game package.
        game_dir: PathBuf,
    },
    /// Write a new game package (a live counter with a bot) to DIR/NAME, ready to build.
    New {
        /// The game's name: ASCII letters, digits, `-` and `_`, starting with a letter.
        name: String,
        /// Its language: rust, python or js.
        #[arg(long)]
        lang: stoa::scaffold::Lang,
        /// The folder to create the game's folder in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(if matches!(cli.command, Command::Serve { .. }) { "info" } else { "warn" })
        }))
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { addr, games, data, demo, frame_bytes, rate, sockets } => {
            let config = ServerConfig { frame_bytes, rate_per_second: rate, rate_burst: rate * 2.0, sockets_per_participant: sockets };
            serve(addr, games, data, demo, config)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bots { game_dir, participants, case, json, threads } => {
            let runtime = Runtime::new(RuntimeConfig::default())?;
            let game = Game::load(&runtime, &game_dir)?;
            let participants = participants.unwrap_or(game.manifest.players_per_group * 2);
            let cases: Vec<Option<String>> = match case {
                Some(c) => vec![Some(c)],
                None if game.manifest.bot_cases.is_empty() => vec![None],
                None => game.manifest.bot_cases.iter().cloned().map(Some).collect(),
            };
            let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
            let mut reports = Vec::new();
            for case in &cases {
                let store = Store::temporary().context("cannot create a temporary store")?;
                let report = bots::run(&game, &store, participants, case.as_deref(), threads).map_err(anyhow::Error::msg)?;
                if !json {
                    print!("{}", bots::describe(&report));
                    for f in report.failures() {
                        eprintln!("bot failure: {f}");
                    }
                }
                reports.push(report);
            }
            let passed = reports.iter().all(|r| r.passed);
            if json {
                let doc = serde_json::json!({ "game": game.name(), "passed": passed, "runs": reports });
                println!("{}", serde_json::to_string_pretty(&doc)?);
            }
            Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Check { game_dir } => {
            let runtime = Runtime::new(RuntimeConfig::default())?;
            let game = Game::load(&runtime, &game_dir)?;
            let m = &game.manifest;
            let pages: Vec<String> =
                m.pages.iter().map(|p| if p.live { format!("{} (live)", p.name) } else { p.name.clone() }).collect();
            println!(
                "{}: ok — {} players per group, {} round(s), pages {}, {} group and {} player fields; component exports the stoa:game world",
                m.name,
                m.players_per_group,
                m.num_rounds,
                pages.join(", "),
                m.group_fields.len(),
                m.player_fields.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::New { name, lang, dir } => {
            let game = stoa::scaffold::new_game(&name, lang, &dir, &stoa::scaffold::checkout())?;
            print!("{}", stoa::scaffold::next_steps(&game, lang));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn serve(addr: String, games_dir: PathBuf, data: PathBuf, demo: Option<String>, config: ServerConfig) -> anyhow::Result<()> {
    let runtime = std::sync::Arc::new(Runtime::new(RuntimeConfig::default())?);
    let games = load_games(&runtime, &games_dir)?;
    if games.is_empty() {
        anyhow::bail!("no games in `{}`: a game is a folder with a game.toml", games_dir.display());
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
        if let Some(name) = demo {
            let game = state.games.get(&name).with_context(|| format!("--demo: no game named `{name}`"))?;
            let (session, people) = state.store.create_session(&game.manifest, game.manifest.players_per_group * 2)?;
            println!("demo session {} of `{name}`; participant links:", session.code);
            for p in people {
                println!("  group {} player {}: {base}/p/{}", p.group, p.id_in_group, p.code);
            }
        }
        let shutdown = async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
            println!("shutting down: finishing requests and flushing the store");
        };
        stoa::server::run(listener, state, shutdown).await?;
        anyhow::Ok(())
    })
}
