//! The `stoa` command: `serve`, `bots`, `check`, `new`. Run `stoa --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use stoa::{Game, Runtime, RuntimeConfig, Store, bots};

#[derive(Parser)]
#[command(name = "stoa", version, about = "Live multiplayer experiments whose games are sandboxed WebAssembly components")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
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
    }
}
