//! `stoa replay`: a session's log run again, bit for bit (DESIGN.md, "Provenance and
//! replay").
//!
//! - `recorded`: [`Recorded`], the session as its log holds it — from a data folder or a
//!   bundle's JSON export;
//! - `bundle`: export bundles — one tar.gz of the JSON export (with seed and provenance),
//!   `game.toml`, the component and the templates — written and opened;
//! - `run`: the replay — the session made again in a scratch store, every call re-issued
//!   through the game's own call paths at its logged time and position;
//! - `compare`: each replayed entry against the logged one, naming the first difference.
//!
//! [`replay`] first checks that the session can be replayed at all: it has a seed, and the
//! game is the build its provenance names (component hash and manifest text).

mod bundle;
mod compare;
mod recorded;
mod run;

pub use bundle::{Bundle, EXPORT_FILE, open as open_bundle, write as write_bundle};
pub use recorded::Recorded;

use crate::game::Game;

/// The first call whose replay differs from its log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Its round.
    pub round: u32,
    /// Its group (0: the round's `creating-session`).
    pub group: u32,
    /// Its number in the group's log.
    pub call: u64,
    /// Its sender's id in group (0 for a group's hook).
    pub sender: u32,
    /// What differed: the part, what the log holds, what the replay made.
    pub what: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "round {} group {} call {} (sender {}) differs: {}", self.round, self.group, self.call, self.sender, self.what)
    }
}

/// Why a replay did not reproduce the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A call's replay differs from its log entry (`stoa replay` exits 1).
    Differs(Mismatch),
    /// The session cannot be replayed: the reason (`stoa replay` exits 2).
    NotReplayable(String),
}

/// How strict a replay is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Replay with a game whose component or manifest is not the one the session's
    /// provenance names (or a session without provenance): the first call it changes is
    /// then named as a difference.
    pub ignore_hash: bool,
}

/// Replays `recorded` through `game`, calling `progress(done, total)` after each call: the
/// number of calls reproduced, or why not.
pub fn replay(game: &Game, recorded: &Recorded, options: Options, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, Failure> {
    replayable(game, recorded, options).map_err(Failure::NotReplayable)?;
    run::run(game, recorded, progress)
}

/// Why `recorded` cannot be replayed through `game`, if so.
fn replayable(game: &Game, recorded: &Recorded, options: Options) -> Result<(), String> {
    if recorded.session.seed == 0 {
        return Err(format!(
            "session `{}` was made before sessions had seeds: the random its calls drew was not seeded, so it cannot be drawn again",
            recorded.session.code
        ));
    }
    if options.ignore_hash {
        return Ok(());
    }
    let Some(kept) = &recorded.provenance else {
        return Err(format!(
            "no provenance was kept for session `{}` (made before Stoa recorded it): nothing names the component that made its log (--ignore-hash replays it anyway)",
            recorded.session.code
        ));
    };
    let loaded = &game.provenance;
    if kept.component_sha256 != loaded.component_sha256 {
        return Err(format!(
            "the component's SHA-256 is {}, but session `{}` ran on {}: another build of the game (--ignore-hash replays it anyway)",
            loaded.component_sha256, recorded.session.code, kept.component_sha256
        ));
    }
    if kept.manifest != loaded.manifest {
        return Err(format!("the game's game.toml is not the one session `{}` ran with (--ignore-hash replays it anyway)", recorded.session.code));
    }
    Ok(())
}
