//! `stoa replay`: run a session's log again through its game and compare every call, from a
//! bundle (`stoa replay BUNDLE`) or a stopped server's data folder (`stoa replay --data DIR
//! SESSION`). Exit 0: every call reproduced (their number printed); 1: the first call that
//! differs, named; 2: the session cannot be replayed, with the reason (as every other error
//! of `stoa`, bad arguments included).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hosting::accounts::{Accounts, parse_key};
use crate::hosting::upload::{self, Caps};
use crate::replay::{Failure, Options, Recorded, open_bundle, replay};
use crate::{Game, Runtime, RuntimeConfig, Store};

#[derive(clap::Args)]
pub(super) struct ReplayArgs {
    /// The bundle (the session's `.tar.gz` from `/api/sessions/{code}/bundle`); with
    /// `--data`, the session's code.
    target: PathBuf,
    /// Replay session TARGET of this data folder (the server's `--data`, the server stopped).
    #[arg(long)]
    data: Option<PathBuf>,
    /// With `--data`: the folder of game packages the server served (its `--games`).
    #[arg(long, default_value = "games")]
    games: PathBuf,
    /// Replay even with a component or manifest other than the build the session ran on:
    /// the first call that build changes is named as a difference.
    #[arg(long)]
    ignore_hash: bool,
}

/// How often a long replay says how far it is.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

pub(super) fn run(a: ReplayArgs) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let opened = match &a.data {
        Some(data) => from_data(&runtime, data, &a.games, &a.target.to_string_lossy()),
        None => open_bundle(&runtime, &a.target).map(|b| (b.game, b.recorded)),
    };
    let (game, recorded) = match opened {
        Ok(opened) => opened,
        Err(why) => return Ok(not_replayable(&why)),
    };
    let code = recorded.session.code.clone();
    let mut last = Instant::now();
    let mut progress = |done: u64, total: u64| {
        if last.elapsed() >= PROGRESS_EVERY {
            eprintln!("replayed {done} of {total} calls");
            last = Instant::now();
        }
    };
    let started = Instant::now();
    match replay(&game, &recorded, Options { ignore_hash: a.ignore_hash }, &mut progress) {
        Ok(calls) => {
            println!("session {code}: reproduced {calls} calls exactly ({:.2} s)", started.elapsed().as_secs_f64());
            Ok(ExitCode::SUCCESS)
        }
        Err(Failure::Differs(m)) => {
            println!("session {code}: {m}");
            Ok(ExitCode::from(1))
        }
        Err(Failure::NotReplayable(why)) => Ok(not_replayable(&why)),
    }
}

/// Says why and exits 2.
fn not_replayable(why: &str) -> ExitCode {
    eprintln!("stoa replay: not replayable: {why}");
    ExitCode::from(2)
}

/// Session `code` of the data folder `data` and its game: from `games`, or the data
/// folder's uploads for a researcher's game.
fn from_data(runtime: &Runtime, data: &Path, games: &Path, code: &str) -> Result<(Arc<Game>, Recorded), String> {
    if !data.is_dir() {
        return Err(format!("no data folder `{}`", data.display()));
    }
    let store =
        Store::open(data).map_err(|e| format!("cannot open the data folder `{}` (stop the server that uses it first): {e}", data.display()))?;
    let recorded = Recorded::from_store(&store, code)?;
    let game = match parse_key(&recorded.session.game) {
        Some((owner, name, version)) => hosted(runtime, &store, (owner, name, version))?,
        None => local(runtime, games, &recorded.session.game)?,
    };
    Ok((game, recorded))
}

/// The game named `name` in the folder of packages `games`.
fn local(runtime: &Runtime, games: &Path, name: &str) -> Result<Arc<Game>, String> {
    let entries = std::fs::read_dir(games).map_err(|e| format!("cannot read the games folder `{}` (--games): {e}", games.display()))?;
    for dir in entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.join("game.toml").is_file()) {
        if crate::Manifest::load(&dir).is_ok_and(|m| m.name == name) {
            return Game::load(runtime, &dir).map_err(|e| e.to_string());
        }
    }
    Err(format!("no game named `{name}` in `{}` (--games)", games.display()))
}

/// A researcher's uploaded game `(owner, name, version)`, as the server loads it.
fn hosted(runtime: &Runtime, store: &Store, (owner, name, version): (&str, &str, &str)) -> Result<Arc<Game>, String> {
    let accounts = Accounts::open(store).map_err(|e| e.to_string())?;
    let researcher = accounts.get(owner).map_err(|e| e.to_string())?.ok_or_else(|| format!("the data folder has no researcher `{owner}`"))?;
    let archive = accounts
        .package(owner, name, version)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("the data folder has no upload of `{owner}/{name}` version {version}"))?;
    upload::load(runtime, &archive, Some((owner, version)), &researcher.quotas, &Caps::default()).game
}
