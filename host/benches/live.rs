//! The live benchmark: `stoa serve` in its own process, driven over real loopback sockets by
//! the `stoa load` client, next to two ceilings driven the same way in the same run: a bare
//! WebSocket echo server (`stoa echo`) and one that echoes each message only once it is on
//! disk in Stoa's live journal (`stoa echo --durable`, its journal on the same disk as the
//! servers' data). Prints the tables of docs/PERFORMANCE.md.
//!
//! Per game (the Rust and Python auctions) and group size (3, and 10 with the count rounded
//! down to a multiple of 10): saturation with one message in flight per participant at 21,
//! 201 and 1,002 participants (the Rust auction at 21, fresh and warm, three runs each: the
//! median is shown); then the Rust auction at 1,002 participants at half and at a
//! quarter of the rate it saturated at (open loop, three runs each, and both echo servers at
//! the same rate, with the disk's own fdatasync latency measured just before and after), and
//! 10,002 idle connected participants (server RSS).
//!
//! Every run first sends for `STOA_LIVE_WARMUP` seconds (default 1) whose messages are left
//! out of its figures: a server just started sets up what its first calls need (runner
//! threads, instance slots, its caches) once; the open-loop rows show that warm-up's p99 and
//! max apart.
//!
//! `STOA_LIVE_SECONDS` (default 3) is the sending time of each run; `STOA_LIVE_GAMES`
//! (default `auction,auction-python`) the games; `STOA_LIVE_IDLE` (default 10002) the idle
//! participants (0: skip).

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use stoa::load::{self, Config, Mode, Report, Target};

const TOKEN: &str = "bench-token";

/// Runs of the target's rows (the Rust auction at 21 participants, fresh and warm).
const HEADLINE_RUNS: usize = 3;

/// Open-loop runs of the auction per share of its saturation rate.
const OPEN_RUNS: usize = 3;

fn main() {
    let seconds: f64 = env_or("STOA_LIVE_SECONDS", 3.0);
    let warmup: f64 = env_or("STOA_LIVE_WARMUP", 1.0);
    let games: Vec<String> =
        std::env::var("STOA_LIVE_GAMES").unwrap_or_else(|_| "auction,auction-python".into()).split(',').map(String::from).collect();
    let idle: u32 = env_or("STOA_LIVE_IDLE", 10_002);
    let fds = load::raise_fd_limit();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let counts = [21u32, 201, 1002];
    let saturate = |url: &str, target: Target, pid: u32| Config {
        url: url.into(),
        target,
        mode: Mode::Saturation { window: 1 },
        payload: r#"{"bid": {n}}"#.into(),
        messages: 10_000_000,
        duration: Duration::from_secs_f64(seconds),
        drain: Duration::from_secs(10),
        warmup: Duration::from_secs_f64(warmup),
        allow_hosts: vec![],
        server_pid: Some(pid),
        progress: false,
    };

    println!("\n## Live: `stoa serve` and `stoa echo` driven by `stoa load` on this machine\n");
    println!("Saturation, one message in flight per participant, `{{\"bid\": n}}` with n rising (every bid a new");
    println!("maximum unless overtaken), {seconds} s per run after {warmup} s of warm-up (left out); durable commits on. Open files: {fds}.\n");

    // Both ceilings at each count, one after the other: (count, [echo, durable echo]).
    let ceilings: Vec<(u32, [Report; 2])> = counts
        .iter()
        .map(|&n| {
            let runs = [false, true].map(|durable| {
                let echo = Server::echo(durable);
                run(&saturate(&echo.url, Target::Echo { participants: n }, echo.pid()))
            });
            (n, runs)
        })
        .collect();
    // The ceilings' runs (echo, durable echo) at the count nearest `n`, for the ratios.
    let ceiling = |n: u32| ceilings.iter().min_by_key(|(c, _)| c.abs_diff(n)).map_or([None, None], |(_, [e, d])| [Some(e), Some(d)]);

    println!(
        "| server | group | participants | msgs/s | × echo | × durable echo | frames/s | × echo | p50 ms | p99 ms | max ms | server CPU | errors | unanswered |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (n, [echo, durable]) in &ceilings {
        row("echo", "-", *n, echo, None, None);
        row("durable echo", "-", *n, durable, Some(echo), None);
    }
    let mut rust_1002: Option<Report> = None;
    // The target's rows (the Rust auction at 21 participants, fresh and warm) run
    // HEADLINE_RUNS times; the row shows the median run, the line after the table all of them.
    let mut headline = Vec::new();
    let median_of = |label: &str, runs: Vec<Report>, headline: &mut Vec<String>| -> Report {
        let mut runs = runs;
        runs.sort_by(|a, b| a.messages_per_second.total_cmp(&b.messages_per_second));
        let each: Vec<String> = runs.iter().map(|r| format!("{:.0}", r.messages_per_second)).collect();
        headline.push(format!("{label}: {} msgs/s", each.join(", ")));
        runs.swap_remove(runs.len() / 2)
    };
    for game in &games {
        for ppg in [3u32, 10] {
            let dir = game_copy(&root.join("example-games").join(game), ppg, false);
            let server = Server::stoa(dir.path());
            for &n in &counts {
                let n = n - n % ppg;
                let target = || saturate(&server.url, new_session(game, n), server.pid());
                let r = if game == "auction" && ppg == 3 && n == 21 {
                    median_of("auction (fresh instance per call)", (0..HEADLINE_RUNS).map(|_| run(&target())).collect(), &mut headline)
                } else {
                    run(&target())
                };
                let [echo, durable] = ceiling(n);
                row(game, &ppg.to_string(), n, &r, echo, durable);
                if game == "auction" && ppg == 3 && n == 1002 {
                    rust_1002 = Some(r);
                }
            }
        }
    }
    // The Rust auction as its author could configure it: a fresh instance per call is the
    // default (and what the rows above measure); `warm_instances = true` keeps one per group.
    if games.iter().any(|g| g == "auction") {
        let dir = game_copy(&root.join("example-games/auction"), 3, true);
        let server = Server::stoa(dir.path());
        let runs = (0..HEADLINE_RUNS).map(|_| run(&saturate(&server.url, new_session("auction", 21), server.pid()))).collect();
        let r = median_of("auction with warm_instances", runs, &mut headline);
        let [echo, durable] = ceiling(21);
        row("auction, warm_instances", "3", 21, &r, echo, durable);
    }
    if !headline.is_empty() {
        println!("\nThe Rust auction at 21 participants, {HEADLINE_RUNS} runs each (the rows above are the median runs): {}.", headline.join("; "));
        if let [Some(echo), Some(durable)] = ceiling(21)
            && echo.messages_per_second > 0.0
        {
            println!(
                "\nAt 21 participants the durable echo — every message written to the journal before its echo, no game, no store — ran at {:.2}× the bare echo: what a server answering only once each message is in this journal gets here at most.",
                durable.messages_per_second / echo.messages_per_second
            );
        }
    }

    if let Some(sat) = rust_1002.filter(|r| r.messages_per_second > 0.0) {
        // Half of saturation is the target's rate; a quarter shows where the latency stands
        // when the machine is not nearly full. A p99 of one short open-loop run on a shared VM
        // swings by 10x from run to run, so each share runs OPEN_RUNS times (a fresh server
        // each), and the echo server at the same rate shows what the machine itself allowed
        // at that moment.
        println!(
            "\nOpen loop: 1,002 participants, at a fixed share of the rate the auction saturated at above ({:.0} msg/s), {OPEN_RUNS} runs of the auction (a fresh server each) and one of each echo server at the same rate; latency from the scheduled send, which includes the client's own send lag; the warm-up's messages (the first {warmup} s of each run) apart\n",
            sat.messages_per_second
        );
        println!(
            "| share | server | msgs/s | p50 ms | p90 ms | p99 ms | max ms | server CPU | client CPU | client send lag p99 ms | errors | unanswered | warm-up p99 ms | warm-up max ms |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        let mut summary = Vec::new();
        let disk_before = disk_probe(DISK_PROBE);
        for (share, label) in [(0.5, "half"), (0.25, "quarter")] {
            let rate = Mode::Rate { per_second: sat.messages_per_second * share };
            let mut p99s = Vec::new();
            for i in 1..=OPEN_RUNS {
                let dir = game_copy(&root.join("example-games/auction"), 3, false);
                let server = Server::stoa(dir.path());
                let r = run(&Config { mode: rate, ..saturate(&server.url, new_session("auction", 1002), server.pid()) });
                open_row(label, &format!("auction, run {i}"), &r);
                p99s.push(r.latency.p99_ms);
            }
            let mut ceiling_p99 = Vec::new();
            for (name, durable) in [("echo", false), ("durable echo", true)] {
                let echo = Server::echo(durable);
                let r = run(&Config { mode: rate, ..saturate(&echo.url, Target::Echo { participants: 1002 }, echo.pid()) });
                open_row(label, name, &r);
                ceiling_p99.push(format!("{name} {:.2}", r.latency.p99_ms));
            }
            p99s.sort_by(f64::total_cmp);
            summary.push(format!(
                "{label}: median {:.2} ms ({:.2}–{:.2}; {})",
                p99s[p99s.len() / 2],
                p99s[0],
                p99s[p99s.len() - 1],
                ceiling_p99.join(", ")
            ));
        }
        println!("\np99 of the auction's open-loop runs: {}.", summary.join("; "));
        // Every message waits for an fdatasync: the disk's own tail bounds the server's.
        println!(
            "\nThe disk, alone, just before and just after these runs (fdatasync of 512 bytes into a file of zeros, as the journal writes, for {} s each): {}; {}.",
            DISK_PROBE.as_secs(),
            disk_before,
            disk_probe(DISK_PROBE)
        );
    }

    if idle > 0 {
        let dir = game_copy(&root.join("example-games/auction"), 3, false);
        let server = Server::stoa(dir.path());
        let before = load::process_rss_bytes(server.pid()).unwrap_or(0);
        let config = Config { mode: Mode::Idle { hold_seconds: 2.0 }, ..saturate(&server.url, new_session("auction", idle), server.pid()) };
        let r = run(&config);
        let after = r.server_rss_bytes.unwrap_or(0);
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        println!("\nIdle: {idle} participants of the auction connected, silent for 2 s\n");
        println!("| participants | connect s | server RSS before MiB | with every socket open MiB | KiB per participant | errors |");
        println!("|---|---|---|---|---|---|");
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            r.participants,
            r.connect_seconds,
            mib(before),
            mib(after),
            after.saturating_sub(before) as f64 / 1024.0 / f64::from(r.participants.max(1)),
            r.errors
        );
    }
}

/// How long the disk probe runs.
const DISK_PROBE: Duration = Duration::from_secs(5);

/// fdatasync latency of this machine's disk (where the servers' data goes): `pwrite` of 512
/// bytes at rising offsets of a file already written as zeros, then `fdatasync`, every
/// 0.5 ms for `length` — what the live journal does for each batch.
fn disk_probe(length: Duration) -> String {
    use std::os::unix::fs::FileExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("probe");
    let size = 16u64 << 20;
    std::fs::write(&path, vec![0u8; size as usize]).expect("write the probe file");
    let file = std::fs::OpenOptions::new().write(true).open(&path).expect("open the probe file");
    file.sync_all().expect("sync the probe file");
    let mut times = Vec::new();
    let started = std::time::Instant::now();
    while started.elapsed() < length {
        let t = std::time::Instant::now();
        file.write_all_at(&[b'x'; 512], (times.len() as u64 * 4096) % size).expect("probe write");
        file.sync_data().expect("probe fdatasync");
        times.push(t.elapsed());
        std::thread::sleep(Duration::from_micros(500));
    }
    times.sort();
    let ms = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    let slow = times.iter().filter(|t| **t > Duration::from_millis(50)).count();
    format!("{} fsyncs, p50 {:.2} ms, p99 {:.2}, p99.9 {:.2}, max {:.2}, {slow} over 50 ms", times.len(), ms(0.5), ms(0.99), ms(0.999), ms(1.0))
}

/// One open-loop row.
fn open_row(share: &str, server: &str, r: &Report) {
    let l = &r.latency;
    let lag = r.send_lag.as_ref().map_or(0.0, |g| g.p99_ms);
    let warm = r.warmup.as_ref().map_or("- | -".to_string(), |w| format!("{:.2} | {:.2}", w.latency.p99_ms, w.latency.max_ms));
    println!(
        "| {share} | {server} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {lag:.2} | {} | {} | {warm} |",
        r.messages_per_second,
        l.p50_ms,
        l.p90_ms,
        l.p99_ms,
        l.max_ms,
        cpu(r),
        r.client_cpu_cores,
        r.errors,
        r.unanswered
    );
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn new_session(game: &str, participants: u32) -> Target {
    Target::NewSession { token: TOKEN.into(), game: game.into(), participants }
}

fn run(config: &Config) -> Report {
    match load::run(config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("load run failed: {e:#}");
            Report { first_error: Some(format!("{e:#}")), errors: 1, ..Report::default() }
        }
    }
}

fn cpu(r: &Report) -> String {
    r.server_cpu_cores.map_or("-".into(), |c| format!("{c:.2}"))
}

/// A table row, with its ratios to the echo and durable echo runs at this count where given.
fn row(server: &str, group: &str, n: u32, r: &Report, echo: Option<&Report>, durable: Option<&Report>) {
    let ratio = |a: f64, b: Option<f64>| match b {
        Some(b) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    };
    let l = &r.latency;
    println!(
        "| {server} | {group} | {n} | {:.0} | {} | {} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} |",
        r.messages_per_second,
        ratio(r.messages_per_second, echo.map(|e| e.messages_per_second)),
        ratio(r.messages_per_second, durable.map(|d| d.messages_per_second)),
        r.frames_per_second,
        ratio(r.frames_per_second, echo.map(|e| e.frames_per_second)),
        l.p50_ms,
        l.p99_ms,
        l.max_ms,
        cpu(r),
        r.errors,
        r.unanswered
    );
    if let Some(e) = &r.first_error {
        eprintln!("  {server} {n}: first error: {e}");
    }
}

/// A copy of the game package in `src` (manifest, templates, component) with groups of
/// `players_per_group` (and, when `warm`, `warm_instances = true`: one instance serves a
/// group's successive calls).
fn game_copy(src: &Path, players_per_group: u32, warm: bool) -> tempfile::TempDir {
    let games = tempfile::tempdir().expect("tempdir");
    let name = src.file_name().expect("game dir name");
    let dst = games.path().join(name);
    let manifest = std::fs::read_to_string(src.join("game.toml")).expect("game.toml");
    let component = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("component").map(|v| v.trim().trim_start_matches('=').trim().trim_matches('"').to_string()))
        .expect("component in game.toml");
    let edited: String = manifest
        .lines()
        .map(|l| if l.trim_start().starts_with("players_per_group") { format!("players_per_group = {players_per_group}") } else { l.to_string() })
        .filter(|l| !(warm && l.trim_start().starts_with("warm_instances")))
        .collect::<Vec<_>>()
        .join("\n");
    let edited = if warm { format!("warm_instances = true\n{edited}") } else { edited };
    std::fs::create_dir_all(dst.join(Path::new(&component).parent().unwrap_or(Path::new("")))).expect("mkdir");
    std::fs::write(dst.join("game.toml"), edited).expect("write game.toml");
    std::fs::copy(src.join(&component), dst.join(&component)).expect("copy the component: run `make games` first");
    copy_dir(&src.join("templates"), &dst.join("templates"));
    games
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("read templates").flatten() {
        let to = dst.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).expect("copy template");
        }
    }
}

/// A `stoa serve` or `stoa echo` child on a free loopback port, killed on drop (its data or
/// journal folder removed).
struct Server {
    child: Child,
    url: String,
    _data: Option<tempfile::TempDir>,
}

impl Server {
    fn stoa(games: &Path) -> Server {
        let data = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stoa"));
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--rate", "1000000000"])
            .arg("--games")
            .arg(games)
            .arg("--data")
            .arg(data.path().join("db"))
            .env("STOA_ADMIN_TOKEN", TOKEN)
            .env("RUST_LOG", "warn");
        Server::start(cmd, "http://", Some(data))
    }

    /// A bare echo server, or (`durable`) one writing every message to a journal in a
    /// temporary folder (the same disk as `stoa`'s data folders) before echoing it.
    fn echo(durable: bool) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stoa"));
        cmd.args(["echo", "--addr", "127.0.0.1:0"]);
        let data = durable.then(|| tempfile::tempdir().expect("tempdir"));
        if let Some(d) = &data {
            cmd.arg("--durable").arg(d.path().join("journal"));
        }
        Server::start(cmd, "ws://", data)
    }

    fn start(mut cmd: Command, scheme: &str, data: Option<tempfile::TempDir>) -> Server {
        let mut child = cmd.stdout(Stdio::piped()).spawn().expect("start stoa");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let url = loop {
            let line = lines.next().and_then(Result::ok).unwrap_or_else(|| panic!("the server ended without saying its address"));
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with(scheme)) {
                break url.trim_end_matches('/').to_string();
            }
        };
        // Keep reading its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, url, _data: data }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
