//! The `stoa` command: `serve`, `bots`, `check`, `new`, `researcher`, `load`, `echo`. Run `stoa --help`.

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
    /// Manage researcher accounts of a shared server (run while the server is stopped: the
    /// data folder is locked by a running server; use the admin API or pages then).
    Researcher {
        #[command(subcommand)]
        action: ResearcherAction,
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
    /// Load-test a server's live channel: open participants' sockets, send, time the replies.
    Load(LoadArgs),
    /// A bare WebSocket echo server: a ceiling `stoa load --ceiling` compares against.
    Echo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: String,
        /// Echo each frame only once it is on disk in a live journal in this folder (the
        /// durable ceiling).
        #[arg(long)]
        durable: Option<PathBuf>,
    },
}

/// `stoa load`: see `docs/PERFORMANCE.md`.
#[derive(clap::Args)]
struct LoadArgs {
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

#[derive(Subcommand)]
enum ResearcherAction {
    /// Create researcher NAME and print their API token (shown this once).
    Add {
        /// Login name: lowercase letters, digits, `-` and `_`, starting with a letter.
        name: String,
        /// Where the sled database lives.
        #[arg(long, default_value = "stoa-data")]
        data: PathBuf,
        /// Read a password for the admin pages from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a researcher's quotas (only those given; 0 for deadline or memory: the game's own).
    Quotas {
        /// The researcher.
        name: String,
        /// Where the sled database lives.
        #[arg(long, default_value = "stoa-data")]
        data: PathBuf,
        /// CPU deadline of one call, ms (lowers the game's own).
        #[arg(long)]
        deadline_ms: Option<u64>,
        /// Memory of one instance, MiB (lowers the game's own).
        #[arg(long)]
        memory_mb: Option<u64>,
        /// Live messages per second across the researcher's sessions.
        #[arg(long)]
        messages_per_second: Option<f64>,
        /// Sessions at once (with a participant not finished).
        #[arg(long)]
        sessions: Option<u32>,
        /// Bytes of uploaded archives kept.
        #[arg(long)]
        stored_bytes: Option<u64>,
    },
    /// Give a researcher a new API token (printed once); the old one stops working.
    Token {
        /// The researcher.
        name: String,
        /// Where the sled database lives.
        #[arg(long, default_value = "stoa-data")]
        data: PathBuf,
    },
    /// List the researchers and their quotas.
    List {
        /// Where the sled database lives.
        #[arg(long, default_value = "stoa-data")]
        data: PathBuf,
    },
}

fn researcher(action: ResearcherAction) -> anyhow::Result<ExitCode> {
    let open = |data: &PathBuf| {
        let store = Store::open(data).with_context(|| format!("cannot open the data folder `{}` (is a server running on it?)", data.display()))?;
        let accounts = stoa::hosting::accounts::Accounts::open(&store)?;
        anyhow::Ok((store, accounts))
    };
    match action {
        ResearcherAction::Add { name, data, password_stdin } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).context("cannot read the password from standard input")?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                None
            };
            let (store, accounts) = open(&data)?;
            let (r, token) = accounts.add(&name, password.as_deref(), stoa::hosting::accounts::Quotas::default())?;
            store.wait_durable()?;
            println!("researcher `{}` added; their API token (shown only now): {token}", r.name);
            println!("they sign in at /admin?token=TOKEN{}", if r.password.is_some() { " or with their name and password" } else { "" });
        }
        ResearcherAction::Quotas { name, data, deadline_ms, memory_mb, messages_per_second, sessions, stored_bytes } => {
            let (store, accounts) = open(&data)?;
            let patch = stoa::hosting::accounts::QuotaPatch { deadline_ms, memory_mb, messages_per_second, sessions, stored_bytes };
            let r = accounts.set_quotas(&name, &patch, &RuntimeConfig::default().max)?;
            store.wait_durable()?;
            println!("{}: {}", r.name, serde_json::to_string(&r.quotas)?);
        }
        ResearcherAction::Token { name, data } => {
            let (store, accounts) = open(&data)?;
            let token = accounts.new_token(&name)?;
            store.wait_durable()?;
            println!("researcher `{name}`'s new API token (shown only now): {token}");
        }
        ResearcherAction::List { data } => {
            let (_store, accounts) = open(&data)?;
            for r in accounts.list()? {
                println!("{}: {}", r.name, serde_json::to_string(&r.quotas)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if matches!(cli.command, Command::Serve { .. }) { "info" } else { "warn" })),
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
            let pages: Vec<String> = m.pages.iter().map(|p| if p.live { format!("{} (live)", p.name) } else { p.name.clone() }).collect();
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
        Command::Researcher { action } => researcher(action),
        Command::New { name, lang, dir } => {
            let game = stoa::scaffold::new_game(&name, lang, &dir, &stoa::scaffold::checkout())?;
            print!("{}", stoa::scaffold::next_steps(&game, lang));
            Ok(ExitCode::SUCCESS)
        }
        Command::Load(args) => load(args),
        Command::Echo { addr, durable } => echo(addr, durable),
    }
}

fn load(a: LoadArgs) -> anyhow::Result<ExitCode> {
    use stoa::load::{Config, Mode, Target};
    let mode = match (a.rate, a.idle) {
        (Some(r), _) if !(r > 0.0 && r.is_finite()) => anyhow::bail!("--rate must be a positive number of messages per second, not {r}"),
        (Some(r), _) => Mode::Rate { per_second: r },
        (None, Some(h)) => Mode::Idle { hold_seconds: h.max(0.0) },
        (None, None) if a.window == 0 => anyhow::bail!("--window must be at least 1"),
        (None, None) => Mode::Saturation { window: a.window },
    };
    if !(a.seconds > 0.0 && a.drain >= 0.0 && a.warmup >= 0.0) || [a.seconds, a.drain, a.warmup].iter().any(|s| !s.is_finite()) {
        anyhow::bail!("--seconds must be positive, --drain and --warmup not negative (seconds)");
    }
    let target = if a.echo {
        Target::Echo { participants: a.participants }
    } else if !a.codes.is_empty() {
        Target::Codes(a.codes.clone())
    } else if let Some(game) = a.game.clone() {
        let token = a
            .token
            .clone()
            .or_else(|| std::env::var("STOA_ADMIN_TOKEN").ok())
            .context("--game creates a session through the API: give the admin token with --token or STOA_ADMIN_TOKEN")?;
        Target::NewSession { token, game, participants: a.participants }
    } else {
        anyhow::bail!("say whom to drive: --game NAME (a new session), --codes A,B,... or --echo");
    };
    let n = match &target {
        Target::Codes(c) => c.len() as u32,
        Target::NewSession { participants, .. } | Target::Echo { participants } => *participants,
    };
    let config = Config {
        url: a.url.clone(),
        target,
        mode,
        payload: a.payload.clone(),
        messages: a.messages,
        duration: std::time::Duration::from_secs_f64(a.seconds),
        drain: std::time::Duration::from_secs_f64(a.drain),
        warmup: std::time::Duration::from_secs_f64(a.warmup),
        allow_hosts: a.allow_host.clone(),
        server_pid: a.server_pid,
        progress: !a.quiet,
    };
    let report = stoa::load::run(&config)?;
    // The same load against each ceiling: a bare echo server, then one that writes every
    // message durably before echoing it.
    let mut ceilings: Vec<(&str, stoa::load::Report)> = Vec::new();
    if a.ceiling {
        let scratch = match &a.ceiling_dir {
            Some(dir) => tempfile::Builder::new().prefix("stoa-durable-echo-").tempdir_in(dir),
            None => tempfile::Builder::new().prefix("stoa-durable-echo-").tempdir(),
        }
        .context("cannot make a folder for the durable echo's journal (--ceiling-dir)")?;
        for (label, durable) in [("echo", None), ("durable echo", Some(scratch.path()))] {
            let mut echo = EchoChild::start(durable)?;
            let config = Config { url: echo.url.clone(), target: Target::Echo { participants: n }, server_pid: Some(echo.pid()), ..config.clone() };
            let r = stoa::load::run(&config);
            echo.stop();
            ceilings.push((label, r?));
        }
    }
    if a.json {
        let mut doc = serde_json::json!({ "run": report });
        for (label, c) in &ceilings {
            let key = label.replace(' ', "_");
            doc[&key] = serde_json::to_value(c)?;
            let ratio = |a: f64, b: f64| if b > 0.0 { serde_json::json!(a / b) } else { serde_json::Value::Null };
            doc[format!("ratio_to_{key}")] = serde_json::json!({
                "messages_per_second": ratio(report.messages_per_second, c.messages_per_second),
                "frames_per_second": ratio(report.frames_per_second, c.frames_per_second),
                "p50": ratio(report.latency.p50_ms, c.latency.p50_ms),
                "p99": ratio(report.latency.p99_ms, c.latency.p99_ms),
            });
        }
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let ceilings: Vec<(&str, &stoa::load::Report)> = ceilings.iter().map(|(l, r)| (*l, r)).collect();
        print!("{}", stoa::load::describe(&report, &ceilings));
    }
    Ok(if report.errors == 0 && report.unanswered == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A `stoa echo` child process on a free loopback port.
struct EchoChild {
    child: std::process::Child,
    url: String,
}

impl EchoChild {
    /// `durable`: the folder of its journal, for a durable echo.
    fn start(durable: Option<&std::path::Path>) -> anyhow::Result<EchoChild> {
        use std::io::BufRead as _;
        let exe = std::env::current_exe().context("cannot find the stoa executable")?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(["echo", "--addr", "127.0.0.1:0"]);
        if let Some(dir) = durable {
            cmd.arg("--durable").arg(dir);
        }
        let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().context("cannot start `stoa echo`")?;
        let stdout = child.stdout.take().context("no stdout of `stoa echo`")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let url = line.split_whitespace().find(|w| w.starts_with("ws://")).map(String::from);
        match url {
            Some(url) => Ok(EchoChild { child, url }),
            None => {
                let _ = child.kill();
                anyhow::bail!("`stoa echo` did not say its address: {line:?}")
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn echo(addr: String, durable: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    stoa::load::raise_fd_limit();
    let log = match &durable {
        Some(dir) => Some(std::sync::Arc::new(
            stoa::load::echo::DurableLog::open(dir).with_context(|| format!("cannot open a live journal in `{}`", dir.display()))?,
        )),
        None => None,
    };
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    tokio.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        println!("{}echo server on ws://{}", if log.is_some() { "durable " } else { "" }, listener.local_addr()?);
        match log {
            Some(log) => stoa::load::echo::serve_durable(listener, log).await?,
            None => stoa::load::echo::serve(listener).await?,
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

fn serve(addr: String, games_dir: PathBuf, data: PathBuf, demo: Option<String>, config: ServerConfig) -> anyhow::Result<()> {
    // Every participant's socket is an open file.
    stoa::load::raise_fd_limit();
    let runtime = std::sync::Arc::new(Runtime::new(RuntimeConfig::default())?);
    let games = load_games(&runtime, &games_dir)?;
    if games.is_empty() {
        // A shared server may have no games of its own: researchers upload theirs.
        println!("note: no games in `{}` (a game is a folder with a game.toml); researchers may upload theirs", games_dir.display());
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
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
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
