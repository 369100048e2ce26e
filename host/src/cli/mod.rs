//! The `stoa` command line: [`Cli`] parses it, [`run`] runs it. One file per subcommand
//! holds its arguments and what it does: `serve`, `bots`, `check`, `replay`, `new` (with [`scaffold`],
//! the templates it writes), `researcher`, `room`, `load` and `echo`.

mod bots;
mod check;
mod data_dir;
mod echo;
mod load;
mod new;
mod replay;
mod researcher;
mod room;
pub mod scaffold;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The `stoa` command.
#[derive(Parser)]
#[command(name = "stoa", version, about = "Live multiplayer experiments whose games are sandboxed WebAssembly components")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the games in `--games` to participants and experimenters.
    Serve(serve::ServeArgs),
    /// Run a headless bot session of a game; exit 0 only if every call succeeded.
    Bots(bots::BotsArgs),
    /// Check a game package: manifest, templates, and that the component exports the world.
    Check(check::CheckArgs),
    /// Manage researcher accounts of a shared server (run while the server is stopped: the
    /// data folder is locked by a running server; use the admin API or pages then).
    Researcher {
        #[command(subcommand)]
        action: researcher::Action,
    },
    /// Manage rooms, the links that outlive sessions (run while the server is stopped, as
    /// `researcher`; use the API or the admin pages then).
    Room {
        #[command(subcommand)]
        action: room::Action,
    },
    /// Run a session's log again through its game, from a bundle or a stopped server's data
    /// folder; exit 0 if every call reproduced, 1 naming the first that differs, 2 if the
    /// session cannot be replayed.
    Replay(replay::ReplayArgs),
    /// Write a new game package (a live counter with a bot) to DIR/NAME, ready to build.
    New(new::NewArgs),
    /// Load-test a server's live channel: open participants' sockets, send, time the replies.
    Load(load::LoadArgs),
    /// A bare WebSocket echo server: a ceiling `stoa load --ceiling` compares against.
    Echo(echo::EchoArgs),
}

/// Runs the command: logs to stderr (`info` for `serve`, `warn` for the others, unless
/// `RUST_LOG` says otherwise); the exit code is the command's own.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let default_filter = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Bots(args) => bots::run(args),
        Command::Check(args) => check::run(args),
        Command::Researcher { action } => researcher::run(action),
        Command::Room { action } => room::run(action),
        Command::Replay(args) => replay::run(args),
        Command::New(args) => new::run(args),
        Command::Load(args) => load::run(args),
        Command::Echo(args) => echo::run(args),
    }
}
