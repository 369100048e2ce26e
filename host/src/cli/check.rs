//! `stoa check`: load a game package as `serve` would and say what it holds.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::{Game, Runtime, RuntimeConfig};

#[derive(clap::Args)]
pub(super) struct CheckArgs {
    /// The game package.
    game_dir: PathBuf,
}

pub(super) fn run(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let game = Game::load(&runtime, &a.game_dir)?;
    let m = &game.manifest;
    let pages: Vec<String> = m.pages.iter().map(|p| if p.live { format!("{} (live)", p.name) } else { p.name.clone() }).collect();
    println!(
        "{}: ok — {}, {} round(s), pages {}, {} group and {} player fields; component implements {}",
        m.name,
        m.players_per_group.map_or_else(|| "the whole session one group".to_string(), |n| format!("{n} players per group")),
        m.num_rounds,
        pages.join(", "),
        m.group_fields.len(),
        m.player_fields.len(),
        game.world()
    );
    if m.warm_instances {
        println!("{}", WARM_INSTANCES_WARNING);
    }
    Ok(ExitCode::SUCCESS)
}

/// What `stoa replay` cannot promise of a game with `warm_instances`.
const WARM_INSTANCES_WARNING: &str = "warning: warm_instances = true: `stoa replay` runs a group's live calls on one instance in their logged order, as the server kept it, \
but cannot know where the server's instance was dropped and its module state lost (a server restart, 60 s idle, a full pool, \
the end of a bot run): keep what a later call needs in fields for a session to replay exactly";
