//! Core benchmarks, run with `make bench` (`cargo bench -p stoa-host --bench core`).
//!
//! 1. Per-call cost of a live call: fresh instance + `live-method` + the call's sled
//!    transaction (no fsync), median and p99, for each auction that is built.
//! 2. The same with a durable flush per call and with group commit across 2 threads.
//! 3. Headless bot throughput: `stoa bots` of the auction over many groups, live calls per second.
//!
//! Figures are printed as a table; docs/PERFORMANCE.md keeps the latest ones.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stoa::game::Seat;
use stoa::{Game, GroupKey, Runtime, RuntimeConfig, Store, bots};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("root").to_path_buf()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn micros(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

/// Runs `calls` live calls spread over groups of one session, `per_group` calls each, and
/// returns each call's duration.
fn per_call(game: &Arc<Game>, store: &Store, calls: usize, per_group: usize, durable: bool, warm_up: bool) -> Vec<Duration> {
    let ppg = game.manifest.group_size(1);
    let groups = calls.div_ceil(per_group) as u32;
    let (session, _) = store.create_session(&game.manifest, groups * ppg).expect("session");
    let mut times = Vec::with_capacity(calls);
    for g in 1..=groups {
        let mut group = store.group(GroupKey { session: session.code.clone(), round: 1, group: g }, ppg).expect("group");
        // Kept between the group's calls when the game has `warm_instances`.
        let mut slot = None;
        for i in 0..per_group {
            let id = (i as u32 % ppg) + 1;
            // Rising and falling bids: half broadcast a new max, half are rejected.
            let bid = if i % 2 == 0 { 10 * (i + 1) } else { 1 };
            let payload = format!(r#"{{"bid": {bid}, "seq": {i}}}"#);
            let t = Instant::now();
            let result = game.live_call_in(&mut slot, store, &mut group, "Bid", id, &payload);
            // The warm-up pass tolerates a slow first call (pages of a big component faulted
            // in); every measured call must succeed.
            if let Err(e) = result {
                assert!(warm_up, "live call failed: {e}");
                eprintln!("warm-up call failed: {e}");
            }
            if durable {
                store.wait_durable().expect("durable");
            }
            times.push(t.elapsed());
        }
    }
    times
}

/// `STOA_BENCH=percall,durable,bots` runs only those sections (all by default).
fn section(name: &str) -> bool {
    std::env::var("STOA_BENCH").map(|v| v.split(',').any(|s| s == name)).unwrap_or(true)
}

fn main() {
    let cache = root().join("target/stoa-cache");
    let runtime = Runtime::new(RuntimeConfig { cache_dir: Some(cache), ..RuntimeConfig::default() }).expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let auctions: Vec<(&str, Arc<Game>)> = ["auction", "auction-python", "auction-js"]
        .iter()
        .filter(|name| root().join("example-games").join(name).join("game.toml").is_file())
        // `STOA_BENCH_GAMES=auction,auction-js` limits the games measured.
        .filter(|name| std::env::var("STOA_BENCH_GAMES").map(|v| v.split(',').any(|g| g == **name)).unwrap_or(true))
        .filter_map(|name| match Game::load(&runtime, &root().join("example-games").join(name)) {
            Ok(g) => Some((*name, g)),
            Err(e) => {
                eprintln!("skipping {name}: {e}");
                None
            }
        })
        .collect();

    if section("load") {
        // A restart: a new engine loading every game whose compiled form is already cached.
        println!("\n## Start-up with the compiled-component cache warm\n");
        println!("| what | ms |");
        println!("|---|---|");
        let started = Instant::now();
        let cache = root().join("target/stoa-cache");
        let fresh = Runtime::new(RuntimeConfig { cache_dir: Some(cache), ..RuntimeConfig::default() }).expect("runtime");
        println!("| engine and linker | {:.1} |", started.elapsed().as_secs_f64() * 1e3);
        for (name, _) in &auctions {
            let t = Instant::now();
            Game::load(&fresh, &root().join("example-games").join(name)).expect("load");
            println!("| load `{name}` (cached) | {:.1} |", t.elapsed().as_secs_f64() * 1e3);
        }
        println!("| all of the above | {:.1} |", started.elapsed().as_secs_f64() * 1e3);
    }

    if section("percall") {
        println!("\n## Per-call cost (fresh instance + live-method + sled transaction)\n");
        println!("| game | calls | median µs | p99 µs | calls/s (1 thread) |");
        println!("|---|---|---|---|---|");
        for (name, game) in &auctions {
            let store = if std::env::var("STOA_BENCH_TEMP").is_ok() {
                Store::temporary().expect("store")
            } else {
                Store::open(&dir.path().join(format!("percall-{name}"))).expect("store")
            };
            let n = if *name == "auction" { 20_000 } else { 2_000 };
            per_call(game, &store, n / 10, 10, false, true);
            let mut t = per_call(game, &store, n, 10, false, false);
            t.sort();
            let total: Duration = t.iter().sum();
            // The same calls' wasm part alone: a fresh instance running a read-only export.
            let (session, _) = store.create_session(&game.manifest, game.manifest.group_size(1)).expect("session");
            let key = GroupKey { session: session.code, round: 1, group: 1 };
            let mut w: Vec<Duration> = (0..n / 4)
                .map(|_| {
                    let t = Instant::now();
                    game.vars_for_template(
                        &mut None,
                        &store,
                        Seat { group: &key, players: game.manifest.group_size(1), page: "Results", id_in_group: 1 },
                    )
                    .expect("vars");
                    t.elapsed()
                })
                .collect();
            w.sort();
            println!(
                "| {name} (fresh instance + vars-for-template only) | {} | {} | {} | - |",
                n / 4,
                micros(percentile(&w, 0.5)),
                micros(percentile(&w, 0.99))
            );
            println!("| {name} | {n} | {} | {} | {:.0} |", micros(percentile(&t, 0.5)), micros(percentile(&t, 0.99)), n as f64 / total.as_secs_f64());
        }
    }

    if let Some((_, auction)) = auctions.iter().find(|(n, _)| *n == "auction").filter(|_| section("durable")) {
        println!("\n## Durable calls (fsync before the call returns), Rust auction\n");
        println!("| mode | calls | median µs | p99 µs | calls/s | journal fsyncs | sled flushes |");
        println!("|---|---|---|---|---|---|---|");
        // Fsyncs between two readings of `Store::flushes`: (journal, sled).
        let since = |store: &Store, (j, s): (u64, u64)| {
            let (j2, s2) = store.flushes();
            format!("{} | {}", j2 - j, s2 - s)
        };
        let store = Store::open(&dir.path().join("durable-1")).expect("store");
        let before = store.flushes();
        let mut t = per_call(auction, &store, 2_000, 10, true, false);
        t.sort();
        let total: Duration = t.iter().sum();
        println!(
            "| 1 thread, flush per call | 2000 | {} | {} | {:.0} | {} |",
            micros(percentile(&t, 0.5)),
            micros(percentile(&t, 0.99)),
            2000.0 / total.as_secs_f64(),
            since(&store, before)
        );
        let store = Store::open(&dir.path().join("durable-8")).expect("store");
        let before = store.flushes();
        let started = Instant::now();
        let threads = 8;
        let all: Vec<Duration> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads).map(|_| s.spawn(|| per_call(auction, &store, 1_000, 10, true, false))).collect();
            hs.into_iter().flat_map(|h| h.join().expect("thread")).collect()
        });
        let wall = started.elapsed();
        let mut t = all;
        t.sort();
        println!(
            "| {threads} groups at once, group commit | {} | {} | {} | {:.0} | {} |",
            t.len(),
            micros(percentile(&t, 0.5)),
            micros(percentile(&t, 0.99)),
            t.len() as f64 / wall.as_secs_f64(),
            since(&store, before)
        );
    }

    if !section("bots") {
        return;
    }
    println!("\n## Headless bots (`stoa bots`), live calls per second\n");
    println!("| game | participants | threads | live calls | seconds | live calls/s |");
    println!("|---|---|---|---|---|---|");
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    for (name, game) in &auctions {
        let participants =
            std::env::var("STOA_BENCH_PARTICIPANTS").ok().and_then(|v| v.parse().ok()).unwrap_or(if *name == "auction" { 3_000 } else { 300 });
        let store = Store::temporary().expect("store");
        let report = bots::run(game, &store, participants, Some("a"), threads).expect("bots");
        assert!(report.passed, "{name}: {:?}", report.failures());
        println!(
            "| {name} | {participants} | {threads} | {} | {:.3} | {:.0} |",
            report.live_calls,
            report.seconds,
            report.live_calls as f64 / report.seconds
        );
    }
}
