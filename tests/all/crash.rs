//! Kill -9 at random moments: `stoa serve` runs as a child process under live load, is killed
//! with SIGKILL several times and restarted on the same data dir. Every message any client
//! received must be in the log with its field effects, seqs have no gaps or duplicates, and
//! clients resume with `after=`.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::support::root;

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
}

impl Drop for Server {
    /// A test that fails midway leaves no server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `stoa serve` on a free port and waits until it accepts connections, with the
/// server's log (stderr, `info` level, no colours) going to `log`.
pub(crate) async fn spawn_logging_to(games: &std::path::Path, data: &std::path::Path, log: impl Into<Stdio>) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_stoa"))
        .args(["serve", "--addr", &addr, "--rate", "10000"])
        .arg("--games")
        .arg(games)
        .arg("--data")
        .arg(data)
        .env("STOA_CACHE_DIR", root().join("target/stoa-cache"))
        .env("STOA_ADMIN_TOKEN", crate::support::TOKEN)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn stoa serve");
    let started = Instant::now();
    while tokio::net::TcpStream::connect(&addr).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "stoa serve did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Server { child, addr }
}

/// A `--games` folder in `dir` linking the game packages at `paths` (from the repository root).
pub(crate) fn games_folder(dir: &std::path::Path, paths: &[&str]) -> std::path::PathBuf {
    let games = dir.join("games");
    std::fs::create_dir_all(&games).expect("mkdir");
    for path in paths {
        let name = std::path::Path::new(path).file_name().expect("a package folder");
        std::os::unix::fs::symlink(root().join(path), games.join(name)).expect("symlink");
    }
    games
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_message_a_client_received() {
    let dir = tempfile::tempdir().expect("tempdir");
    let games = games_folder(dir.path(), &["example-games/auction"]);
    let data = dir.path().join("data");
    let auction = crate::support::game("example-games/auction");
    let codes = {
        let store = stoa::Store::open(&data).expect("store");
        let (session, _) = store.create_session(&auction.manifest, 3).expect("session");
        store.wait_durable().expect("flush");
        session.participants
    };
    // Every frame each player received: seq → payload.
    let mut seen: Vec<BTreeMap<u64, Value>> = vec![BTreeMap::new(); 3];
    let mut bid = 0u64;
    for round in 0..4u64 {
        let log = std::fs::File::create(dir.path().join(format!("server-{round}.log"))).expect("log file");
        let mut server = spawn_logging_to(&games, &data, log).await;
        let mut sockets = Vec::new();
        for (i, code) in codes.iter().enumerate() {
            let after = seen[i].keys().next_back().copied().unwrap_or(0);
            let url = format!("ws://{}/live/{code}?page=Bid&after={after}", server.addr);
            sockets.push(tokio_tungstenite::connect_async(url).await.expect("connect").0);
        }
        // Load: each player bids as fast as replies come back, until the kill.
        // A random moment, printed so a failing run can be told apart.
        let after_ms = rand::random_range(80..450u64);
        println!("round {round}: SIGKILL after {after_ms} ms");
        let kill_at = Instant::now() + Duration::from_millis(after_ms);
        let mut killed = false;
        while !killed {
            for (i, ws) in sockets.iter_mut().enumerate() {
                bid += 1;
                let payload = if bid.is_multiple_of(3) { format!("{}", bid / 2) } else { format!(r#"{{"bid": {bid}}}"#) };
                if ws.send(Message::Text(payload.into())).await.is_err() {
                    killed = true;
                    break;
                }
                while let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(Duration::from_millis(2), ws.next()).await {
                    let frame: Value = serde_json::from_str(&t).expect("frame is JSON");
                    if let Some(seq) = frame["seq"].as_u64() {
                        assert!(seen[i].insert(seq, frame["data"].clone()).is_none(), "player {} got seq {seq} twice", i + 1);
                    }
                }
                if Instant::now() >= kill_at {
                    server.child.kill().expect("SIGKILL");
                    server.child.wait().expect("reap");
                    killed = true;
                    break;
                }
            }
        }
        // Drain what had already arrived before the kill.
        for (i, ws) in sockets.iter_mut().enumerate() {
            while let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(Duration::from_millis(50), ws.next()).await {
                let frame: Value = serde_json::from_str(&t).expect("frame is JSON");
                if let Some(seq) = frame["seq"].as_u64() {
                    seen[i].insert(seq, frame["data"].clone());
                }
            }
        }
    }
    // Resume once more with `after=` on a fresh server: each player must then hold exactly
    // the log's messages for them — nothing lost across the kills, nothing twice.
    let log = std::fs::File::create(dir.path().join("server-4.log")).expect("log file");
    let mut server = spawn_logging_to(&games, &data, log).await;
    for (i, code) in codes.iter().enumerate() {
        let after = seen[i].keys().next_back().copied().unwrap_or(0);
        let url = format!("ws://{}/live/{code}?page=Bid&after={after}", server.addr);
        let mut ws = tokio_tungstenite::connect_async(url).await.expect("connect").0;
        while let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
            let frame: Value = serde_json::from_str(&t).expect("frame is JSON");
            if let Some(seq) = frame["seq"].as_u64() {
                assert!(seen[i].insert(seq, frame["data"].clone()).is_none(), "player {} got seq {seq} twice", i + 1);
            }
        }
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reap");
    // Each kill came within 450 ms of a start, before sled's first background flush, so the
    // calls answered in that round were durable only in the live journal: the next start
    // replayed them from it (and the checks above found them all).
    for round in 1..=4 {
        let text = std::fs::read_to_string(dir.path().join(format!("server-{round}.log"))).expect("read log");
        assert!(text.contains("from the journal"), "the start after kill {round} replayed nothing from the journal:\n{text}");
    }
    let store = stoa::Store::open(&data).expect("reopen");
    let key = stoa::GroupKey { session: store.participant(&codes[0]).expect("p").expect("p").session, round: 1, group: 1 };
    let log: BTreeMap<u64, (u32, Value)> =
        store.messages(&key).expect("log").into_iter().map(|m| (m.seq, (m.to, serde_json::from_str(&m.payload).expect("json")))).collect();
    let received: usize = seen.iter().map(BTreeMap::len).sum();
    assert!(received > 30, "the load was too light to prove anything: {received} frames");
    let seqs: Vec<u64> = log.keys().copied().collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "seqs have gaps or duplicates");
    let mut max_seen = 0;
    for (i, frames) in seen.iter().enumerate() {
        for (seq, data) in frames {
            let (to, payload) = log.get(seq).unwrap_or_else(|| panic!("player {} received seq {seq}, which the log lost", i + 1));
            assert_eq!(payload, data, "seq {seq} differs from the log");
            assert!(*to == 0 || *to == i as u32 + 1, "seq {seq} reached the wrong player");
            if data["type"] == "new_max" {
                max_seen = max_seen.max(data["max_bid"].as_u64().unwrap_or(0));
            }
        }
    }
    for (i, frames) in seen.iter().enumerate() {
        let theirs: Vec<u64> = log.iter().filter(|(_, (to, _))| *to == 0 || *to == i as u32 + 1).map(|(s, _)| *s).collect();
        let got: Vec<u64> = frames.keys().copied().collect();
        assert_eq!(got, theirs, "player {} after resuming does not hold exactly its logged messages", i + 1);
    }
    let fields = store.group_fields(&auction.manifest, &key).expect("fields");
    assert!(fields["max_bid"].as_u64().unwrap_or(0) >= max_seen, "a received new max bid is missing from the fields");
    // The fields agree with the log, call for call: the maximum and its bidder are the last
    // logged new maximum, and each player's `bids` counts the bids the log answered for them
    // (their new maxima and their rejections).
    let last = log.values().rev().find(|(_, p)| p["type"] == "new_max").map(|(_, p)| p).expect("a new maximum was logged");
    assert_eq!((&fields["max_bid"], &fields["highest_bidder"]), (&last["max_bid"], &last["bidder"]), "fields vs the last logged new maximum");
    for id in 1..=3u32 {
        let logged = log.values().filter(|(to, p)| (p["type"] == "new_max" && p["bidder"] == id) || (p["type"] == "rejected" && *to == id)).count();
        let bids = store.player_fields(&auction.manifest, &key, id).expect("player fields")["bids"].clone();
        assert_eq!(bids, serde_json::json!(logged), "player {id}'s `bids` vs their logged bids");
    }
}
