//! `stoa new`: write a new game package from the [`scaffold`](super::scaffold) templates and
//! say how to build it.

use std::path::PathBuf;
use std::process::ExitCode;

use super::scaffold::{self, Lang};

#[derive(clap::Args)]
pub(super) struct NewArgs {
    /// The game's name: ASCII letters, digits, `-` and `_`, starting with a letter.
    name: String,
    /// Its language: rust, python or js.
    #[arg(long)]
    lang: Lang,
    /// The folder to create the game's folder in.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

pub(super) fn run(a: NewArgs) -> anyhow::Result<ExitCode> {
    let game = scaffold::new_game(&a.name, a.lang, &a.dir, &scaffold::checkout())?;
    print!("{}", scaffold::next_steps(&game, a.lang));
    Ok(ExitCode::SUCCESS)
}
