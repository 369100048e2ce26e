//! `stoa load`: its arguments, checked and made into a [`Config`]; the run (and with
//! `--ceiling`, the same load against both echo servers), printed as text or JSON. See
//! `docs/PERFORMANCE.md`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::load::ceiling::Compared;
use crate::load::{self, Config, Mode, Target};

#[derive(clap::Args)]
pub(super) struct LoadArgs {
    /// The server, `http://HOST:PORT`; hosts other than loopback need --allow-host.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    url: String,
    /// Create a session of this game through the API (admin token: --token or STOA_ADMIN_TOKEN).
    #[arg(long, conflicts_with_all = ["codes", "echo"])]
    game: Option<String>,
    /// Participants of the new session (a multiple of the group size), or of echo sockets.
    #[arg(long, default_value_t = 21)]
    participants: u32,
    /// The admin token (default: $STOA_ADMIN_TOKEN).
    #[arg(long)]
    token: Option<String>,
    /// Drive these participants of an existing session instead (comma-separated codes).
    #[arg(long, value_delimiter = ',', conflicts_with = "echo")]
    codes: Vec<String>,
    /// The server is `stoa echo`, not Stoa.
    #[arg(long)]
    echo: bool,
    /// Payload template: the placeholder n in braces becomes the message's number (see docs/PERFORMANCE.md); objects also get `"seq": n`.
    #[arg(long, default_value = r#"{"bid": {n}}"#)]
    payload: String,
    /// Saturation: messages in flight per participant.
    #[arg(long, default_value_t = 1)]
    window: u32,
    /// Fixed rate instead: messages per second over all participants (open loop).
    #[arg(long, conflicts_with = "idle")]
    rate: Option<f64>,
    /// Idle instead: connect, stay silent this many seconds (memory per connection).
    #[arg(long)]
    idle: Option<f64>,
    /// Most messages in all.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Longest sending time, seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Longest wait for replies after the last send, seconds.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Send this many seconds first, reported apart (a server just started sets up what its first calls need).
    #[arg(long, default_value_t = 0.0, conflicts_with = "idle")]
    warmup: f64,
    /// A non-loopback host you mean to load (repeatable).
    #[arg(long)]
    allow_host: Vec<String>,
    /// The server's process id, for its CPU and memory (same machine).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Then run the same load against a `stoa echo` and a `stoa echo --durable` started here,
    /// and give ratios to them.
    #[arg(long)]
    ceiling: bool,
    /// Where the durable echo writes its journal (default: a new folder in the system's
    /// temporary folder); put it on the disk of the server's data folder.
    #[arg(long, requires = "ceiling")]
    ceiling_dir: Option<PathBuf>,
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

pub(super) fn run(a: LoadArgs) -> anyhow::Result<ExitCode> {
    let config = a.config()?;
    let report = load::run(&config)?;
    let compared =
        if a.ceiling { Compared::with_ceilings(&config, report, a.ceiling_dir.as_deref())? } else { Compared { run: report, ceilings: Vec::new() } };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&compared.json()?)?);
    } else {
        print!("{}", compared.describe());
    }
    let r = &compared.run;
    Ok(if r.errors == 0 && r.unanswered == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

impl LoadArgs {
    /// The run the arguments ask for, or which of them is wrong.
    fn config(&self) -> anyhow::Result<Config> {
        let mode = match (self.rate, self.idle) {
            (Some(r), _) if !(r > 0.0 && r.is_finite()) => anyhow::bail!("--rate must be a positive number of messages per second, not {r}"),
            (Some(r), _) => Mode::Rate { per_second: r },
            (None, Some(h)) => Mode::Idle { hold_seconds: h.max(0.0) },
            (None, None) if self.window == 0 => anyhow::bail!("--window must be at least 1"),
            (None, None) => Mode::Saturation { window: self.window },
        };
        if !(self.seconds > 0.0 && self.drain >= 0.0 && self.warmup >= 0.0) || [self.seconds, self.drain, self.warmup].iter().any(|s| !s.is_finite())
        {
            anyhow::bail!("--seconds must be positive, --drain and --warmup not negative (seconds)");
        }
        let target = if self.echo {
            Target::Echo { participants: self.participants }
        } else if !self.codes.is_empty() {
            Target::Codes(self.codes.clone())
        } else if let Some(game) = self.game.clone() {
            let token = self
                .token
                .clone()
                .or_else(|| std::env::var("STOA_ADMIN_TOKEN").ok())
                .context("--game creates a session through the API: give the admin token with --token or STOA_ADMIN_TOKEN")?;
            Target::NewSession { token, game, participants: self.participants }
        } else {
            anyhow::bail!("say whom to drive: --game NAME (a new session), --codes A,B,... or --echo");
        };
        Ok(Config {
            url: self.url.clone(),
            target,
            mode,
            payload: self.payload.clone(),
            messages: self.messages,
            duration: Duration::from_secs_f64(self.seconds),
            drain: Duration::from_secs_f64(self.drain),
            warmup: Duration::from_secs_f64(self.warmup),
            allow_hosts: self.allow_host.clone(),
            server_pid: self.server_pid,
            progress: !self.quiet,
        })
    }
}
