//! `stoa replay` and what it needs: the seed and the provenance block in a session's export,
//! export bundles over HTTP, and replays of real sessions — from a bundle and from a stopped
//! server's data folder — that exit 0 when every call is reproduced, 1 naming the first call
//! that differs (a payload edited in the log, another build of the component) and 2 when the
//! session cannot be replayed (a hash mismatch, a hostile or broken bundle). Games that draw
//! from Rust's `rand`, Python's `random` and JavaScript's `Math.random` replay exactly, and
//! draw differently under another seed.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::crash::{Server, games_folder, spawn_logging_to};
use crate::server_support::{codes, create_session, get, get_admin, live_send_at as send, submit};
use crate::support::{TOKEN, TestServer, root};

const AUCTION: &str = "example-games/auction";
const CHANCE: &str = "tests/fixtures/chance";
const CHANCE_PY: &str = "tests/fixtures/chance-python";
const CHANCE_JS: &str = "tests/fixtures/chance-js";

/// `stoa ARGS`, with the shared compiled-component cache.
fn stoa(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stoa"))
        .args(args)
        .env("STOA_CACHE_DIR", root().join("target/stoa-cache"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run stoa")
}

/// `stoa replay` with `args`: its exit code and its stdout and stderr together.
fn replay(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["replay".as_ref()];
    all.extend_from_slice(args);
    let out = stoa(&all);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// `stoa replay BUNDLE`.
fn replay_bundle(bundle: &Path) -> (i32, String) {
    replay(&[bundle.as_os_str()])
}

/// `GET path` on the server at `addr` with the admin token: status and body bytes.
async fn get_bytes(addr: &str, path: &str) -> (u16, Vec<u8>) {
    get_bytes_as(addr, path, TOKEN).await
}

/// [`get_bytes`] with `token`.
async fn get_bytes_as(addr: &str, path: &str, token: &str) -> (u16, Vec<u8>) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = axum::http::Request::get(format!("http://{addr}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = client.request(req).await.expect("answer");
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.expect("body").to_bytes().to_vec())
}

/// Downloads session `code`'s bundle from `addr` into `dir`.
async fn download_bundle(addr: &str, code: &str, dir: &Path) -> PathBuf {
    let (status, bytes) = get_bytes(addr, &format!("/api/sessions/{code}/bundle")).await;
    assert_eq!(status, 200, "bundle: {}", String::from_utf8_lossy(&bytes));
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "a gzip stream");
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join(format!("stoa-{code}.tar.gz"));
    std::fs::write(&path, bytes).expect("write bundle");
    path
}

/// The files of a bundle, by name.
fn unpack(bundle: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(bundle).expect("read bundle");
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut files = Vec::new();
    for entry in tar.entries().expect("a tar") {
        let mut entry = entry.expect("an entry");
        let name = entry.path().expect("a name").to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read entry");
        files.push((name, data));
    }
    files
}

/// A tar.gz of `files` at `path`.
fn pack(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, name, &data[..]).expect("append");
    }
    std::fs::write(path, tar.into_inner().expect("tar").finish().expect("gzip")).expect("write");
}

/// A copy of `bundle` at `out` with its files passed through `edit`.
fn edited(bundle: &Path, out: &Path, edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> PathBuf {
    let mut files = unpack(bundle);
    edit(&mut files);
    pack(out, &files);
    out.to_path_buf()
}

/// The bundle's `export.json`.
fn export_of(bundle: &Path) -> Value {
    let files = unpack(bundle);
    let (_, export) = files.iter().find(|(n, _)| n == "export.json").expect("export.json in the bundle");
    serde_json::from_slice(export).expect("export.json is JSON")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Submits every page of every participant (the auction's Bid and Results), finishing them.
async fn finish_auction(server: &TestServer, people: &[String]) {
    for page in ["Bid", "Results"] {
        for code in people {
            let a = submit(server, code, page, 1).await;
            assert!(a.status == 303 || a.status == 200, "submit {page}: {} {}", a.status, a.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_the_provenance_and_the_seed_once_finished_or_asked_for_and_the_admin_page_shows_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[AUCTION], &dir.path().join("data")).await;
    let info = create_session(&server, "auction", 3).await;
    let code = info["code"].as_str().expect("code").to_string();
    let people = codes(&info);
    let seed = server.state.store.session(&code).expect("read").expect("session").seed.to_string();

    let export = get_admin(&server, &format!("/api/sessions/{code}/export?format=json")).await.json();
    let p = &export["provenance"];
    assert!(p.get("seed").is_none(), "an unfinished session's export has no seed: {p}");
    let package = root().join(AUCTION);
    assert_eq!(p["component"], "target/auction.wasm");
    assert_eq!(p["component_sha256"], sha256_hex(&std::fs::read(package.join("target/auction.wasm")).expect("component")));
    assert_eq!(p["manifest"], std::fs::read_to_string(package.join("game.toml")).expect("manifest"));
    assert_eq!(p["templates"][0]["page"], "Bid");
    assert_eq!(p["templates"][0]["file"], "templates/Bid.hbs");
    assert_eq!(p["templates"][1]["sha256"], sha256_hex(&std::fs::read(package.join("templates/Results.hbs")).expect("template")));
    assert_eq!(p["host"]["version"], env!("CARGO_PKG_VERSION"));
    let head = Command::new("git").args(["rev-parse", "HEAD"]).current_dir(root()).output().expect("git");
    assert_eq!(p["host"]["commit"], String::from_utf8_lossy(&head.stdout).trim(), "the commit the host was built from");
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).expect("Cargo.lock");
    let locked = lock.split("name = \"wasmtime\"\nversion = \"").nth(1).and_then(|rest| rest.split('"').next()).expect("wasmtime in Cargo.lock");
    assert_eq!(p["wasmtime"], locked);
    assert_eq!(p["recorded"], true, "kept when the session was made");
    assert_eq!(p["session"], serde_json::json!({"players_per_group": 3, "participants": 3, "treatment": null, "config": export["config"]}));

    // The owner asks for the seed; anyone else is turned away as before.
    let asked = get_admin(&server, &format!("/api/sessions/{code}/export?format=json&seed=1")).await.json();
    assert_eq!(asked["provenance"]["seed"], seed);
    assert_eq!(get(&server, &format!("/api/sessions/{code}/export?format=json&seed=1")).await.status, 401);
    assert_eq!(get(&server, &format!("/api/sessions/{code}/bundle")).await.status, 401);
    assert_eq!(get_admin(&server, &format!("/api/sessions/{code}/export?format=json&seed=yes")).await.status, 400);

    // The admin page shows the same block, the seed hidden until the session is finished.
    let page = get_admin(&server, &format!("/admin/sessions/{code}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(p["component_sha256"].as_str().expect("sha")), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"/admin/sessions/{code}/bundle\"")), "{}", page.body);
    assert!(!page.body.contains(&seed), "{}", page.body);

    finish_auction(&server, &people).await;
    let done = get_admin(&server, &format!("/api/sessions/{code}/export?format=json")).await.json();
    assert_eq!(done["provenance"]["seed"], seed, "every participant finished: the seed is in the export");
    let page = get_admin(&server, &format!("/admin/sessions/{code}")).await;
    assert!(page.body.contains(&format!("<code id=\"seed\">{seed}</code>")), "{}", page.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_killed_and_restarted_midway_replays_exactly_from_its_bundle_and_from_the_stopped_servers_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let games = games_folder(dir.path(), &[AUCTION]);
    let data = dir.path().join("data");
    let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
    let mut server = spawn_logging_to(&games, &data, log.try_clone().expect("log")).await;
    let auth = format!("Bearer {TOKEN}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let body = r#"{"game": "auction", "participants": 6}"#;
    let created =
        crate::server_support::try_request_at(&server.addr, axum::http::Method::POST, "/api/sessions", &headers, body).await.expect("create");
    assert_eq!(created.status, 201, "{}", created.body);
    let info = created.json();
    let code = info["code"].as_str().expect("code").to_string();
    let people = codes(&info);
    for (i, p) in people.iter().enumerate() {
        send(&server.addr, p, "Bid", &format!("{{\"bid\": {}}}", 10 + i * 7 % 5)).await;
    }
    // SIGKILL mid-session, then a restart on the same data.
    let _ = server.child.kill();
    let _ = server.child.wait();
    server = spawn_logging_to(&games, &data, log).await;
    for (i, p) in people.iter().enumerate().rev() {
        send(&server.addr, p, "Bid", &format!("{}", 30 + i)).await;
    }
    send(&server.addr, &people[0], "Bid", r#"{"bid": "lots"}"#).await;
    for page in ["Bid", "Results"] {
        for p in &people {
            let form = format!("stoa_page={page}&stoa_round=1");
            let headers = [("content-type", "application/x-www-form-urlencoded")];
            let a = crate::server_support::try_request_at(&server.addr, axum::http::Method::POST, &format!("/p/{p}"), &headers, &form)
                .await
                .expect("submit");
            assert_eq!(a.status, 303, "{}", a.body);
        }
    }
    let bundle = download_bundle(&server.addr, &code, dir.path()).await;
    stop(server);

    // 1 creating-session; per group 3 bids before the kill and 3 after, 3 submissions of each
    // page; group 1's refused bid.
    let expected = 1 + 2 * (3 + 3 + 3 + 3) + 1;
    let logged: usize = export_of(&bundle)["live_log"].as_array().expect("log").iter().map(|g| g["calls"].as_array().map_or(0, Vec::len)).sum();
    assert_eq!(logged, expected, "every call is in the bundle's log");
    let (status, out) = replay_bundle(&bundle);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains(&format!("session {code}: reproduced {expected} calls exactly")), "{out}");
    let (status, out) = replay(&["--data".as_ref(), data.as_os_str(), "--games".as_ref(), games.as_os_str(), code.as_ref()]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains(&format!("reproduced {expected} calls exactly")), "{out}");
}

/// Stops a `stoa serve` child gracefully (SIGTERM) and waits for it.
fn stop(mut server: Server) {
    let term = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().expect("kill");
    assert!(term.success(), "SIGTERM to stoa serve");
    let started = Instant::now();
    while server.child.try_wait().expect("wait").is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "stoa serve did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

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
async fn a_researchers_hosted_game_replays_from_its_bundle_and_its_data_and_only_its_owner_gets_the_seed() {
    use crate::shared_hosting::{add_researcher, archive, new_session, upload};
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = TestServer::start(&[], &data).await;
    let alice = add_researcher(&server, "alice", serde_json::json!({})).await;
    let bob = add_researcher(&server, "bob", serde_json::json!({})).await;
    upload(&server, &alice, &archive(AUCTION)).await;
    let info = new_session(&server, &alice, serde_json::json!({ "game": "auction", "participants": 3 })).await;
    let code = info["code"].as_str().expect("code").to_string();
    let addr = server.addr.to_string();
    for (p, bid) in codes(&info).iter().zip([3, 9, 4]) {
        send(&addr, p, "Bid", &bid.to_string()).await;
    }
    for path in [format!("/api/sessions/{code}/bundle"), format!("/api/sessions/{code}/export?format=json&seed=1")] {
        assert_eq!(get_bytes_as(&addr, &path, &bob).await.0, 404, "another researcher: {path}");
        assert_eq!(get_bytes_as(&addr, &path, &alice).await.0, 200, "its owner: {path}");
    }
    let (status, bytes) = get_bytes_as(&addr, &format!("/api/sessions/{code}/bundle"), &alice).await;
    assert_eq!(status, 200);
    let bundle = dir.path().join("hosted.tar.gz");
    std::fs::write(&bundle, bytes).expect("write");
    assert!(export_of(&bundle)["game"].as_str().is_some_and(|g| g.starts_with("alice/auction@")));
    server.stop().await;
    let (status, out) = replay_bundle(&bundle);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("reproduced 4 calls exactly"), "{out}");
    // The data folder holds the upload: no --games needed.
    let (status, out) = replay(&["--data".as_ref(), data.as_os_str(), code.as_ref()]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("reproduced 4 calls exactly"), "{out}");
}
