//! Hardening: hostile games (tests/fixtures/hostile, start-looper, foreign-import, and an
//! oversized component) and hostile clients (unknown and forged codes, path traversal, many
//! sockets, markup in a field shown by a template). Every case is answered with an error,
//! writes nothing, leaves other groups served, and — for games — is named in the host log
//! with game, session, group and reason.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use stoa::game::Seat;
use stoa::{CallError, Game, LoadError};

use crate::support::{TestServer, game, json, root, runtime, session_group, store};

/// Log lines written while `f` runs on this thread (the host's `tracing` events, all levels
/// from debug up, formatted as `stoa serve` does, without colours).
fn host_log<R>(f: impl FnOnce() -> R) -> (R, String) {
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_ansi(false).with_writer(move || writer.clone()).finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8_lossy(&lines.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    (out, text)
}

/// Asserts that some line of `log` names the game, the session, the group and `reason`.
fn assert_logged(log: &str, game: &str, key: &stoa::GroupKey, reason: &str) {
    let named = log.lines().any(|l| {
        l.contains(&format!("game={game}"))
            && l.contains(&format!("session={}", key.session))
            && l.contains(&format!("group={}", key.group))
            && l.contains(reason)
    });
    assert!(named, "no log line names game {game}, session {}, group {} and `{reason}`:\n{log}", key.session, key.group);
}

/// One hostile live case of tests/fixtures/hostile: what the caller must get, and what the
/// host log must say.
struct Case {
    payload: &'static str,
    error: fn(&CallError) -> bool,
    logged: &'static str,
}

const CASES: &[Case] = &[
    Case { payload: r#""recurse""#, error: |e| matches!(e, CallError::Trap(r) if r.contains("stack")), logged: "call stack exhausted" },
    Case {
        payload: r#""deep-stack""#,
        error: |e| matches!(e, CallError::Trap(r) if r.contains("out of bounds memory access")),
        logged: "out of bounds memory access",
    },
    Case { payload: r#""fields""#, error: |e| matches!(e, CallError::Deadline(_)), logged: "deadline" },
    Case { payload: r#""bad-reply""#, error: |e| matches!(e, CallError::Output(r) if r.contains("not JSON")), logged: "a payload is not JSON" },
    Case {
        payload: r#""bad-field""#,
        error: |e| matches!(e, CallError::Refused(r) if r.matches("not JSON").count() == 4),
        logged: "fields.group-set refused",
    },
    Case {
        payload: r#""bot-driver""#,
        error: |e| matches!(e, CallError::Refused(r) if r.contains("only available inside call-live-method")),
        logged: "bot-driver.live-method refused",
    },
    Case {
        payload: r#""panic""#,
        error: |e| matches!(e, CallError::Trap(r) if r.contains("hostile panic on purpose")),
        logged: "hostile panic on purpose",
    },
    Case { payload: r#""abort""#, error: |e| matches!(e, CallError::Trap(_)), logged: "the game crashed" },
];

#[test]
fn every_hostile_case_errs_writes_nothing_and_is_logged_by_game_session_and_group() {
    let hostile = game("tests/fixtures/hostile");
    let (_dir, store) = store();
    let mut group = session_group(&hostile, &store, 2, 1);
    for case in CASES {
        let (result, log) = host_log(|| hostile.live_call(&store, &mut group, "Play", 1, case.payload));
        let err = result.expect_err(case.payload);
        assert!((case.error)(&err), "{}: unexpected error {err:?}", case.payload);
        assert_logged(&log, "hostile", &group.key, case.logged);
        let fields = store.group_fields(&hostile.manifest, &group.key).expect("fields");
        assert_eq!(fields["touched"], json!(false), "{}: the write before the failure was rolled back", case.payload);
        assert_eq!(fields["n"], json!(0), "{}: no field write survived", case.payload);
        // A fresh instance serves the next call as if nothing happened.
        let ok = hostile.live_call(&store, &mut group, "Play", 2, r#""ping""#).expect("the next call works");
        assert_eq!(json(&ok.messages[0].payload), json!({"ok": true}));
    }
    // Only the pings routed anything; every hostile call is an error entry in the log.
    assert_eq!(store.messages(&group.key).expect("messages").len(), CASES.len());
    let calls = store.calls(&group.key).expect("log");
    assert_eq!(calls.iter().filter(|c| c.error.is_some()).count(), CASES.len(), "{calls:?}");
}

#[test]
fn other_groups_keep_their_latency_while_hostile_calls_run() {
    let hostile = game("tests/fixtures/hostile");
    let (_dir, store) = store();
    let (session, _) = store.create_session(&hostile.manifest, 4).expect("session");
    let key = |g| stoa::GroupKey { session: session.code.clone(), round: 1, group: g };
    let mut bad = store.group(key(1), 2).expect("group");
    let mut good = store.group(key(2), 2).expect("group");
    let mut ping = |n: usize| -> Vec<Duration> {
        (0..n)
            .map(|_| {
                let started = Instant::now();
                let c = hostile.live_call(&store, &mut good, "Play", 1, r#""ping""#).expect("the other group is served");
                assert_eq!(json(&c.messages[0].payload), json!({"ok": true}));
                started.elapsed()
            })
            .collect()
    };
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let alone = median(ping(30));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let during = std::thread::scope(|s| {
        let attacker = s.spawn(|| {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for case in CASES {
                    assert!(hostile.live_call(&store, &mut bad, "Play", 1, case.payload).is_err());
                    n += 1;
                }
            }
            n
        });
        std::thread::sleep(Duration::from_millis(20));
        let during = median(ping(30));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(attacker.join().expect("attacker") >= CASES.len());
        during
    });
    // Two cores: the attacker takes one. Generous bound against the baseline of this run,
    // and far below a deadline (which is what a stalled group would wait).
    let bound = (alone * 20).max(Duration::from_millis(25));
    assert!(during < bound, "median latency {during:?} while attacked, {alone:?} alone");
    assert!(during < hostile.limits.deadline, "{during:?}");
}

#[test]
fn a_start_function_that_loops_is_stopped_at_the_deadline_at_instantiation() {
    let looper = game("tests/fixtures/start-looper");
    let (_dir, store) = store();
    let mut group = session_group(&looper, &store, 2, 1);
    let started = Instant::now();
    let (result, log) = host_log(|| looper.live_call(&store, &mut group, "Play", 1, r#""ping""#));
    let took = started.elapsed();
    assert!(matches!(result, Err(CallError::Deadline(_))), "{result:?}");
    // Initialization has at least INSTANTIATION_BUDGET of CPU time, whatever the deadline.
    let budget = stoa::game::INSTANTIATION_BUDGET.max(looper.limits.deadline);
    assert!(took >= budget, "stopped before its initialization budget: {took:?}");
    assert!(took < budget * 5, "stopped late: {took:?}");
    // It never got to `live-method`: the initialization is what was stopped.
    assert_logged(&log, "start-looper", &group.key, "the game's initialization failed: the game ran past its deadline");
    assert_eq!(store.messages(&group.key).expect("messages").len(), 0);
    // A page render (vars-for-template) is stopped the same way, and nothing is left hanging.
    let err = stoa::game::render::render(&mut None, &looper, &store, Seat { group: &group.key, players: 2, page: "Play", id_in_group: 1 }, "code")
        .expect_err("render stops");
    assert!(matches!(err, CallError::Deadline(_)), "{err:?}");
}

#[test]
fn a_component_importing_what_the_host_does_not_provide_is_refused_at_load_naming_it() {
    let err = Game::load(runtime(), &root().join("tests/fixtures/foreign-import")).expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, LoadError::Component { .. }), "{err:?}");
    assert!(text.contains("foreign-import") && text.contains("`hostile:net/socket`"), "{text}");
    assert!(text.contains("does not provide"), "{text}");
}

#[test]
fn an_oversized_component_is_refused_at_load_before_it_is_read() {
    let limit = stoa::RuntimeConfig::default().max_component_bytes;
    let dir = crate::support::looper_copy(|m| m.to_string());
    // A valid component with a sparse tail: over the limit on disk, no memory or disk used.
    let file = dir.path().join("target/looper.wasm");
    let mut f = std::fs::OpenOptions::new().append(true).open(&file).expect("open");
    f.flush().expect("flush");
    f.set_len(limit + 1).expect("grow");
    let err = Game::load(runtime(), dir.path()).expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("looper") && text.contains(&format!("above the host limit of {limit} bytes")), "{text}");
}

// ---- hostile clients, against the real server ----

fn session(server: &TestServer, game: &str, n: u32) -> Vec<String> {
    let game = &server.state.games[game];
    server.state.store.create_session(&game.manifest, n).expect("session").0.participants
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_forged_participant_codes_get_404_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["tests/fixtures/hostile"], &dir.path().join("data")).await;
    let real = session(&server, "hostile", 2);
    let forged = {
        // Same length and alphabet as a real code, with its last character changed.
        let mut c = real[0].clone();
        let last = c.pop().expect("non-empty");
        c.push(if last == 'a' { 'b' } else { 'a' });
        c
    };
    let long = "x".repeat(10_000);
    let codes = ["nope", forged.as_str(), "..%2f..%2fadmin", "%00", long.as_str(), "ABC%3Cscript%3E"];
    for code in codes {
        let page = crate::server_support::get(&server, &format!("/p/{code}")).await;
        assert_eq!(page.status, 404, "GET /p/{code}: {}", page.body);
        assert!(!page.body.contains("<script>"), "the code is not echoed as markup: {}", page.body);
        let posted = crate::server_support::post_form(&server, &format!("/p/{code}"), "page=Play&round=1").await;
        assert_eq!(posted.status, 404, "POST /p/{code}");
        let position = crate::server_support::get(&server, &format!("/p/{code}/position")).await;
        assert_eq!(position.status, 404, "position of {code}");
        let url = format!("ws://{}/live/{code}?page=Play", server.addr);
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 404, "live {code}"),
            other => panic!("live socket for {code} was not refused: {other:?}"),
        }
        assert!(server.state.store.participant(code).expect("lookup").is_none());
    }
    // A form body past the 2 MiB limit is refused and moves nobody.
    let huge = format!("stoa_page=Play&stoa_round=1&x={}", "y".repeat(3 << 20));
    let posted = crate::server_support::post_form(&server, &format!("/p/{}", real[0]), &huge).await;
    assert_eq!(posted.status, 400, "{}", posted.body);
    assert!(posted.body.contains("could not be read"), "{}", posted.body);
    assert_eq!(crate::server_support::stored_position(&server, &real[0]), (1, 0), "still on Play of round 1");
    // The real participants are untouched and still served.
    let frame = crate::server_support::live_send(&server, &real[0], "Play", r#""ping""#).await;
    assert_eq!(frame["data"], json!({"ok": true}));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_no_json_reader_takes_back_are_refused_as_not_json() {
    // Found by `make fuzz` (client_frame): a skimming parser takes `"\ud800"` and `1e999`,
    // but no string / f64 can hold them, so a field or the log holding one could never be
    // read back.
    use crate::ws::{connect, expect, send};
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["tests/fixtures/hostile"], &dir.path().join("data")).await;
    let codes = session(&server, "hostile", 2);
    let mut ws = connect(&server, &codes[0], "page=Play").await;
    let long = format!("[{}]", "9".repeat(400));
    for frame in [r#""\ud800""#, r#"{"note": "a\udfffb"}"#, "9999999999999e9999999999999", "[-1E400]", &long] {
        send(&mut ws, frame).await;
        let answer = expect(&mut ws).await;
        // Refused by the host's frame check, before any game runs.
        assert!(answer["error"].as_str().is_some_and(|e| e.starts_with("frame is not JSON")), "{frame}: {answer}");
    }
    // A proper pair is fine, and so are numbers in range.
    send(&mut ws, r#"{"note": "\ud83d\ude00", "x": 1.5e300}"#).await;
    assert_eq!(expect(&mut ws).await["data"], json!({"ok": true}));
    let key = stoa::GroupKey { session: server.state.store.participant(&codes[0]).expect("p").expect("p").session, round: 1, group: 1 };
    let fields = server.state.store.group_fields(&server.state.games["hostile"].manifest, &key).expect("fields read back");
    assert_eq!(fields["note"], json!("\u{1f600}"));
    assert_eq!(server.state.store.calls(&key).expect("log").len(), 1, "only the good frame reached the game");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_traversal_on_static_and_page_routes_reaches_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["tests/fixtures/hostile"], &dir.path().join("data")).await;
    let paths = [
        "/static/../Cargo.toml",
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2fCargo.toml",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/live.js/../../Cargo.toml",
        "/static/live.js%00.toml",
        "/static/..%5C..%5CCargo.toml",
        "/p/..%2f..%2fCargo.toml",
        "/admin/sessions/..%2f..%2f..%2fetc%2fpasswd/export",
        "/api/sessions/..%2f..%2fCargo.toml/export",
        "/../../../../etc/passwd",
        "/tests/fixtures/hostile/game.toml",
        "/game.toml",
    ];
    for path in paths {
        let anonymous = crate::server_support::get(&server, path).await;
        let admin = crate::server_support::get_admin(&server, path).await;
        for answer in [anonymous, admin] {
            assert!(matches!(answer.status, 400 | 401 | 404), "{path}: {} {}", answer.status, answer.body);
            for secret in ["root:x:", "[workspace]", "players_per_group"] {
                assert!(!answer.body.contains(secret), "{path} leaked a file: {}", answer.body);
            }
        }
    }
    // The one static file is still served.
    let js = crate::server_support::get(&server, "/static/live.js").await;
    assert_eq!(js.status, 200);
    assert!(js.body.contains("liveSend"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn very_many_sockets_from_one_participant_are_capped_and_others_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["tests/fixtures/hostile"], &dir.path().join("data")).await;
    let cap = server.state.config.sockets_per_participant;
    let codes = session(&server, "hostile", 2);
    let url = format!("ws://{}/live/{}?page=Play", server.addr, codes[0]);
    let mut open = Vec::new();
    let mut refused = 0;
    for _ in 0..200 {
        match tokio_tungstenite::connect_async(&url).await {
            Ok((ws, _)) => open.push(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 429);
                refused += 1;
            }
            Err(e) => panic!("unexpected failure: {e}"),
        }
    }
    assert_eq!(open.len(), cap, "exactly the cap is open");
    assert_eq!(refused, 200 - cap);
    // The other participant is served while the first holds its sockets.
    let started = Instant::now();
    let frame = crate::server_support::live_send(&server, &codes[1], "Play", r#""ping""#).await;
    assert_eq!(frame["data"], json!({"ok": true}));
    assert!(started.elapsed() < Duration::from_secs(5));
    // Closing sockets frees their places.
    for mut ws in open.drain(..) {
        futures_util::SinkExt::close(&mut ws).await.ok();
    }
    let again = crate::server_support::eventually(Duration::from_secs(20), "a socket place to be freed", || {
        let url = url.clone();
        async move { tokio_tungstenite::connect_async(url).await.ok() }
    })
    .await;
    drop(again);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_stored_by_a_participant_is_shown_escaped_and_never_runs_in_the_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["tests/fixtures/hostile"], &dir.path().join("data")).await;
    let codes = session(&server, "hostile", 2);
    let evil = r#"<img src=x onerror="window.__stoaPwned=1"><script>window.__stoaPwned=2</script>"' onload=x {{group.n}}"#;
    let payload = json!({ "note": evil }).to_string();
    let frame = crate::server_support::live_send(&server, &codes[0], "Play", &payload).await;
    assert_eq!(frame["data"], json!({"ok": true}), "{frame}");
    let base = format!("http://{}", server.addr);
    let html = crate::server_support::get(&server, &format!("/p/{}", codes[1])).await.body;
    assert!(!html.contains("<script>window.__stoaPwned"), "raw markup in the page: {html}");
    crate::browser::with_browser(|b| async move {
        b.goto(&format!("{base}/p/{}", codes[1])).await.expect("open the page");
        crate::browser::wait_text(&b, "#shown", evil).await;
        let pwned = b.execute("return typeof window.__stoaPwned", vec![]).await.expect("script");
        assert_eq!(pwned, json!("undefined"), "the stored markup ran");
        let images = b.execute("return document.querySelectorAll('#shown img, #shown script').length", vec![]).await.expect("count");
        assert_eq!(images, json!(0), "the stored markup became elements");
    })
    .await;
    server.stop().await;
}

/// The real `stoa serve` (a child process, its log in a file): hostile calls from one group
/// are answered with error frames and named in the log by game, session, round, group and
/// reason, while another group of the same session keeps its latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stoa_serve_answers_hostile_calls_logs_them_and_keeps_serving_another_group() {
    use crate::ws::{expect, send};
    let dir = tempfile::tempdir().expect("tempdir");
    let games = crate::crash::games_folder(dir.path(), &["tests/fixtures/hostile"]);
    let data = dir.path().join("data");
    let hostile = game("tests/fixtures/hostile");
    let (session, codes) = {
        let store = stoa::Store::open(&data).expect("store");
        let (session, _) = store.create_session(&hostile.manifest, 4).expect("session");
        store.wait_durable().expect("flush");
        (session.code, session.participants)
    };
    let log_file = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_file).expect("log file");
    let mut server = crate::crash::spawn_logging_to(&games, &data, log).await;
    let addr = server.addr.clone();
    let open = |code: &str| {
        let url = format!("ws://{addr}/live/{code}?page=Play");
        async move { tokio_tungstenite::connect_async(url).await.expect("connect").0 }
    };
    // Group 1 is players 1-2, group 2 players 3-4.
    let mut attacker = open(&codes[0]).await;
    let mut other = open(&codes[2]).await;
    let ping = async |ws: &mut crate::ws::Ws| {
        let t = Instant::now();
        send(ws, r#""ping""#).await;
        assert_eq!(expect(ws).await["data"], json!({"ok": true}));
        t.elapsed()
    };
    let mut alone = Vec::new();
    for _ in 0..20 {
        alone.push(ping(&mut other).await);
    }
    let mut during = Vec::new();
    for case in CASES {
        send(&mut attacker, case.payload).await;
        during.push(ping(&mut other).await);
        let frame = expect(&mut attacker).await;
        assert!(frame["error"].as_str().is_some_and(|e| !e.is_empty()), "{}: {frame}", case.payload);
        assert!(frame.get("seq").is_none());
    }
    for ws in [&mut attacker, &mut other] {
        futures_util::SinkExt::close(ws).await.ok();
    }
    server.child.kill().expect("kill");
    server.child.wait().expect("reap");
    let log = std::fs::read_to_string(&log_file).expect("log");
    for case in CASES.iter().filter(|c| !c.logged.contains(" refused")) {
        let line = log
            .lines()
            .find(|l| l.contains("live call failed") && l.contains(case.logged))
            .unwrap_or_else(|| panic!("{}: not in the log:\n{log}", case.payload));
        for part in ["game=hostile", &format!("session={session}"), "round=1", "group=1", "player=1"] {
            assert!(line.contains(part), "`{part}` missing from: {line}");
        }
    }
    for refused in ["bot-driver.live-method refused", "fields.group-set refused"] {
        let line = log.lines().find(|l| l.contains(refused)).unwrap_or_else(|| panic!("`{refused}` not in the log:\n{log}"));
        assert!(line.contains("game=hostile") && line.contains(&format!("session={session}")) && line.contains("group=1"), "{line}");
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (alone, during) = (median(alone), median(during));
    assert!(during < (alone * 20).max(Duration::from_millis(50)) + hostile.limits.deadline, "{during:?} vs {alone:?} alone");
    // Nothing from group 1 was written: its log has no message.
    let store = stoa::Store::open(&data).expect("reopen");
    let key = stoa::GroupKey { session, round: 1, group: 1 };
    assert!(store.messages(&key).expect("messages").is_empty());
    assert_eq!(store.group_fields(&hostile.manifest, &key).expect("fields")["touched"], json!(false));
}

/// Reads what the server sends on `tcp` until it closes the connection (or `limit` passes).
async fn read_until_closed(tcp: &mut tokio::net::TcpStream, limit: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt as _;
    let mut got = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&got).into_owned())
}

/// Sends `request` on a new connection to `addr`; all the server answers before it closes.
async fn exchange(addr: std::net::SocketAddr, request: &str) -> Option<String> {
    use tokio::io::AsyncWriteExt as _;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    tcp.write_all(request.as_bytes()).await.ok()?;
    read_until_closed(&mut tcp, Duration::from_secs(5)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_a_connection_gets_503_naming_the_limit_and_a_closed_one_frees_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = stoa::server::ServerConfig { max_connections: 3, header_read_timeout: Duration::from_secs(60), ..Default::default() };
    let server = TestServer::start_with(&["example-games/auction"], &dir.path().join("data"), config).await;
    // Three idle connections take every place.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(tokio::net::TcpStream::connect(server.addr).await.expect("connect"));
    }
    let refused = crate::server_support::eventually(Duration::from_secs(10), "a 503 past the cap", || async {
        exchange(server.addr, "GET /static/live.js HTTP/1.1\r\nhost: stoa\r\n\r\n").await.filter(|a| a.starts_with("HTTP/1.1 503"))
    })
    .await;
    assert!(refused.contains("too many open connections: this server's limit is 3 (--max-connections)"), "{refused}");
    // One closes: a request gets its place.
    drop(idle.pop());
    let served = crate::server_support::eventually(Duration::from_secs(10), "a place freed", || async {
        exchange(server.addr, "GET /static/live.js HTTP/1.1\r\nhost: stoa\r\nconnection: close\r\n\r\n")
            .await
            .filter(|a| a.starts_with("HTTP/1.1 200"))
    })
    .await;
    assert!(served.contains("liveSend"), "{served}");
    drop(idle);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_past_the_connection_cap_is_closed_unanswered_past_256_pending_refusals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = stoa::server::ServerConfig { max_connections: 2, header_read_timeout: Duration::from_secs(60), ..Default::default() };
    let server = TestServer::start_with(&["example-games/auction"], &dir.path().join("data"), config).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(tokio::net::TcpStream::connect(server.addr).await.expect("connect"));
    }
    // A flood of 400 that never close: each refusal is held (its 503 sent) for up to a second,
    // and no more than 256 are pending: the rest are closed unanswered.
    let mut flood = Vec::new();
    for _ in 0..400 {
        flood.push(tokio::net::TcpStream::connect(server.addr).await.expect("connect"));
    }
    let mut unanswered = 0;
    for tcp in &mut flood {
        let answer = read_until_closed(tcp, Duration::from_secs(5)).await.unwrap_or_default();
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 503"), "{answer}");
        unanswered += usize::from(answer.is_empty());
    }
    assert!(unanswered > 0, "past 256 pending refusals, connections are closed unanswered");
    drop(flood);
    // Once those refusals end (a second each at most), a connection past the cap gets its 503 again.
    let refused = crate::server_support::eventually(Duration::from_secs(10), "a 503 again", || async {
        exchange(server.addr, "GET /static/live.js HTTP/1.1\r\nhost: stoa\r\n\r\n").await.filter(|a| a.starts_with("HTTP/1.1 503"))
    })
    .await;
    assert!(refused.contains("this server's limit is 2"), "{refused}");
    drop(held);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected_at_the_header_timeout() {
    use tokio::io::AsyncWriteExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = stoa::server::ServerConfig { header_read_timeout: Duration::from_millis(500), ..Default::default() };
    let server = TestServer::start_with(&["example-games/auction"], &dir.path().join("data"), config).await;
    // Slowloris: a header line every 100 ms, never the blank line that ends them.
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    slow.write_all(b"GET /static/live.js HTTP/1.1\r\nhost: stoa\r\n").await.expect("write");
    let started = Instant::now();
    let mut cut = false;
    while started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if slow.write_all(b"x-slow: 1\r\n").await.is_err() {
            cut = true;
            break;
        }
        let mut probe = [0u8; 64];
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::from_millis(1), slow.peek(&mut probe)).await {
            cut = true;
            break;
        }
    }
    assert!(cut, "the slow client was still connected after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(3), "cut after {:?}", started.elapsed());
    // A client that sends nothing at all is cut too.
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.expect("connect");
    assert!(read_until_closed(&mut silent, Duration::from_secs(3)).await.is_some(), "a silent connection stays open");
    // Others are served meanwhile.
    assert_eq!(crate::server_support::get(&server, "/static/live.js").await.status, 200);
    server.stop().await;
}
