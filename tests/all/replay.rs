//! `stoa replay` and what it needs: the seed and the provenance block in a session's export,
//! export bundles over HTTP, and replays of real sessions — from a bundle and from a stopped
//! server's data folder (a session killed with SIGKILL midway, a researcher's hosted game)
//! — that exit 0 when every call is reproduced; the replay engine's progress and its
//! refusals. What replays catch is in `replay_catches`; the helpers here serve both.

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

pub(crate) const AUCTION: &str = "example-games/auction";
pub(crate) const CHANCE: &str = "tests/fixtures/chance";
pub(crate) const CHANCE_PY: &str = "tests/fixtures/chance-python";
pub(crate) const CHANCE_JS: &str = "tests/fixtures/chance-js";

/// `stoa ARGS`, with the shared compiled-component cache.
pub(crate) fn stoa(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stoa"))
        .args(args)
        .env("STOA_CACHE_DIR", root().join("target/stoa-cache"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run stoa")
}

/// `stoa replay` with `args`: its exit code and its stdout and stderr together.
pub(crate) fn replay(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["replay".as_ref()];
    all.extend_from_slice(args);
    let out = stoa(&all);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// `stoa replay BUNDLE`.
pub(crate) fn replay_bundle(bundle: &Path) -> (i32, String) {
    replay(&[bundle.as_os_str()])
}

/// `GET path` on the server at `addr` with the admin token: status and body bytes.
pub(crate) async fn get_bytes(addr: &str, path: &str) -> (u16, Vec<u8>) {
    get_bytes_as(addr, path, TOKEN).await
}

/// [`get_bytes`] with `token`.
pub(crate) async fn get_bytes_as(addr: &str, path: &str, token: &str) -> (u16, Vec<u8>) {
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
pub(crate) async fn download_bundle(addr: &str, code: &str, dir: &Path) -> PathBuf {
    let (status, bytes) = get_bytes(addr, &format!("/api/sessions/{code}/bundle")).await;
    assert_eq!(status, 200, "bundle: {}", String::from_utf8_lossy(&bytes));
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "a gzip stream");
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join(format!("stoa-{code}.tar.gz"));
    std::fs::write(&path, bytes).expect("write bundle");
    path
}

/// The files of a bundle, by name.
pub(crate) fn unpack(bundle: &Path) -> Vec<(String, Vec<u8>)> {
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
pub(crate) fn pack(path: &Path, files: &[(String, Vec<u8>)]) {
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
pub(crate) fn edited(bundle: &Path, out: &Path, edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> PathBuf {
    let mut files = unpack(bundle);
    edit(&mut files);
    pack(out, &files);
    out.to_path_buf()
}

/// The bundle's `export.json`.
pub(crate) fn export_of(bundle: &Path) -> Value {
    let files = unpack(bundle);
    let (_, export) = files.iter().find(|(n, _)| n == "export.json").expect("export.json in the bundle");
    serde_json::from_slice(export).expect("export.json is JSON")
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Submits every page of every participant (the auction's Bid and Results), finishing them.
pub(crate) async fn finish_auction(server: &TestServer, people: &[String]) {
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
    assert_eq!(
        p["session"],
        serde_json::json!({"players_per_group": 3, "grouping": "fixed", "participants": 3, "treatment": null, "config": export["config"]})
    );

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
    let (status, bundle) = get_bytes(&server.addr.to_string(), &format!("/admin/sessions/{code}/bundle")).await;
    assert_eq!((status, &bundle[..2]), (200, &[0x1f, 0x8b][..]), "the admin page's download is the bundle");
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
    let (status, out) = replay(&["--data".as_ref(), data.as_os_str(), "--games".as_ref(), games.as_os_str(), code.as_ref()]);
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("stop the server that uses it first"), "a running server holds its data folder: {out}");
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

#[test]
fn the_replay_engine_reports_its_progress_and_refuses_a_session_without_seed_or_provenance() {
    let auction = crate::support::game(AUCTION);
    let (_dir, store) = crate::support::store();
    let (session, _) = auction.create_default_session(&store, 6).expect("session");
    for group in 1..=2 {
        let mut g = store.group(stoa::GroupKey { session: session.code.clone(), round: 1, group }, 3).expect("group");
        for (id, bid) in [(1, 5), (2, 7), (3, 6)] {
            let _ = auction.live_call(&store, &mut g, "Bid", id, &bid.to_string());
        }
    }
    store.write_back_all().expect("write back");
    let recorded = stoa::replay::Recorded::from_store(&store, &session.code).expect("recorded");
    let options = stoa::replay::Options::default();
    let mut seen = Vec::new();
    let replayed = stoa::replay::replay(&auction, &recorded, options, &mut |done, total| seen.push((done, total)));
    assert_eq!(replayed, Ok(7));
    assert_eq!(seen.first(), Some(&(1, 7)), "the creation first");
    assert_eq!(seen.last(), Some(&(7, 7)));
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");

    let refused = |recorded: &stoa::replay::Recorded, options| match stoa::replay::replay(&auction, recorded, options, &mut |_, _| {}) {
        Err(stoa::replay::Failure::NotReplayable(why)) => why,
        other => panic!("not refused: {other:?}"),
    };
    let mut unseeded = stoa::replay::Recorded::from_store(&store, &session.code).expect("recorded");
    unseeded.session.seed = 0;
    assert!(refused(&unseeded, options).contains("was made before sessions had seeds"));
    let mut unrecorded = stoa::replay::Recorded::from_store(&store, &session.code).expect("recorded");
    unrecorded.provenance = None;
    assert!(refused(&unrecorded, options).contains("no provenance was kept"));
    let ignoring = stoa::replay::Options { ignore_hash: true };
    assert_eq!(stoa::replay::replay(&auction, &unrecorded, ignoring, &mut |_, _| {}), Ok(7), "--ignore-hash replays it anyway");
}
