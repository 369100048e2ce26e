//! The `stoa` command: `serve`, `bots`, `check`, `new`, `researcher`, `load`, `echo`. Run `stoa --help`.

use std::process::ExitCode;

use clap::Parser as _;
use stoa::cli::{Cli, run};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
