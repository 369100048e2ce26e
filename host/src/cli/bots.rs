//! `stoa bots`: a headless bot session of a game, one per bot case; exit 0 only if every
//! call succeeded.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::{Game, Runtime, RuntimeConfig, Store, bots};

#[derive(clap::Args)]
pub(super) struct BotsArgs {
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
}

pub(super) fn run(a: BotsArgs) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let game = Game::load(&runtime, &a.game_dir)?;
    let participants = a.participants.unwrap_or(game.manifest.default_participants());
    let cases: Vec<Option<String>> = match a.case {
        Some(c) => vec![Some(c)],
        None if game.manifest.bot_cases.is_empty() => vec![None],
        None => game.manifest.bot_cases.iter().cloned().map(Some).collect(),
    };
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let mut reports = Vec::new();
    for case in &cases {
        let store = Store::temporary().context("cannot create a temporary store")?;
        let report = bots::run(&game, &store, participants, case.as_deref(), threads).map_err(anyhow::Error::msg)?;
        if !a.json {
            print!("{}", bots::describe(&report));
            for f in report.failures() {
                eprintln!("bot failure: {f}");
            }
        }
        reports.push(report);
    }
    let passed = reports.iter().all(|r| r.passed);
    if a.json {
        let doc = serde_json::json!({ "game": game.name(), "passed": passed, "runs": reports });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
