//! Rooms and online recruitment over real HTTP: a room's link waits until a session opens in
//! it, then hands out the session's participants in order (a cookie resumes a browser, a
//! label always gets its participant back, across a SIGKILL of `stoa serve` too), refuses an
//! unknown label, says when the session is full; a finished participant is sent to the
//! config's `completion_url` with the label; labels reach the exports and the payments; one
//! researcher's room is nobody else's; `stoa room` adds and lists rooms; a browser's waiting
//! page moves on by itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::Method;
use serde_json::{Value, json};

use crate::server_support::{Answer, auction_game, codes, eventually, get, request, submit, try_request_at};
use crate::support::{TOKEN, TestServer};

/// Writes game "room-game" into `dir` ([`auction_game`]): one page, `Intro`, one round,
/// groups of `ppg`, and a config with a Prolific-style completion URL.
fn room_game(dir: &Path, ppg: u32) -> PathBuf {
    let keys = format!(
        "players_per_group = {ppg}\n[config]\ncompletion_url = \"https://app.prolific.example/submissions/complete?cc=C0DE&pid=\"\nparticipation_fee = 2.5\n"
    );
    let pages = "[[page]]\nname = \"Intro\"\ntemplate = \"templates/Intro.hbs\"\n";
    auction_game(dir, "room-game", &keys, pages, &[("Intro", "<p id=\"intro\">Welcome, player {{player.id_in_group}}.</p><button>Go</button>")])
}

/// A request with bearer `token` and a JSON body.
async fn api(server: &TestServer, method: Method, path: &str, token: &str, body: Value) -> Answer {
    let auth = format!("Bearer {token}");
    let body = if body.is_null() { String::new() } else { body.to_string() };
    request(server, method, path, &[("authorization", &auth), ("content-type", "application/json")], &body).await
}

/// `GET path` with a `Cookie` header.
async fn get_with_cookie(server: &TestServer, path: &str, cookie: &str) -> Answer {
    request(server, Method::GET, path, &[("cookie", cookie)], "").await
}

/// A host page's text with handlebars' escapes undone, to look for a message in it.
fn unescaped(html: &str) -> String {
    let pairs = [("&#x60;", "`"), ("&#x27;", "'"), ("&#x3D;", "="), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&amp;", "&")];
    pairs.iter().fold(html.to_string(), |text, (from, to)| text.replace(from, to))
}

/// The participant code a room answer redirects to (a 302 to `/p/CODE`).
fn redirected(a: &Answer) -> String {
    assert_eq!(a.status, 302, "expected a redirect to a participant: {} {}", a.status, a.body);
    a.header("location").strip_prefix("/p/").unwrap_or_else(|| panic!("not a participant page: {}", a.header("location"))).to_string()
}

async fn start(dir: &tempfile::TempDir, ppg: u32) -> TestServer {
    let game = room_game(dir.path(), ppg);
    TestServer::start(&[game.to_str().expect("utf-8 path")], &dir.path().join("data")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_link_waits_for_a_session_then_hands_out_its_participants_in_order_until_full() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, 1).await;
    let made = api(&server, Method::POST, "/api/rooms", TOKEN, json!({ "name": "lab", "display_name": "The Lab" })).await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.json()["url"], "/room/lab");

    // Before a session: the waiting page, which polls the status, sandboxed like every
    // participant page; the status answers any origin.
    let waiting = get(&server, "/room/lab").await;
    assert_eq!(waiting.status, 200, "{}", waiting.body);
    assert!(waiting.body.contains("id=\"stoa-room-waiting\"") && waiting.body.contains("/status"), "{}", waiting.body);
    assert!(waiting.body.contains("<title>The Lab</title>"), "{}", waiting.body);
    assert!(waiting.header("content-security-policy").starts_with("sandbox"), "{:?}", waiting.headers);
    let status = get(&server, "/room/lab/status").await;
    assert_eq!((status.json(), status.header("access-control-allow-origin")), (json!({ "open": false }), "*"));
    assert_eq!(get(&server, "/room/nowhere").await.status, 404);

    let info = api(&server, Method::POST, "/api/sessions", TOKEN, json!({ "game": "room-game", "participants": 2, "room": "lab" })).await;
    assert_eq!(info.status, 201, "{}", info.body);
    let (code, people) = (info.json()["code"].as_str().expect("code").to_string(), codes(&info.json()));
    assert_eq!(get(&server, "/room/lab/status").await.json(), json!({ "open": true }));

    // Arrivals in order; a browser's cookie gets its participant back.
    let first = get(&server, "/room/lab").await;
    assert_eq!(redirected(&first), people[0]);
    let cookie = first.header("set-cookie").split(';').next().expect("cookie").to_string();
    assert_eq!(cookie, format!("stoa_room_lab={}", people[0]));
    assert_eq!(redirected(&get_with_cookie(&server, "/room/lab", &cookie).await), people[0], "a refresh resumes");
    assert_eq!(redirected(&get(&server, "/room/lab").await), people[1]);
    let full = get(&server, "/room/lab").await;
    assert_eq!(full.status, 409, "{}", full.body);
    assert!(full.body.contains("This session is full"), "{}", full.body);
    assert_eq!(redirected(&get_with_cookie(&server, "/room/lab", &cookie).await), people[0], "a full session still resumes");
    assert_eq!(api(&server, Method::GET, "/api/rooms/lab", TOKEN, Value::Null).await.json()["seated"], 2);

    // One session per room: a second is refused naming the first, until the room is closed.
    let second = api(&server, Method::POST, "/api/sessions", TOKEN, json!({ "game": "room-game", "participants": 1, "room": "lab" })).await;
    assert_eq!(second.status, 409, "{}", second.body);
    assert!(second.json()["error"].as_str().is_some_and(|e| e.contains(&code)), "{}", second.body);
    let closed = api(&server, Method::POST, "/api/rooms/lab/close", TOKEN, Value::Null).await;
    assert_eq!((closed.status, closed.json()["session"].clone()), (200, Value::Null), "{}", closed.body);
    assert_eq!(get(&server, "/room/lab").await.status, 200, "waiting again");
    let unknown = api(&server, Method::POST, "/api/sessions", TOKEN, json!({ "game": "room-game", "participants": 1, "room": "nope" })).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_gets_its_participant_back_after_stoa_serve_is_killed_and_unknown_labels_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let games = dir.path().join("games");
    room_game(&games, 1);
    let data = dir.path().join("data");
    let server = crate::crash::spawn_logging_to(&games, &data, std::process::Stdio::null()).await;
    let call = |method: Method, path: &str, body: Value| {
        let (addr, path) = (server.addr.clone(), path.to_string());
        async move {
            let auth = format!("Bearer {TOKEN}");
            try_request_at(&addr, method, &path, &[("authorization", &auth), ("content-type", "application/json")], &body.to_string())
                .await
                .expect("answer")
        }
    };
    let made = call(Method::POST, "/api/rooms", json!({ "name": "econ101", "labels": ["A1", "A2", "A3"] })).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let info = call(Method::POST, "/api/sessions", json!({ "game": "room-game", "participants": 3, "room": "econ101" })).await;
    assert_eq!(info.status, 201, "{}", info.body);
    let people = codes(&info.json());
    let arrive = |addr: String, label: &str| {
        let path = format!("/room/econ101?participant_label={label}");
        async move { try_request_at(&addr, Method::GET, &path, &[], "").await.expect("answer") }
    };
    assert_eq!(redirected(&arrive(server.addr.clone(), "A2").await), people[0], "the first arrival gets the first participant");
    // SIGKILL right after the redirect: the seat was durable before it was answered.
    let mut server = server;
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    let server = crate::crash::spawn_logging_to(&games, &data, std::process::Stdio::null()).await;
    // A newcomer first: had the seat been lost, A1 would get the first participant back.
    assert_eq!(redirected(&arrive(server.addr.clone(), "A1").await), people[1], "the seat given before the kill is still taken");
    assert_eq!(redirected(&arrive(server.addr.clone(), "A2").await), people[0], "A2 resumes after the restart");

    let unknown = arrive(server.addr.clone(), "Z9").await;
    assert_eq!(unknown.status, 403, "{}", unknown.body);
    assert!(unescaped(&unknown.body).contains("The participant label `Z9` is not on this room's list"), "{}", unknown.body);
    let hostile = arrive(server.addr.clone(), "%3Cscript%3E").await;
    assert_eq!(hostile.status, 400, "{}", hostile.body);
    assert!(unescaped(&hostile.body).contains("bad participant label `<script>`") && !hostile.body.contains("<script>"), "{}", hostile.body);
    let huge = arrive(server.addr.clone(), &"x".repeat(5000)).await;
    assert_eq!(huge.status, 400, "{}", huge.body);
    // A room with a list asks for the label when none is given.
    let ask = try_request_at(&server.addr, Method::GET, "/room/econ101", &[], "").await.expect("answer");
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(ask.body.contains("name=\"participant_label\""), "{}", ask.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_participant_goes_to_the_completion_url_with_the_label_which_every_export_and_payments_show() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, 1).await;
    assert_eq!(api(&server, Method::POST, "/api/rooms", TOKEN, json!({ "name": "online" })).await.status, 201);
    let info = api(&server, Method::POST, "/api/sessions", TOKEN, json!({ "game": "room-game", "participants": 2, "room": "online" })).await;
    assert_eq!(info.status, 201, "{}", info.body);
    let (code, people) = (info.json()["code"].as_str().expect("code").to_string(), codes(&info.json()));
    let pid = "5f3a9c0e1b2d4e6f7a8b9c0d";
    let me = redirected(&get(&server, &format!("/room/online?participant_label={pid}")).await);
    assert_eq!(me, people[0]);
    let page = get(&server, &format!("/p/{me}")).await;
    assert_eq!(page.status, 200, "not finished yet: the page: {}", page.body);
    assert_eq!(submit(&server, &me, "Intro", 1).await.status, 303);
    let done = get(&server, &format!("/p/{me}")).await;
    assert_eq!(done.status, 302, "{}", done.body);
    assert_eq!(done.header("location"), format!("https://app.prolific.example/submissions/complete?cc=C0DE&pid={pid}"));
    // Without a label, the URL as it is.
    let other = redirected(&get(&server, "/room/online").await);
    submit(&server, &other, "Intro", 1).await;
    assert_eq!(get(&server, &format!("/p/{other}")).await.header("location"), "https://app.prolific.example/submissions/complete?cc=C0DE&pid=");

    let export = api(&server, Method::GET, &format!("/api/sessions/{code}/export?format=json"), TOKEN, Value::Null).await.json();
    assert_eq!(export["participants"], json!([{ "code": people[0], "label": pid }, { "code": people[1], "label": null }]));
    assert_eq!(export["rounds"][0]["groups"][0]["players"][0]["label"], pid);
    assert_eq!(export["payments"][0]["label"], pid);
    let csv = api(&server, Method::GET, &format!("/api/sessions/{code}/export?format=csv"), TOKEN, Value::Null).await.body;
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("session,round,group,id_in_group,participant,participant.label,"), "{csv}");
    assert!(lines[1].starts_with(&format!("{code},1,1,1,{},{pid},", people[0])), "{csv}");
    assert!(lines[2].starts_with(&format!("{code},1,2,1,{},,", people[1])), "{csv}");
    let pay = api(&server, Method::GET, &format!("/api/sessions/{code}/payments"), TOKEN, Value::Null).await.json();
    assert_eq!((pay["participants"][0]["label"].clone(), pay["participants"][0]["money"].clone()), (json!(pid), json!(2.5)));
    let page = api(&server, Method::GET, &format!("/admin/sessions/{code}/payments"), TOKEN, Value::Null).await;
    assert!(page.body.contains(&format!("<td class=\"label\">{pid}</td>")), "{}", page.body);

    // A completion URL given at creation is checked; a bad one is refused before any session.
    let params = json!({ "game": "room-game", "participants": 1, "params": { "completion_url": "javascript:alert(1)" } });
    let bad = api(&server, Method::POST, "/api/sessions", TOKEN, params).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.json()["error"].as_str().is_some_and(|e| e.contains("completion_url")), "{}", bad.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rooms_are_refused_naming_what_and_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, 1).await;
    let too_many: Vec<String> = (0..10_001).map(|i| format!("L{i}")).collect();
    let cases = [
        (json!({ "name": "a/b" }), 400, "bad room name `a/b`"),
        (json!({ "name": "" }), 400, "bad room name"),
        (json!({ "name": "ok", "labels": ["A1", "A1"] }), 400, "label 2: `A1` is listed twice"),
        (json!({ "name": "ok", "labels": ["A 1"] }), 400, "label 1: bad participant label `A 1`"),
        (json!({ "name": "ok", "labels": too_many }), 400, "too many labels: 10001 given"),
        (json!({ "name": "ok", "colour": "red" }), 400, "unknown field `colour`"),
        (json!({ "name": "ok", "display_name": "a\u{7}b" }), 400, "bad display name"),
    ];
    for (body, status, why) in cases {
        let a = api(&server, Method::POST, "/api/rooms", TOKEN, body.clone()).await;
        assert_eq!(a.status, status, "{body}: {}", a.body);
        assert!(a.json()["error"].as_str().is_some_and(|e| e.contains(why)), "{body}: {}", a.body);
    }
    let garbage = request(&server, Method::POST, "/api/rooms", &[("authorization", &format!("Bearer {TOKEN}"))], "{not json").await;
    assert_eq!(garbage.status, 400, "{}", garbage.body);
    assert_eq!(api(&server, Method::POST, "/api/rooms", TOKEN, json!({ "name": "lab" })).await.status, 201);
    let again = api(&server, Method::POST, "/api/rooms", TOKEN, json!({ "name": "lab" })).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(api(&server, Method::POST, "/api/rooms", "wrong", json!({ "name": "x" })).await.status, 401);
    assert_eq!(api(&server, Method::GET, "/api/rooms", TOKEN, Value::Null).await.json()["rooms"].as_array().map(Vec::len), Some(1));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_researcher_can_neither_see_nor_use_nor_open_a_session_in_someone_elses_room() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, 1).await;
    let mut tokens = Vec::new();
    for name in ["alice", "bob"] {
        let a = api(&server, Method::POST, "/api/researchers", TOKEN, json!({ "name": name })).await;
        assert_eq!(a.status, 201, "{}", a.body);
        tokens.push(a.json()["token"].as_str().expect("token").to_string());
    }
    let (alice, bob) = (&tokens[0], &tokens[1]);
    let made = api(&server, Method::POST, "/api/rooms", alice, json!({ "name": "alice-lab", "labels": ["A1"] })).await;
    assert_eq!((made.status, made.json()["owner"].clone()), (201, json!("alice")), "{}", made.body);
    assert_eq!(api(&server, Method::GET, "/api/rooms", alice, Value::Null).await.json()["rooms"][0]["name"], "alice-lab");

    // Bob: not listed, a 404 on every route, as if it did not exist.
    assert_eq!(api(&server, Method::GET, "/api/rooms", bob, Value::Null).await.json(), json!({ "rooms": [] }));
    assert_eq!(api(&server, Method::GET, "/api/rooms/alice-lab", bob, Value::Null).await.status, 404);
    assert_eq!(api(&server, Method::POST, "/api/rooms/alice-lab/close", bob, Value::Null).await.status, 404);
    let open = api(&server, Method::POST, "/api/sessions", bob, json!({ "game": "anything", "participants": 1, "room": "alice-lab" })).await;
    assert_eq!(open.status, 404, "{}", open.body);
    assert_eq!(open.json()["error"], "no room `alice-lab`");
    let auth = format!("Bearer {bob}");
    let page = request(&server, Method::GET, "/admin/rooms/alice-lab", &[("authorization", &auth)], "").await;
    assert_eq!(page.status, 404, "{}", page.body);
    let list = request(&server, Method::GET, "/admin/rooms", &[("authorization", &auth)], "").await;
    assert!(list.status == 200 && !list.body.contains("alice-lab"), "{}", list.body);
    let close = request(&server, Method::POST, "/admin/rooms/alice-lab/close", &[("authorization", &auth)], "").await;
    assert_eq!(close.status, 404, "{}", close.body);
    // The operator sees it, but a room holds its owner's games only.
    assert_eq!(api(&server, Method::GET, "/api/rooms/alice-lab", TOKEN, Value::Null).await.status, 200);
    let mixed = api(&server, Method::POST, "/api/sessions", TOKEN, json!({ "game": "room-game", "participants": 1, "room": "alice-lab" })).await;
    assert_eq!(mixed.status, 400, "{}", mixed.body);
    assert!(mixed.json()["error"].as_str().is_some_and(|e| e.contains("researcher `alice`'s")), "{}", mixed.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_pages_create_a_room_from_pasted_labels_open_a_session_in_it_and_close_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, 1).await;
    let auth = format!("Bearer {TOKEN}");
    let form = [("authorization", auth.as_str()), ("content-type", "application/x-www-form-urlencoded")];
    let made = request(&server, Method::POST, "/admin/rooms", &form, "name=econ101&display_name=Econ+101&labels=A1%0D%0AA2%0D%0A%0D%0A").await;
    assert_eq!((made.status, made.header("location")), (303, "/admin/rooms/econ101"), "{}", made.body);
    let page = request(&server, Method::GET, "/admin/rooms/econ101", &[("authorization", &auth)], "").await;
    let text = unescaped(&page.body);
    assert!(text.contains(&format!("http://{}/room/econ101?participant_label=A2", server.addr)), "{}", page.body);
    assert!(text.contains("?participant_label={{%PROLIFIC_PID%}}"), "{}", page.body);
    let home = request(&server, Method::GET, "/admin", &[("authorization", &auth)], "").await;
    assert!(home.body.contains("<option value=\"econ101\">Econ 101 (/room/econ101)</option>"), "{}", home.body);
    let bad = request(&server, Method::POST, "/admin/rooms", &form, "name=x&labels=A1%0AA1").await;
    assert!(bad.status == 400 && unescaped(&bad.body).contains("label 2: `A1` is listed twice"), "{}", bad.body);

    let created = request(&server, Method::POST, "/admin/sessions", &form, "game=room-game&participants=2&room=econ101").await;
    assert_eq!(created.status, 303, "{}", created.body);
    let code = created.header("location").trim_start_matches("/admin/sessions/").to_string();
    let room = api(&server, Method::GET, "/api/rooms/econ101", TOKEN, Value::Null).await.json();
    assert_eq!(room["session"], json!(code));
    assert_eq!(room["labels"], json!(["A1", "A2"]));
    let busy = request(&server, Method::GET, "/admin", &[("authorization", &auth)], "").await;
    assert!(busy.body.contains("disabled>Econ 101 (/room/econ101): holds a session"), "{}", busy.body);
    let closed = request(&server, Method::POST, "/admin/rooms/econ101/close", &form, "").await;
    assert_eq!(closed.status, 303, "{}", closed.body);
    assert_eq!(api(&server, Method::GET, "/api/rooms/econ101", TOKEN, Value::Null).await.json()["session"], Value::Null);
    // The close form, like every admin form, only from this site.
    let other =
        request(&server, Method::POST, "/admin/rooms/econ101/close", &[("authorization", &auth), ("origin", "http://evil.example")], "").await;
    assert_eq!(other.status, 403, "{}", other.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_command_adds_rooms_with_a_labels_file_that_the_server_then_serves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "A1\nA2\n\nA3\n").expect("write labels");
    let stoa = |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_stoa")).args(args).arg("--data").arg(&data).output().expect("run stoa");
    let labels_arg = labels.to_str().expect("utf-8 path");
    let added = stoa(&["room", "add", "econ101", "--display-name", "Econ 101", "--labels", labels_arg]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    assert_eq!(String::from_utf8_lossy(&added.stdout).trim(), "room `econ101` added (3 labels); its link: /room/econ101");
    let again = stoa(&["room", "add", "econ101"]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("a room named `econ101` exists already"));
    let bad = stoa(&["room", "add", "no/slash"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("bad room name `no/slash`"));
    let nobody = stoa(&["room", "add", "r2", "--researcher", "nobody"]);
    assert!(!nobody.status.success() && String::from_utf8_lossy(&nobody.stderr).contains("no researcher `nobody`"));
    let list = stoa(&["room", "list"]);
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "econ101: \"Econ 101\", owner operator, 3 labels, session none");

    let server = TestServer::start(&[room_game(dir.path(), 1).to_str().expect("utf-8 path")], &data).await;
    let room = api(&server, Method::GET, "/api/rooms/econ101", TOKEN, Value::Null).await.json();
    assert_eq!(room["labels"], json!(["A1", "A2", "A3"]));
    assert_eq!(get(&server, "/room/econ101?participant_label=A3").await.status, 200, "waiting");
    assert_eq!(get(&server, "/room/econ101?participant_label=A4").await.status, 403);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_the_waiting_page_moves_on_by_itself_when_a_session_opens_and_a_reload_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir, 1).await;
    assert_eq!(api(&server, Method::POST, "/api/rooms", TOKEN, json!({ "name": "lab" })).await.status, 201);
    let base = format!("http://{}", server.addr);
    let srv = &server;
    crate::browser::with_browser(|b| async move {
        b.goto(&format!("{base}/room/lab")).await.expect("open the room");
        crate::browser::wait_text(
            &b,
            "#stoa-room-waiting",
            "Please wait: the session has not started yet. This page moves on by itself once it does.",
        )
        .await;
        let info = api(srv, Method::POST, "/api/sessions", TOKEN, json!({ "game": "room-game", "participants": 2, "room": "lab" })).await;
        let people = codes(&info.json());
        let at = |b: fantoccini::Client| async move { b.current_url().await.ok().map(|u| u.path().to_string()) };
        let first = format!("/p/{}", people[0]);
        eventually(Duration::from_secs(20), "the waiting page to move on", || {
            let (b, first) = (b.clone(), first.clone());
            async move { (at(b).await? == first).then_some(()) }
        })
        .await;
        crate::browser::wait_text(&b, "#intro", "Welcome, player 1.").await;
        // The room link again in this browser: its cookie gets the same participant back.
        b.goto(&format!("{base}/room/lab")).await.expect("open the room again");
        eventually(Duration::from_secs(10), "the same participant", || {
            let (b, first) = (b.clone(), first.clone());
            async move { (at(b).await? == first).then_some(()) }
        })
        .await;
        crate::browser::screenshot(&b, "room-resumed").await;
    })
    .await;
    server.stop().await;
}
