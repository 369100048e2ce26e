//! What `stoa replay` catches, each on a real session: a payload edited in a bundle's log
//! (exit 1 naming the call), another build of the component (exit 2; with `--ignore-hash`,
//! exit 1 at its first differing call), games that draw from Rust's `rand`, Python's `random`
//! and JavaScript's `Math.random` and read the clock (replayed exactly, drawing otherwise
//! under another seed), a warm instance's module state (replayed while the server kept the
//! instance, not past a restart; `stoa check` warns), and hostile or broken bundles (exit 2).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::replay::{AUCTION, CHANCE, CHANCE_JS, CHANCE_PY, download_bundle, edited, export_of, finish_auction, pack, replay, replay_bundle, stoa};
use crate::server_support::{codes, create_session, live_send_at as send};
use crate::support::{TestServer, root};

/// An auction session of 3 on `server` with bids 10, 20 and 15, and a live payload shaped as
/// a page hook's (the game refuses it), finished; its bundle in `dir`.
async fn auction_bundle(server: &TestServer, dir: &Path) -> PathBuf {
    let info = create_session(server, "auction", 3).await;
    let people = codes(&info);
    let addr = server.addr.to_string();
    for (p, bid) in people.iter().zip([10, 20, 15]) {
        send(&addr, p, "Bid", &format!("{{\"bid\": {bid}}}")).await;
    }
    let mimic = r#"{"hook": "before-next-page", "values": {"bids": 99}, "timeout_happened": false}"#;
    assert!(send(&addr, &people[0], "Bid", mimic).await["error"].is_string(), "a live call the auction refuses");
    finish_auction(server, &people).await;
    download_bundle(&server.addr.to_string(), info["code"].as_str().expect("code"), dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_payload_and_another_build_of_the_component_are_caught() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[AUCTION], &dir.path().join("data")).await;
    let bundle = auction_bundle(&server, dir.path()).await;
    server.stop().await;
    let (status, out) = replay_bundle(&bundle);
    assert_eq!(status, 0, "the bundle as downloaded replays, the live call shaped as a hook one as a live call: {out}");

    // Player 2's bid of 20 edited to 5 in the log: the game answers it otherwise.
    let lowered = edited(&bundle, &dir.path().join("lowered.tar.gz"), |files| {
        let export = &mut files.iter_mut().find(|(n, _)| n == "export.json").expect("export").1;
        let text = String::from_utf8(export.clone()).expect("utf-8");
        assert_eq!(text.matches(r#""payload":{"bid": 20}"#).count(), 1, "the payload as the log holds it");
        *export = text.replace(r#""payload":{"bid": 20}"#, r#""payload":{"bid": 5}"#).into_bytes();
    });
    let (status, out) = replay_bundle(&lowered);
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains(
            r#"round 1 group 1 call 2 (sender 2) differs: messages: expected [0 → {"bidder":2,"max_bid":20,"type":"new_max"}], got [2 → {"bid":5,"max_bid":10,"type":"rejected"}]"#
        ),
        "{out}"
    );

    // Another build: the auction's 0.1 twin in place of the component.
    let other = std::fs::read(root().join("tests/fixtures/auction-v0_1/target/auction-v0_1.wasm")).expect("the 0.1 auction");
    let swapped = edited(&bundle, &dir.path().join("swapped.tar.gz"), |files| {
        files.iter_mut().find(|(n, _)| n == "target/auction.wasm").expect("the component").1 = other.clone();
    });
    let (status, out) = replay_bundle(&swapped);
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("not replayable: the component's SHA-256 is") && out.contains("another build of the game"), "{out}");
    let (status, out) = replay(&[swapped.as_os_str(), "--ignore-hash".as_ref()]);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("round 1 group 0 call 1 (sender 0) differs: the replay logged no entry for this call"), "{out}");
}

/// Plays a session of `game` (2 players) on `server`: three live calls, the second player's
/// last. The draws its frames carried, and its bundle in `dir`.
async fn chance_session(server: &TestServer, game: &str, dir: &Path) -> (Vec<Value>, PathBuf) {
    let info = create_session(server, game, 2).await;
    let people = codes(&info);
    let addr = server.addr.to_string();
    let mut draws = Vec::new();
    for p in [&people[0], &people[0], &people[1]] {
        let frame = send(&addr, p, "Draw", "{}").await;
        draws.push(frame["data"].clone());
    }
    (draws, download_bundle(&addr, info["code"].as_str().expect("code"), dir).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_rand_python_random_and_js_math_random_replay_exactly_and_draw_otherwise_under_another_seed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[CHANCE, CHANCE_PY, CHANCE_JS], &dir.path().join("data")).await;
    for game in ["chance", "chance-python", "chance-js"] {
        let (a, bundle_a) = chance_session(&server, game, &dir.path().join(format!("{game}-a"))).await;
        let (b, bundle_b) = chance_session(&server, game, &dir.path().join(format!("{game}-b"))).await;
        let draws = |d: &[Value]| d.iter().map(|m| m["draw"].as_str().expect("a draw").to_string()).collect::<Vec<_>>();
        let (da, db) = (draws(&a), draws(&b));
        assert!(da.iter().all(|d| !db.contains(d)), "{game}: another seed draws otherwise: {da:?} {db:?}");
        assert_ne!(da[0], da[1], "{game}: two calls draw otherwise");
        assert!(a[0]["now_ms"].as_u64().is_some_and(|t| t > 1_700_000_000_000), "{game}: the call's time: {}", a[0]);
        for bundle in [&bundle_a, &bundle_b] {
            let (status, out) = replay_bundle(bundle);
            assert_eq!(status, 0, "{game}: {out}");
        }
        if game == "chance" {
            let first = |bundle: &Path| export_of(bundle)["session_fields"]["first_draw"].as_str().expect("first_draw").to_string();
            assert_ne!(first(&bundle_a), first(&bundle_b), "creating-session draws from the session's seed too");
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_instance_replays_exactly_until_the_server_lost_it_and_check_warns_of_that() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = TestServer::start(&[CHANCE], &data).await;
    let info = create_session(&server, "chance", 2).await;
    let (code, people) = (info["code"].as_str().expect("code").to_string(), codes(&info));
    let addr = server.addr.to_string();
    for n in 1..=3 {
        assert_eq!(send(&addr, &people[0], "Draw", "{}").await["data"]["calls_on_instance"], n, "one warm instance for the group");
    }
    let (status, out) = replay_bundle(&download_bundle(&addr, &code, dir.path()).await);
    assert_eq!(status, 0, "module state kept on the group's instance is replayed in order: {out}");
    server.stop().await;

    // A restart drops the instance; its count starts again, which the log cannot tell.
    let server = crate::server_support::start_when_released(&[CHANCE], &data).await;
    let addr = server.addr.to_string();
    assert_eq!(send(&addr, &people[0], "Draw", "{}").await["data"]["calls_on_instance"], 1);
    let (status, out) = replay_bundle(&download_bundle(&addr, &code, &dir.path().join("after")).await);
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("round 1 group 1 call 4 (sender 1) differs: messages:") && out.contains("\"calls_on_instance\":1"), "{out}");
    server.stop().await;

    let check = |path: &str| String::from_utf8_lossy(&stoa(&["check".as_ref(), root().join(path).as_os_str()]).stdout).into_owned();
    let warned = check(CHANCE);
    assert!(warned.contains("warning: warm_instances = true: `stoa replay`") && warned.contains("a server restart, 60 s idle"), "{warned}");
    assert!(!check(AUCTION).contains("warning"), "no warm instances, no warning");
}

/// A tar.gz holding one entry named `name` whose header says `size` bytes, followed by
/// `data` (raw: the header may lie about the size).
fn raw_tar_gz(name: &str, size: u64, data: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut tar = header.as_bytes().to_vec();
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).expect("gzip");
    gz.finish().expect("gzip")
}

#[test]
fn hostile_and_broken_bundles_and_data_folders_are_not_replayable_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    };
    let cases: Vec<(PathBuf, &str)> = vec![
        (write("garbage.tar.gz", b"\x1f\x8b not really gzip"), "is not a readable bundle"),
        (write("escape.tar.gz", &raw_tar_gz("../escaped", 4, b"evil")), "entry `../escaped`: names may not be absolute or contain `..`"),
        (write("huge.tar.gz", &raw_tar_gz("export.json", 4 << 30, b"")), "the archive unpacks to more than 1073741824 bytes"),
        (write("nogame.tar.gz", &raw_tar_gz("export.json", 2, b"{}")), "the archive has no game.toml"),
        (dir.path().join("missing.tar.gz"), "cannot read bundle"),
    ];
    for (bundle, why) in &cases {
        let (status, out) = replay_bundle(bundle);
        assert_eq!(status, 2, "{}: {out}", bundle.display());
        assert!(out.contains("stoa replay: not replayable: ") && out.contains(why), "{}: {out}", bundle.display());
        assert!(!out.contains("panicked"), "{out}");
    }
    assert!(!dir.path().join("escaped").exists(), "nothing was written outside the unpacking folder");

    // A package with an export that is not a session's.
    let package = root().join(AUCTION);
    let mut files: Vec<(String, Vec<u8>)> = ["game.toml", "target/auction.wasm", "templates/Bid.hbs", "templates/Results.hbs"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(package.join(f)).expect("package file")))
        .collect();
    files.push(("export.json".into(), b"{\"session\": 1}".to_vec()));
    pack(&dir.path().join("badexport.tar.gz"), &files);
    let (status, out) = replay_bundle(&dir.path().join("badexport.tar.gz"));
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("the bundle's export.json: the export is not a session's JSON export"), "{out}");

    let data = dir.path().join("data");
    drop(stoa::Store::open(&data).expect("a data folder"));
    let (status, out) = replay(&["--data".as_ref(), data.as_os_str(), "NOSUCH".as_ref()]);
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("the data folder has no session `NOSUCH`"), "{out}");
    let (status, out) = replay(&["--data".as_ref(), dir.path().join("nodata").as_os_str(), "X".as_ref()]);
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("no data folder"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_of_a_0_1_game_replays_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["tests/fixtures/auction-v0_1"], &dir.path().join("data")).await;
    let info = create_session(&server, "auction-v0_1", 3).await;
    let addr = server.addr.to_string();
    for (p, bid) in codes(&info).iter().zip([4, 8, 2]) {
        send(&addr, p, "Bid", &format!("{{\"bid\": {bid}}}")).await;
    }
    let bundle = download_bundle(&addr, info["code"].as_str().expect("code"), dir.path()).await;
    server.stop().await;
    let (status, out) = replay_bundle(&bundle);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("reproduced 3 calls exactly"), "no creating-session in 0.1: {out}");
}
