//! Replay speed, run with `make bench` (`cargo bench -p stoa-host --bench replay`): a session
//! of each auction (Rust, Python) played with live calls in a store, then `stoa replay`'s
//! engine over it — the session made again in a scratch store, every call re-issued and
//! compared — printed as calls replayed per second.

use std::path::PathBuf;
use std::time::Instant;

use stoa::replay::{Options, Recorded, replay};
use stoa::{Game, GroupKey, Runtime, RuntimeConfig, Store};

/// Groups per session and live calls per group.
const GROUPS: u32 = 50;
const CALLS_PER_GROUP: usize = 100;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("root").to_path_buf()
}

/// A session of `game` played in `store`: every group's bids, rising and falling.
fn play(game: &Game, store: &Store) -> String {
    let ppg = game.manifest.group_size(1);
    let (session, _) = game.create_default_session(store, GROUPS * ppg).expect("session");
    for g in 1..=GROUPS {
        let mut group = store.group(GroupKey { session: session.code.clone(), round: 1, group: g }, ppg).expect("group");
        let mut slot = None;
        for i in 0..CALLS_PER_GROUP {
            let bid = if i % 2 == 0 { 10 * (i + 1) } else { 1 };
            game.live_call_in(&mut slot, store, &mut group, "Bid", (i as u32 % ppg) + 1, &format!(r#"{{"bid": {bid}}}"#)).expect("live call");
        }
    }
    store.write_back_all().expect("write back");
    session.code
}

fn main() {
    let runtime = Runtime::new(RuntimeConfig { cache_dir: Some(root().join("target/stoa-cache")), ..RuntimeConfig::default() }).expect("runtime");
    println!("| game | calls replayed | seconds | calls/s |");
    println!("|---|---:|---:|---:|");
    for path in ["example-games/auction", "example-games/auction-python"] {
        let game = match Game::load(&runtime, &root().join(path)) {
            Ok(g) => g,
            Err(e) => panic!("cannot load {path} (run `make games` first): {e}"),
        };
        let store = Store::temporary().expect("store");
        let code = play(&game, &store);
        let recorded = Recorded::from_store(&store, &code).expect("recorded");
        let started = Instant::now();
        let calls = replay(&game, &recorded, Options::default(), &mut |_, _| {}).unwrap_or_else(|e| panic!("{path}: the replay failed: {e:?}"));
        let seconds = started.elapsed().as_secs_f64();
        println!("| {} | {calls} | {seconds:.2} | {:.0} |", game.name(), calls as f64 / seconds);
    }
}
