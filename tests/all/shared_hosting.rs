//! A shared server over real HTTP and WebSockets: researchers created by the operator upload
//! their own games (tar archives of real built packages), run sessions side by side, and
//! can neither see nor touch each other's anything — every API and admin route is tried
//! with the other researcher's token. Uploads are validated and versioned by content hash;
//! quotas refuse with reasons and keep one researcher's looping game and flood away from the
//! other's latency. Plus the `stoa researcher add` command and a browser run.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::Method;
use fantoccini::Locator;
use serde_json::{Value, json};

use crate::browser::{screenshot, wait_text, with_browser};
use crate::server_support::{Answer, eventually, get, post_form, request};
use crate::support::{TOKEN, TestServer, root};
use crate::ws::{bid_round_trips, connect, next, send};
use futures_util::SinkExt as _;

const AUCTION: &str = "example-games/auction";
const LOOPER: &str = "tests/fixtures/looper";

/// A tar.gz of the package in `dir` (from the repository root unless absolute): its
/// game.toml, templates and component under one top-level folder, as `tar -czf` makes it.
/// `edit` may change a file's bytes on the way (path relative to the package, bytes).
fn archive_with(dir: &str, edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    let dir = root().join(dir);
    let manifest = stoa::Manifest::load(&dir).unwrap_or_else(|e| panic!("{e} (run `make games`)"));
    let mut files: Vec<String> = vec!["game.toml".into(), manifest.component.display().to_string()];
    files.extend(manifest.pages.iter().map(|p| p.template.display().to_string()));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for f in files {
        let bytes = edit(&f, std::fs::read(dir.join(&f)).unwrap_or_else(|e| panic!("read {f}: {e}")));
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, format!("{}/{f}", manifest.name), bytes.as_slice()).expect("append");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

pub(crate) fn archive(dir: &str) -> Vec<u8> {
    archive_with(dir, |_, b| b)
}

/// A request with a bearer token and a body of bytes.
async fn call(server: &TestServer, method: Method, path: &str, token: &str, body: &[u8]) -> Answer {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<http_body_util::Full<bytes::Bytes>>();
    let req = axum::http::Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", server.addr))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", if body.starts_with(b"{") { "application/json" } else { "application/octet-stream" })
        .body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(body)))
        .expect("request");
    let resp = client.request(req).await.unwrap_or_else(|e| panic!("{path}: {e}"));
    let (parts, body) = resp.into_parts();
    let bytes = http_body_util::BodyExt::collect(body).await.expect("body").to_bytes();
    Answer { status: parts.status.as_u16(), headers: parts.headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

/// Creates researcher `name` (as the operator) with `quotas`; returns their token.
pub(crate) async fn add_researcher(server: &TestServer, name: &str, quotas: Value) -> String {
    let body = json!({ "name": name, "password": format!("{name}-password"), "quotas": quotas }).to_string();
    let a = call(server, Method::POST, "/api/researchers", TOKEN, body.as_bytes()).await;
    assert_eq!(a.status, 201, "add {name}: {}", a.body);
    a.json()["token"].as_str().expect("token").to_string()
}

pub(crate) async fn upload(server: &TestServer, token: &str, archive: &[u8]) -> Value {
    let a = call(server, Method::POST, "/api/games", token, archive).await;
    assert!(a.status == 201 || a.status == 200, "upload: {} {}", a.status, a.body);
    a.json()
}

pub(crate) async fn new_session(server: &TestServer, token: &str, body: Value) -> Value {
    let a = call(server, Method::POST, "/api/sessions", token, body.to_string().as_bytes()).await;
    assert_eq!(a.status, 201, "create session {body}: {}", a.body);
    a.json()
}

fn people(info: &Value) -> Vec<String> {
    info["participants"].as_array().expect("participants").iter().map(|p| p["code"].as_str().expect("code").to_string()).collect()
}

async fn start(data: &Path) -> TestServer {
    TestServer::start(&[], data).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_researchers_run_sessions_side_by_side_and_neither_reaches_the_others_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("data")).await;
    let alice = add_researcher(&server, "alice", json!({})).await;
    let bob = add_researcher(&server, "bob", json!({})).await;
    let a_game = upload(&server, &alice, &archive(AUCTION)).await;
    assert_eq!((a_game["game"].as_str(), a_game["new"].as_bool()), (Some("auction"), Some(true)));
    upload(&server, &bob, &archive(LOOPER)).await;
    let a_info = new_session(&server, &alice, json!({ "game": "auction", "participants": 3 })).await;
    let b_info = new_session(&server, &bob, json!({ "game": "looper", "participants": 2 })).await;
    let (a_code, b_code) = (a_info["code"].as_str().expect("code").to_string(), b_info["code"].as_str().expect("code").to_string());
    assert!(a_info["game"].as_str().is_some_and(|g| g.starts_with("alice/auction@")), "{}", a_info["game"]);
    // Participants need no account: a live call in each session, at the same time.
    let (a_people, b_people) = (people(&a_info), people(&b_info));
    let (a_frame, b_frame) = tokio::join!(
        crate::server_support::live_send(&server, &a_people[0], "Bid", r#"{"bid": 5}"#),
        crate::server_support::live_send(&server, &b_people[0], "Play", r#""ping""#),
    );
    assert_eq!(a_frame["data"]["max_bid"], 5, "{a_frame}");
    assert_eq!(b_frame["data"]["ok"], true, "{b_frame}");

    // Every route that reads or changes alice's things, tried with bob's token: each is
    // refused (404 for her session and game: bob cannot even learn they exist; 403 for the
    // operator's routes; 400 for her game name, unknown among his).
    let s = &a_code;
    let refused: Vec<(Method, String, &str, u16)> = vec![
        (Method::GET, format!("/api/sessions/{s}"), "", 404),
        (Method::GET, format!("/api/sessions/{s}/export?format=json"), "", 404),
        (Method::GET, format!("/api/sessions/{s}/export?format=csv"), "", 404),
        (Method::GET, format!("/api/sessions/{s}/export?format=csv&table=log"), "", 404),
        (Method::POST, "/api/sessions".into(), r#"{"game": "auction", "participants": 3}"#, 400),
        (Method::POST, "/api/sessions".into(), r#"{"game": "alice/auction", "participants": 3}"#, 400),
        (Method::GET, "/api/games/auction".into(), "", 404),
        (Method::GET, "/api/games/alice/auction".into(), "", 404),
        (Method::DELETE, format!("/api/games/auction/versions/{}", a_game["version"].as_str().expect("version")), "", 404),
        (Method::GET, "/api/researchers".into(), "", 403),
        (Method::POST, "/api/researchers".into(), r#"{"name": "mallory"}"#, 403),
        (Method::GET, "/api/researchers/alice".into(), "", 403),
        (Method::PUT, "/api/researchers/alice/quotas".into(), r#"{"sessions": 0}"#, 403),
        (Method::POST, "/api/researchers/alice/token".into(), "", 403),
        (Method::PUT, "/api/researchers/alice/password".into(), r#"{"password": "taken-over!"}"#, 403),
        (Method::GET, format!("/admin/sessions/{s}"), "", 404),
        (Method::GET, format!("/admin/sessions/{s}/monitor"), "", 404),
        (Method::GET, format!("/admin/sessions/{s}/export?format=json"), "", 404),
        (Method::GET, format!("/admin/sessions/{s}/export?format=csv&table=log"), "", 404),
        (Method::GET, "/admin/researchers".into(), "", 403),
    ];
    for (method, path, body, status) in &refused {
        let a = call(&server, method.clone(), path, &bob, body.as_bytes()).await;
        assert_eq!(a.status, *status, "bob: {method} {path}: {}", a.body);
        assert!(!a.body.contains(&people(&a_info)[0]), "bob: {method} {path} leaks a participant code");
        // The same route works for alice (or is refused to her the same way when it is
        // the operator's).
        let mine = call(&server, method.clone(), path, &alice, body.as_bytes()).await;
        // (Her own session runs the version, so her DELETE is a 409, not a success.)
        let expected_ok = !path.contains("researchers") && !path.contains("alice/") && !body.contains("alice/") && *method != Method::DELETE;
        if expected_ok {
            assert!(mine.status < 300, "alice: {method} {path}: {} {}", mine.status, mine.body);
        }
    }
    // Admin forms with bob's signed-in cookie (the browser's way).
    let login = post_form(&server, "/admin/login", &format!("token={bob}")).await;
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login.header("set-cookie").split(';').next().expect("cookie").to_string();
    assert!(cookie.starts_with("stoa_admin=bob."), "{cookie}");
    let with_cookie = |path: String, form: Option<&'static str>| {
        let cookie = cookie.clone();
        let server = &server;
        async move {
            let (method, ct) = if form.is_some() { (Method::POST, "application/x-www-form-urlencoded") } else { (Method::GET, "text/plain") };
            request(server, method, &path, &[("cookie", &cookie), ("content-type", ct)], form.unwrap_or("")).await
        }
    };
    for (path, form, status) in [
        (format!("/admin/sessions/{s}"), None, 404),
        (format!("/admin/sessions/{s}/export?format=json"), None, 404),
        ("/admin/researchers".to_string(), None, 403),
        ("/admin/researchers".to_string(), Some("name=mallory"), 403),
        ("/admin/researchers/alice/quotas".to_string(), Some("deadline_ms=&memory_mb=&messages_per_second=1&sessions=0&stored_bytes=0"), 403),
        ("/admin/sessions".to_string(), Some("game=auction&participants=3"), 400),
    ] {
        let a = with_cookie(path.clone(), form).await;
        assert_eq!(a.status, status, "bob's cookie: {path} {form:?}: {}", a.body);
    }
    // Lists show only one's own.
    for (token, mine, theirs) in [(&bob, &b_code, &a_code), (&alice, &a_code, &b_code)] {
        let list = call(&server, Method::GET, "/api/sessions", token, b"").await.body;
        assert!(list.contains(mine.as_str()) && !list.contains(theirs.as_str()), "{list}");
        let page = call(&server, Method::GET, "/admin/sessions", token, b"").await.body;
        assert!(page.contains(mine.as_str()) && !page.contains(theirs.as_str()), "{page}");
    }
    let bobs_games = call(&server, Method::GET, "/api/games", &bob, b"").await.json();
    assert_eq!(bobs_games["games"].as_array().map(|g| g.len()), Some(1), "{bobs_games}");
    assert_eq!(bobs_games["games"][0]["name"], "looper");
    let home = with_cookie("/admin".into(), None).await.body;
    assert!(home.contains("looper") && !home.contains("auction"), "bob's admin home shows only his game: {home}");
    // Nothing of alice's changed: her quotas, her password, her token, her data.
    let alice_now = call(&server, Method::GET, "/api/researchers/alice", TOKEN, b"").await.json();
    assert_eq!(alice_now["quotas"]["sessions"], 20, "{alice_now}");
    assert!(call(&server, Method::GET, "/api/me", &alice, b"").await.status == 200, "alice's token still works");
    assert!(server.state.tenants.accounts.check_password("alice", "alice-password").expect("check").is_some());
    assert!(server.state.tenants.accounts.get("mallory").expect("get").is_none());
    let export = call(&server, Method::GET, &format!("/api/sessions/{s}/export?format=json"), &alice, b"").await.json();
    assert_eq!(export["rounds"][0]["groups"][0]["fields"]["max_bid"], 5);
    // Uploads are per researcher: bob's own `auction` (through the API and the admin form)
    // is his, and alice's versions and sessions stay as they were.
    let before = call(&server, Method::GET, "/api/games/auction", &alice, b"").await.json();
    let mut bobs_archive = archive(AUCTION);
    bobs_archive.extend_from_slice(&[0; 1024]); // another archive of the same package
    let his = upload(&server, &bob, &bobs_archive).await;
    assert!(his["key"].as_str().is_some_and(|k| k.starts_with("bob/auction@")), "{his}");
    assert_eq!(call(&server, Method::GET, "/api/games/auction", &alice, b"").await.json(), before);
    let bobs_session = new_session(&server, &bob, json!({ "game": "auction", "participants": 3 })).await;
    assert!(bobs_session["game"].as_str().is_some_and(|g| g.starts_with("bob/")), "{bobs_session}");
    // The operator sees both, and may start a session of a researcher's game (it is hers).
    let by_operator = new_session(&server, TOKEN, json!({ "game": "alice/auction", "participants": 3 })).await;
    assert_eq!(call(&server, Method::GET, &format!("/api/sessions/{}", by_operator["code"].as_str().expect("code")), &alice, b"").await.status, 200);
    let all = call(&server, Method::GET, "/api/sessions", TOKEN, b"").await.body;
    assert!(all.contains(a_code.as_str()) && all.contains(b_code.as_str()), "{all}");
    assert_eq!(call(&server, Method::GET, &format!("/api/sessions/{s}"), TOKEN, b"").await.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_checked_and_versioned_and_a_running_session_keeps_its_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = start(&data).await;
    let alice = add_researcher(&server, "alice", json!({})).await;
    // Refusals, each with its reason.
    let bad_manifest = archive_with(AUCTION, |f, b| {
        if f == "game.toml" { String::from_utf8_lossy(&b).replace("players_per_group = 3", "players_per_group = 0").into_bytes() } else { b }
    });
    let missing_template = archive_with(AUCTION, |f, b| {
        if f == "game.toml" { String::from_utf8_lossy(&b).replace("templates/Results.hbs", "templates/Nope.hbs").into_bytes() } else { b }
    });
    let not_a_component = archive_with(AUCTION, |f, b| if f.ends_with(".wasm") { b"\0asm\x01\0\0\0".to_vec() } else { b });
    let mut symlink = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    symlink.append_link(&mut h, "auction/game.toml", "/etc/passwd").expect("link");
    let symlink = symlink.into_inner().expect("tar");
    for (what, body, reason) in [
        ("not a tar", b"just some text, not an archive at all, long enough".to_vec(), "tar"),
        ("a bad manifest", bad_manifest, "players_per_group"),
        ("a missing template", missing_template, "Nope.hbs"),
        ("a broken component", not_a_component, "failed to load game `auction`"),
        ("a symlink", symlink, "is a link"),
        ("nothing", Vec::new(), "no body"),
    ] {
        let a = call(&server, Method::POST, "/api/games", &alice, &body).await;
        assert_eq!(a.status, 400, "{what}: {}", a.body);
        let error = a.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains(reason), "{what}: `{error}` should say `{reason}`");
    }
    // The admin page's upload form says why too.
    let form = "--XyZ\r\nContent-Disposition: form-data; name=\"archive\"; filename=\"a.tar\"\r\nContent-Type: application/x-tar\r\n\r\nnot an archive, only text of some length\r\n--XyZ--\r\n";
    let auth = format!("Bearer {alice}");
    let page =
        request(&server, Method::POST, "/admin/games", &[("authorization", &auth), ("content-type", "multipart/form-data; boundary=XyZ")], form)
            .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("The game was not uploaded") && page.body.contains("not a readable tar archive"), "{}", page.body);
    assert_eq!(server.state.tenants.accounts.stored_bytes("alice").expect("bytes"), 0, "nothing refused is kept");

    // Version 1, a session of it, then version 2 (its Bid page says so) and a session of it.
    let v1 = upload(&server, &alice, &archive(AUCTION)).await;
    let s1 = new_session(&server, &alice, json!({ "game": "auction", "participants": 3 })).await;
    let marked = |f: &str, b: Vec<u8>| if f.ends_with("Bid.hbs") { [b"<p id=\"v2\">version two</p>".to_vec(), b].concat() } else { b };
    let v2 = upload(&server, &alice, &archive_with(AUCTION, marked)).await;
    assert_ne!(v1["hash"], v2["hash"]);
    let s2 = new_session(&server, &alice, json!({ "game": "auction", "participants": 3 })).await;
    let s3 = new_session(&server, &alice, json!({ "game": "auction", "participants": 3, "version": v1["version"] })).await;
    assert_eq!(s1["game"], format!("alice/auction@{}", v1["version"].as_str().expect("v")));
    assert_eq!(s2["game"], format!("alice/auction@{}", v2["version"].as_str().expect("v")), "new sessions take the newest");
    assert_eq!(s3["game"], s1["game"], "a named version is used");
    let bad_version = call(&server, Method::POST, "/api/sessions", &alice, br#"{"game": "auction", "participants": 3, "version": "00000000"}"#).await;
    assert_eq!(bad_version.status, 404, "{}", bad_version.body);
    assert!(bad_version.body.contains("no version `00000000`"), "{}", bad_version.body);
    let again = call(&server, Method::POST, "/api/games", &alice, &archive(AUCTION)).await;
    assert_eq!((again.status, again.json()["new"].as_bool()), (200, Some(false)), "the same archive is the same version");
    let listed = call(&server, Method::GET, "/api/games/auction", &alice, b"").await.json();
    assert_eq!(listed["versions"].as_array().map(|v| v.len()), Some(2), "{listed}");
    assert_eq!(listed["newest"], v1["version"], "the re-upload is the newest again");
    // A version a session records is kept; one no session uses can be deleted.
    let v2_path = format!("/api/games/auction/versions/{}", v2["version"].as_str().expect("v"));
    let kept = call(&server, Method::DELETE, &v2_path, &alice, b"").await;
    assert_eq!(kept.status, 409, "{}", kept.body);
    assert!(kept.body.contains("a session runs it"), "{}", kept.body);
    let before = server.state.tenants.accounts.stored_bytes("alice").expect("bytes");
    let v3 = upload(&server, &alice, &archive_with(AUCTION, |f, b| if f.ends_with("Results.hbs") { [b"<p>v3</p>".to_vec(), b].concat() } else { b }))
        .await;
    let gone = call(&server, Method::DELETE, &format!("/api/games/auction/versions/{}", v3["version"].as_str().expect("v")), &alice, b"").await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_eq!(server.state.tenants.accounts.stored_bytes("alice").expect("bytes"), before, "its bytes are freed");

    // Restart: versions come back from the store, and each session still runs its own.
    server.stop().await;
    let server = crate::server_support::start_when_released(&[], &data).await;
    let p1 = get(&server, &format!("/p/{}", people(&s1)[0])).await;
    let p2 = get(&server, &format!("/p/{}", people(&s2)[0])).await;
    assert_eq!((p1.status, p2.status), (200, 200), "{} / {}", p1.body, p2.body);
    assert!(!p1.body.contains("version two"), "session 1 keeps version 1");
    assert!(p2.body.contains("version two"), "session 2 runs version 2");
    let frame = crate::server_support::live_send(&server, &people(&s1)[1], "Bid", r#"{"bid": 9}"#).await;
    assert_eq!(frame["data"]["max_bid"], 9, "{frame}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_refuse_with_their_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("data")).await;
    let too_much = call(&server, Method::POST, "/api/researchers", TOKEN, br#"{"name": "x", "quotas": {"deadline_ms": 999999}}"#).await;
    assert_eq!(too_much.status, 400);
    assert!(too_much.body.contains("above the host maximum"), "{}", too_much.body);
    let looper = archive(LOOPER);
    // Room for the archive and a few sessions' data (which count too), not for a second archive.
    let carol = add_researcher(&server, "carol", json!({ "sessions": 1, "deadline_ms": 30, "stored_bytes": looper.len() + 16384 })).await;
    upload(&server, &carol, &looper).await;
    // Stored bytes: a second archive does not fit; the same one again costs nothing.
    let other = call(&server, Method::POST, "/api/games", &carol, &archive(AUCTION)).await;
    assert_eq!(other.status, 403, "{}", other.body);
    assert!(other.body.contains("quota") && other.body.contains("bytes of uploads"), "{}", other.body);
    assert_eq!(call(&server, Method::POST, "/api/games", &carol, &looper).await.status, 200);
    // Sessions at once.
    let info = new_session(&server, &carol, json!({ "game": "looper", "participants": 2 })).await;
    let second = call(&server, Method::POST, "/api/sessions", &carol, br#"{"game": "looper", "participants": 2}"#).await;
    assert_eq!(second.status, 403, "{}", second.body);
    assert!(second.body.contains("1 session(s) at once"), "{}", second.body);
    // Deadline: the game's own is 100 ms; carol's quota of 30 ms stops the loop.
    let frame = crate::server_support::live_send(&server, &people(&info)[0], "Play", r#""loop""#).await;
    assert!(frame["error"].as_str().is_some_and(|e| e.contains("deadline of 30 ms")), "{frame}");
    // Once her participants finish, the session no longer counts.
    for code in people(&info) {
        assert_eq!(crate::server_support::submit(&server, &code, "Play", 1).await.status, 303);
        assert_eq!(crate::server_support::submit(&server, &code, "End", 1).await.status, 303);
    }
    new_session(&server, &carol, json!({ "game": "looper", "participants": 2 })).await;
    // The operator raises a quota; it applies to new sessions.
    let raised = call(&server, Method::PUT, "/api/researchers/carol/quotas", TOKEN, br#"{"sessions": 5, "deadline_ms": 0}"#).await;
    assert_eq!(raised.status, 200, "{}", raised.body);
    assert_eq!(raised.json()["quotas"]["deadline_ms"], Value::Null);
    let info = new_session(&server, &carol, json!({ "game": "looper", "participants": 2 })).await;
    let frame = crate::server_support::live_send(&server, &people(&info)[0], "Play", r#""loop""#).await;
    assert!(frame["error"].as_str().is_some_and(|e| e.contains("deadline of 100 ms")), "{frame}");
    // Memory: the game asks for 32 MiB; hank's quota of 8 MiB stops the bomb there.
    let hank = add_researcher(&server, "hank", json!({ "memory_mb": 8 })).await;
    upload(&server, &hank, &archive("tests/fixtures/memory-bomb")).await;
    let info = new_session(&server, &hank, json!({ "game": "memory-bomb", "participants": 2 })).await;
    let frame = crate::server_support::live_send(&server, &people(&info)[0], "Play", r#""bomb""#).await;
    assert!(frame["error"].as_str().is_some_and(|e| e.contains("memory limit of 8 MiB")), "{frame}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_data_counts_against_the_stored_bytes_quota_and_only_its_researcher_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("data")).await;
    let auction = archive(AUCTION);
    // Room for the archive and about 6 KB of session data: a session and a few dozen bids.
    let dave = add_researcher(&server, "dave", json!({ "stored_bytes": auction.len() + 6000 })).await;
    let erin = add_researcher(&server, "erin", json!({})).await;
    upload(&server, &dave, &auction).await;
    upload(&server, &erin, &auction).await;
    let full = new_session(&server, &dave, json!({ "game": "auction", "participants": 3 })).await;
    let calm = new_session(&server, &erin, json!({ "game": "auction", "participants": 3 })).await;
    // Dave's participant bids until the quota refuses a call (counted at most a second late).
    let mut ws = connect(&server, &people(&full)[0], "page=Bid").await;
    let end = Instant::now() + Duration::from_secs(30);
    let refusal = loop {
        assert!(Instant::now() < end, "no quota refusal within 30 s");
        send(&mut ws, r#"{"bid": 1}"#).await;
        match next(&mut ws, Duration::from_secs(5)).await {
            Some(frame) if frame["error"].is_string() => break frame["error"].as_str().unwrap_or_default().to_string(),
            Some(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            None => panic!("no answer to a bid"),
        }
    };
    assert!(refusal.contains("quota: researcher `dave` may keep") && refusal.contains("of session data"), "{refusal}");
    let me = call(&server, Method::GET, "/api/me", &dave, b"").await.json();
    assert!(me["usage"]["session_bytes"].as_u64().is_some_and(|b| b > 6000 - 1000), "{me}");
    // Every later call of his is refused, and so is a new session, with the quota named.
    send(&mut ws, r#"{"bid": 2}"#).await;
    let again = next(&mut ws, Duration::from_secs(5)).await.expect("an answer");
    assert!(again["error"].as_str().is_some_and(|e| e.contains("stored bytes")), "{again}");
    let session = call(&server, Method::POST, "/api/sessions", &dave, br#"{"game": "auction", "participants": 3}"#).await;
    assert_eq!(session.status, 403, "{}", session.body);
    assert!(session.body.contains("stored bytes") && session.body.contains("of session data"), "{}", session.body);
    // Erin keeps working: her calls answer, her new sessions start.
    let mut erin_ws = connect(&server, &people(&calm)[0], "page=Bid").await;
    bid_round_trips(&mut erin_ws, 1, 5).await;
    new_session(&server, &erin, json!({ "game": "auction", "participants": 3 })).await;
    server.stop().await;
}

/// The files in the cache folder `dir` holding the compiled form of the component `wasm`.
fn cached(dir: &Path, wasm: &str) -> Vec<String> {
    let hash = stoa::hosting::accounts::sha256_hex(&std::fs::read(root().join(wasm)).expect("component"));
    let names = std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect());
    names.unwrap_or_else(|_| Vec::new()).into_iter().filter(|n: &String| n.starts_with(&hash)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_or_deleted_upload_leaves_no_compiled_component_in_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let config = stoa::RuntimeConfig { cache_dir: Some(cache.clone()), instances: 16, ..stoa::RuntimeConfig::default() };
    let runtime = std::sync::Arc::new(stoa::Runtime::new(config).expect("runtime"));
    let server = TestServer::start_on(runtime, &[], &dir.path().join("data"), stoa::server::ServerConfig::default()).await;
    let fay = add_researcher(&server, "fay", json!({})).await;
    // Compiled, then refused (it imports what Stoa does not provide): its file goes.
    let refused = call(&server, Method::POST, "/api/games", &fay, &archive("tests/fixtures/foreign-import")).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(cached(&cache, "tests/fixtures/foreign-import/target/foreign-import.wasm"), Vec::<String>::new());
    // Kept while its version is; deleted with it.
    let looper = "tests/fixtures/looper/target/looper.wasm";
    let version = upload(&server, &fay, &archive(LOOPER)).await["version"].as_str().expect("version").to_string();
    assert_eq!(cached(&cache, looper).len(), 1, "the upload's compiled component is cached");
    let deleted = call(&server, Method::DELETE, &format!("/api/games/looper/versions/{version}"), &fay, b"").await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(cached(&cache, looper), Vec::<String>::new());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_a_hosted_game_asked_for_by_many_at_once_is_loaded_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = start(&data).await;
    let gil = add_researcher(&server, "gil", json!({})).await;
    let key = upload(&server, &gil, &archive(AUCTION)).await["key"].as_str().expect("key").to_string();
    server.stop().await;
    // Restarted: nothing loaded. Eight pages ask for the game at once; one load serves all.
    let server = start(&data).await;
    let tenants = server.state.clone();
    let games = std::thread::scope(|s| {
        let asks: Vec<_> = (0..8).map(|_| s.spawn(|| tenants.tenants.game(&key).expect("loads"))).collect();
        asks.into_iter().map(|a| a.join().expect("thread")).collect::<Vec<_>>()
    });
    assert!(games.iter().all(|g| std::sync::Arc::ptr_eq(g, &games[0])), "the game was loaded more than once");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_game_and_a_flood_stay_inside_their_quota_and_the_other_researcher_keeps_its_latency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("data")).await;
    let rate = 10.0;
    let alice = add_researcher(&server, "alice", json!({ "deadline_ms": 40, "messages_per_second": rate })).await;
    let bob = add_researcher(&server, "bob", json!({})).await;
    upload(&server, &alice, &archive(LOOPER)).await;
    upload(&server, &bob, &archive(AUCTION)).await;
    let looping = new_session(&server, &alice, json!({ "game": "looper", "participants": 4 })).await;
    let calm = new_session(&server, &bob, json!({ "game": "auction", "participants": 3 })).await;
    let mut bob_ws = connect(&server, &people(&calm)[0], "page=Bid").await;
    bid_round_trips(&mut bob_ws, 1, 3).await; // warm: the first calls instantiate the game
    let baseline = bid_round_trips(&mut bob_ws, 4, 30).await;

    // Alice's four participants each send "loop" 40 times a second for 3 s (each call spins
    // until her 40 ms deadline): 160 messages a second in all, within the per-participant
    // rate but 16 times her quota.
    let flood_for = Duration::from_secs(3);
    let mut floods = Vec::new();
    for code in people(&looping) {
        let mut ws = connect(&server, &code, "page=Play").await;
        floods.push(tokio::spawn(async move {
            let (mut quota, mut deadline, mut other) = (0u32, 0u32, Vec::new());
            let mut count = |frame: Value| match frame["error"].as_str() {
                Some(e) if e.contains("quota") => quota += 1,
                Some(e) if e.contains("deadline of 40 ms") => deadline += 1,
                _ => other.push(frame),
            };
            let end = Instant::now() + flood_for;
            while Instant::now() < end {
                send(&mut ws, r#""loop""#).await;
                while let Some(frame) = next(&mut ws, Duration::from_millis(25)).await {
                    count(frame);
                }
            }
            // Answers still on their way.
            while let Some(frame) = next(&mut ws, Duration::from_millis(1500)).await {
                count(frame);
            }
            (quota, deadline, other)
        }));
    }
    let during = bid_round_trips(&mut bob_ws, 100, 30).await;
    let (mut quota, mut deadline, mut other) = (0, 0, Vec::new());
    for f in floods {
        let (q, d, o) = f.await.expect("flood");
        (quota, deadline) = (quota + q, deadline + d);
        other.extend(o);
    }
    let median = |v: &[Duration]| v[v.len() / 2];
    println!(
        "bob's bid round trip: baseline median {:?} (max {:?}); during alice's flood median {:?} (max {:?}); alice: {deadline} calls ran to the deadline, {quota} quota refusals, {} other",
        median(&baseline),
        baseline[baseline.len() - 1],
        median(&during),
        during[during.len() - 1],
        other.len()
    );
    assert!(other.is_empty(), "every answer to alice is her deadline or her quota: {other:?}");
    assert!(quota > 0, "the flood hit alice's quota");
    // Her loops ran at most at her rate (plus one second's burst) over the flood and the time
    // bob's measurement took after it.
    let allowed = (rate * (flood_for.as_secs_f64() + 2.0) + rate) as u32;
    assert!(deadline <= allowed, "{deadline} looping calls ran; the quota allows about {allowed}");
    assert!(deadline > 0, "some of alice's calls ran (and stopped at her deadline)");
    // Bob keeps his latency: the median within a generous multiple of the baseline (the
    // machine is shared; a starved session would take seconds).
    let limit = median(&baseline) * 10 + Duration::from_millis(250);
    assert!(median(&during) <= limit, "bob's median {:?} above {limit:?} (baseline {:?})", median(&during), median(&baseline));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_researcher_command_adds_an_account_whose_token_works_on_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_stoa")).args(["researcher", "add", "dana", "--data"]).arg(&data).output().expect("run stoa");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    let token = text.split("(shown only now): ").nth(1).and_then(|t| t.split_whitespace().next()).expect("token printed").to_string();
    let again =
        std::process::Command::new(env!("CARGO_BIN_EXE_stoa")).args(["researcher", "add", "dana", "--data"]).arg(&data).output().expect("run");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already a researcher named `dana`"));
    let quotas = std::process::Command::new(env!("CARGO_BIN_EXE_stoa"))
        .args(["researcher", "quotas", "dana", "--sessions", "3", "--deadline-ms", "50", "--data"])
        .arg(&data)
        .output()
        .expect("run");
    assert!(quotas.status.success(), "{}", String::from_utf8_lossy(&quotas.stderr));
    let above = std::process::Command::new(env!("CARGO_BIN_EXE_stoa"))
        .args(["researcher", "quotas", "dana", "--memory-mb", "100000", "--data"])
        .arg(&data)
        .output()
        .expect("run");
    assert!(!above.status.success());
    assert!(
        String::from_utf8_lossy(&above.stderr).contains("memory_mb: 100000 is above the host maximum"),
        "{}",
        String::from_utf8_lossy(&above.stderr)
    );
    let server = start(&data).await;
    let me = call(&server, Method::GET, "/api/me", &token, b"").await;
    assert_eq!((me.status, me.json()["name"].as_str().map(String::from)), (200, Some("dana".into())), "{}", me.body);
    assert_eq!((me.json()["quotas"]["sessions"].as_u64(), me.json()["quotas"]["deadline_ms"].as_u64()), (Some(3), Some(50)));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_researcher_signs_in_uploads_a_game_creates_a_session_and_opens_a_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("data")).await;
    add_researcher(&server, "erin", json!({})).await;
    let file = dir.path().join("auction.tar.gz");
    std::fs::write(&file, archive(AUCTION)).expect("write archive");
    let base = format!("http://{}", server.addr);
    let srv = &server;
    with_browser(|b| async move {
        b.goto(&format!("{base}/admin")).await.expect("open admin");
        b.find(Locator::Css("#login-password input[name=name]")).await.expect("name box").send_keys("erin").await.expect("type");
        b.find(Locator::Css("#login-password input[name=password]")).await.expect("password box").send_keys("erin-password").await.expect("type");
        b.find(Locator::Css("#login-password button")).await.expect("sign in").click().await.expect("click");
        wait_text(&b, "#researcher", "erin").await;
        let input = b.find(Locator::Css("#upload-game input[type=file]")).await.expect("file input");
        input.send_keys(file.to_str().expect("utf-8 path")).await.expect("choose file");
        b.find(Locator::Css("#upload-game button")).await.expect("upload").click().await.expect("click");
        wait_text(&b, "#games td strong", "auction").await;
        b.find(Locator::Css("#create-session button[type=submit]")).await.expect("create").click().await.expect("click");
        let link = eventually(Duration::from_secs(20), "participant links", || async {
            let found = b.find_all(Locator::Css("a.participant-link")).await.ok()?;
            found.first()?.attr("href").await.ok()?
        })
        .await;
        let sessions = srv.state.store.sessions().expect("sessions");
        assert_eq!(sessions.len(), 1);
        assert!(sessions[0].game.starts_with("erin/auction@"), "{}", sessions[0].game);
        assert_eq!(link, format!("{base}/p/{}", sessions[0].participants[0]));
        screenshot(&b, "researcher-session").await;
        b.goto(&link).await.expect("open the participant link");
        wait_text(&b, "#max-bid", "0").await;
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosting_routes_refuse_a_missing_or_wrong_token_and_the_operator_manages_researchers_on_a_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("data")).await;
    let frank = add_researcher(&server, "frank", json!({})).await;
    let routes = [
        (Method::GET, "/api/me"),
        (Method::GET, "/api/games"),
        (Method::POST, "/api/games"),
        (Method::GET, "/api/games/auction"),
        (Method::GET, "/api/games/frank/auction"),
        (Method::DELETE, "/api/games/auction/versions/0123456789abcdef"),
        (Method::GET, "/api/researchers"),
        (Method::POST, "/api/researchers"),
        (Method::GET, "/api/researchers/frank"),
        (Method::PUT, "/api/researchers/frank/quotas"),
        (Method::POST, "/api/researchers/frank/token"),
        (Method::PUT, "/api/researchers/frank/password"),
    ];
    for (method, path) in &routes {
        for auth in [None, Some("Bearer wrong-token".to_string()), Some(format!("Bearer {frank}x"))] {
            let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("authorization", a)]).unwrap_or_default();
            let a = request(&server, method.clone(), path, &headers, r#"{"name": "zed"}"#).await;
            assert_eq!(a.status, 401, "{method} {path} with {auth:?}: {}", a.body);
            assert!(a.json()["error"].as_str().is_some_and(|e| e.contains("token")), "{}", a.body);
        }
    }
    assert_eq!(server.state.tenants.accounts.list().expect("list").len(), 1, "no refused request added anyone");

    // The operator's page: add a researcher (the token is shown once), set quotas.
    let admin = [("authorization", format!("Bearer {TOKEN}")), ("content-type", "application/x-www-form-urlencoded".into())];
    let headers: Vec<(&str, &str)> = admin.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let added = request(&server, Method::POST, "/admin/researchers", &headers, "name=gina&password=gina-password").await;
    assert_eq!(added.status, 201, "{}", added.body);
    let token = added.body.split("<code id=\"new-token\">").nth(1).and_then(|t| t.split('<').next()).expect("token on the page").to_string();
    assert_eq!(call(&server, Method::GET, "/api/me", &token, b"").await.json()["name"], "gina");
    let page = request(&server, Method::GET, "/admin/researchers", &headers, "").await;
    assert!(page.body.contains("gina") && !page.body.contains(&token), "the list never shows a token again");
    let form = "deadline_ms=25&memory_mb=64&messages_per_second=5&sessions=2&stored_bytes=1000";
    assert_eq!(request(&server, Method::POST, "/admin/researchers/gina/quotas", &headers, form).await.status, 303);
    let quotas = call(&server, Method::GET, "/api/researchers/gina", TOKEN, b"").await.json()["quotas"].clone();
    assert_eq!(quotas, json!({ "deadline_ms": 25, "memory_mb": 64, "messages_per_second": 5.0, "sessions": 2, "stored_bytes": 1000 }));
    let bad = request(
        &server,
        Method::POST,
        "/admin/researchers/gina/quotas",
        &headers,
        "deadline_ms=ten&memory_mb=&messages_per_second=5&sessions=2&stored_bytes=1",
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("deadline_ms: &#x60;ten&#x60; is not a number"), "{}", bad.body);
    // A password sign-in sets gina's cookie; a wrong one does not.
    let wrong = post_form(&server, "/admin/login", "name=gina&password=not-hers!").await;
    assert_eq!(wrong.status, 401);
    let right = post_form(&server, "/admin/login", "name=gina&password=gina-password").await;
    assert_eq!(right.status, 303, "{}", right.body);
    assert!(right.header("set-cookie").starts_with("stoa_admin=gina."), "{}", right.header("set-cookie"));
    // Guessing: after 5 wrong passwords in a row the name is refused for a minute, even with
    // the right one, and the password is not checked meanwhile. Tokens still sign in.
    for _ in 0..5 {
        assert_eq!(post_form(&server, "/admin/login", "name=gina&password=a-guess!!").await.status, 401);
    }
    let locked = post_form(&server, "/admin/login", "name=gina&password=gina-password").await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.body.contains("Too many failed sign-ins as") && locked.body.contains("try again in"), "{}", locked.body);
    assert!(locked.header("set-cookie").is_empty(), "no cookie while locked");
    let by_token = post_form(&server, "/admin/login", &format!("token={token}")).await;
    assert_eq!(by_token.status, 303, "{}", by_token.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frames_spend_no_quota_and_binary_frames_are_rate_limited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir.path().join("data")).await;
    let alice = add_researcher(&server, "alice", json!({ "messages_per_second": 5 })).await;
    upload(&server, &alice, &archive(AUCTION)).await;
    let info = new_session(&server, &alice, json!({ "game": "auction", "participants": 3 })).await;
    let codes = people(&info);
    let mut ws = connect(&server, &codes[0], "page=Bid").await;
    // Forty frames that never reach the game: not JSON.
    for _ in 0..40 {
        send(&mut ws, "not json").await;
        let frame = next(&mut ws, Duration::from_secs(5)).await.expect("an answer");
        assert!(frame["error"].as_str().is_some_and(|e| e.contains("not JSON")), "{frame}");
    }
    // Alice's quota (5 a second) is untouched: her participant's bid goes through.
    send(&mut ws, &json!({ "bid": 7 }).to_string()).await;
    let frame = next(&mut ws, Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(frame["data"]["max_bid"], 7, "{frame}");
    // Binary frames take rate tokens like text ones: past the burst they are refused by rate.
    let mut other = connect(&server, &codes[1], "page=Bid").await;
    let burst = stoa::server::ServerConfig::default().rate_burst as usize;
    let mut limited = 0;
    for _ in 0..burst + 20 {
        other.send(tokio_tungstenite::tungstenite::Message::Binary(vec![1, 2, 3].into())).await.expect("send");
        let frame = next(&mut other, Duration::from_secs(5)).await.expect("an answer");
        let error = frame["error"].as_str().unwrap_or_default().to_string();
        if error.contains("too many messages") {
            limited += 1;
        } else {
            assert!(error.contains("binary frames are not accepted"), "{frame}");
        }
    }
    assert!(limited >= 10, "{limited} binary frames were refused by rate");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_researchers_warm_groups_cannot_take_the_pool_from_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A pool of 8 instances, 4 of them a researcher's share.
    let config =
        stoa::RuntimeConfig { cache_dir: Some(root().join("target/stoa-cache")), instances: 8, researcher_instances: 4, ..Default::default() };
    let runtime = std::sync::Arc::new(stoa::Runtime::new(config).expect("runtime"));
    let server = TestServer::start_on(runtime.clone(), &[], &dir.path().join("data"), Default::default()).await;
    let alice = add_researcher(&server, "alice", json!({})).await;
    let bob = add_researcher(&server, "bob", json!({})).await;
    let warm = |f: &str, b: Vec<u8>| if f == "game.toml" { [b"warm_instances = true\n".to_vec(), b].concat() } else { b };
    upload(&server, &alice, &archive_with(LOOPER, warm)).await;
    upload(&server, &bob, &archive(AUCTION)).await;

    // Twelve of alice's groups each make a call and keep their instance warm (for a minute):
    // more than the whole pool. Every call is answered.
    let hers = people(&new_session(&server, &alice, json!({ "game": "looper", "participants": 24 })).await);
    for code in hers.iter().step_by(2) {
        let frame = crate::server_support::live_send(&server, code, "Play", r#""ping""#).await;
        assert_eq!(frame["data"]["ok"], true, "alice's group of {code}: {frame}");
    }
    let held = runtime.instances_held_by("alice");
    assert!(held <= 3, "alice's games keep {held} instances, past three quarters of her share of 4");

    // Bob's session still gets instances: a live call and a page.
    let his = people(&new_session(&server, &bob, json!({ "game": "auction", "participants": 3 })).await);
    let frame = crate::server_support::live_send(&server, &his[0], "Bid", r#"{"bid": 5}"#).await;
    assert_eq!(frame["data"]["max_bid"], 5, "bob's live call: {frame}");
    let page = get(&server, &format!("/p/{}", his[1])).await;
    assert_eq!(page.status, 200, "bob's page: {}", page.body);
    server.stop().await;
}
