//! Python and JavaScript games on the real host: their bots pass; a Python and a JavaScript
//! auction serve live sessions on one server beside the Rust auction, message for message;
//! and hostile Python games (tests/fixtures/*-python, each with a README "Expectations") are
//! contained exactly like the Rust ones.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stoa::{CallError, Store, bots};

use crate::support::{TestServer, game, json, session_group, store};
use crate::ws::{connect, expect, next, send};

#[test]
fn python_and_js_example_games_pass_their_bots_in_every_case() {
    for path in ["example-games/auction-python", "example-games/auction-js", "example-games/bargaining-python"] {
        let g = game(path);
        let cases: Vec<Option<&str>> =
            if g.manifest.bot_cases.is_empty() { vec![None] } else { g.manifest.bot_cases.iter().map(|c| Some(c.as_str())).collect() };
        for case in cases {
            let store = Store::temporary().expect("store");
            let report = bots::run(&g, &store, g.manifest.group_size(0) * 2, case, 2).expect("run");
            assert!(report.passed, "{path} case {case:?}: {:?}", report.failures());
            assert_eq!(report.groups.len(), 2, "{path}");
            assert!(report.groups.iter().all(|r| !r.calls.is_empty()), "{path}: every group's bot played");
        }
    }
}

/// A session of the served game `name` with `n` participants; their codes in order.
fn session(server: &TestServer, name: &str, n: u32) -> Vec<String> {
    let game = &server.state.games[name];
    server.state.store.create_session(&game.manifest, n).expect("session").0.participants
}

/// Plays one short auction on the live sockets of a session of `name` and returns, per
/// player, every frame it received, in order. An error frame's text differs by language, so
/// it is replaced by its language-neutral shape `{"error": "<text>"}` after a check.
async fn play_auction(server: &TestServer, name: &str) -> Vec<Vec<Value>> {
    let codes = session(server, name, 3);
    let mut ws = Vec::new();
    // after=0, as live.js connects: a socket is subscribed a moment after its handshake, and
    // the replay covers a broadcast made in that moment.
    for c in &codes {
        ws.push(connect(server, c, "page=Bid&after=0").await);
    }
    let mut seen: Vec<Vec<Value>> = vec![Vec::new(); 3];
    // Player 1 bids 10: a broadcast, seen by all three.
    send(&mut ws[0], r#"{"bid": 10}"#).await;
    for (i, w) in ws.iter_mut().enumerate() {
        seen[i].push(expect(w).await);
    }
    // Player 2 underbids: a direct reply to player 2 alone.
    send(&mut ws[1], r#"{"bid": 5}"#).await;
    seen[1].push(expect(&mut ws[1]).await);
    // Player 3 asks for the state: a direct reply with the maximum and its bidder.
    send(&mut ws[2], r#"{"type": "connect"}"#).await;
    seen[2].push(expect(&mut ws[2]).await);
    // Player 3 outbids with a seq to echo: a broadcast. Players 1 and 2 get it as their next
    // frame, which shows the replies above reached no one else.
    send(&mut ws[2], r#"{"bid": 20, "seq": "s-4"}"#).await;
    for (i, w) in ws.iter_mut().enumerate() {
        seen[i].push(expect(w).await);
    }
    // A bad bid: an error frame to player 1 alone, nothing routed.
    send(&mut ws[0], r#"{"bid": "lots"}"#).await;
    let error = expect(&mut ws[0]).await;
    let text = error["error"].as_str().unwrap_or_else(|| panic!("{name}: expected an error frame, got {error}"));
    assert!(text.contains("bid must be a non-negative integer"), "{name}: {text}");
    seen[0].push(json!({"error": "<text>"}));
    for (i, w) in ws.iter_mut().enumerate() {
        if let Some(f) = next(w, Duration::from_millis(300)).await {
            panic!("{name}: player {} got an unexpected frame {f}", i + 1);
        }
        w.close(None).await.ok();
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_and_js_auctions_serve_live_sessions_beside_the_rust_one_with_the_same_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let games = ["example-games/auction", "example-games/auction-python", "example-games/auction-js"];
    let server = TestServer::start(&games, &dir.path().join("data")).await;
    // The three sessions play at the same time on the one server.
    let (rust, python, js) =
        tokio::join!(play_auction(&server, "auction"), play_auction(&server, "auction-python"), play_auction(&server, "auction-js"),);
    let new_max_10 = json!({"seq": 1, "data": {"type": "new_max", "max_bid": 10, "bidder": 1}});
    let new_max_20 = json!({"seq": 4, "data": {"type": "new_max", "max_bid": 20, "bidder": 3, "seq": "s-4"}});
    let want = vec![
        vec![new_max_10.clone(), new_max_20.clone(), json!({"error": "<text>"})],
        vec![new_max_10.clone(), json!({"seq": 2, "data": {"type": "rejected", "max_bid": 10, "bid": 5}}), new_max_20.clone()],
        vec![new_max_10, json!({"seq": 3, "data": {"type": "state", "max_bid": 10, "highest_bidder": 1}}), new_max_20],
    ];
    assert_eq!(rust, want, "the Rust auction");
    assert_eq!(python, rust, "the Python auction's frames are the Rust auction's");
    assert_eq!(js, rust, "the JavaScript auction's frames are the Rust auction's");
    server.stop().await;
}

#[test]
fn a_python_exception_fails_the_call_with_its_last_traceback_line_and_writes_nothing() {
    let raiser = game("tests/fixtures/raiser-python");
    let (_dir, store) = store();
    let mut group = session_group(&raiser, &store, 2, 1);
    let cases = [
        (r#""raise""#, "ValueError: raised after writing"),
        (r#""key""#, "KeyError: 'missing'"),
        (r#""custom""#, "app.RaiserError: a game-defined error"),
    ];
    for (payload, text) in cases {
        let err = raiser.live_call(&store, &mut group, "Play", 1, payload).expect_err("raises");
        assert_eq!(err, CallError::Refused(text.into()), "{payload}");
        assert_eq!(err.to_string(), text, "the sender's error frame carries exactly this text");
    }
    assert_eq!(store.group_fields(&raiser.manifest, &group.key).expect("fields")["touched"], json!(false));
    assert_eq!(store.player_fields(&raiser.manifest, &group.key, 1).expect("fields")["touched"], json!(false));
    assert!(store.messages(&group.key).expect("messages").is_empty(), "nothing was routed");
    let calls = store.calls(&group.key).expect("log");
    let errors: Vec<_> = calls.iter().map(|c| c.error.as_deref()).collect();
    assert_eq!(errors, cases.iter().map(|(_, t)| Some(*t)).collect::<Vec<_>>(), "one failed entry per raise");
    // The next call works, and its message is the first seq.
    let c = raiser.live_call(&store, &mut group, "Play", 2, r#""ping""#).expect("ping");
    assert_eq!((c.messages[0].seq, json(&c.messages[0].payload)), (1, json!({"ok": true})));
}

#[test]
fn a_bot_sees_a_python_exception_as_a_refused_call_with_its_text() {
    let raiser = game("tests/fixtures/raiser-python");
    let (_dir, store) = store();
    let mut group = session_group(&raiser, &store, 2, 1);
    let (calls, verdict) = raiser.bot_run(&store, &mut group, "Play", Some("raise"));
    assert_eq!(verdict, Ok(()), "the bot's own checks (text, nothing kept) held; its calls: {calls:?}");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].result.as_ref().map(drop), Err(&CallError::Refused("ValueError: raised after writing".into())));
    // The refusal is a value the bot checked: `stoa bots` passes the run (DESIGN.md, "Bots")
    // and its report keeps the call's text.
    let report = bots::run(&raiser, &Store::temporary().expect("store"), 2, Some("raise"), 1).expect("run");
    assert!(report.passed, "{:?}", report.failures());
    let call = &report.groups[0].calls[0];
    assert_eq!((call.player, call.error.as_deref()), (1, Some("ValueError: raised after writing")));
    let report = bots::run(&raiser, &Store::temporary().expect("store"), 4, None, 2).expect("run");
    assert!(report.passed, "{:?}", report.failures());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_exception_reaches_the_sender_alone_as_an_error_frame_on_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["tests/fixtures/raiser-python"], &dir.path().join("data")).await;
    let codes = session(&server, "raiser-python", 2);
    let mut p1 = connect(&server, &codes[0], "page=Play").await;
    let mut p2 = connect(&server, &codes[1], "page=Play").await;
    send(&mut p1, r#""raise""#).await;
    assert_eq!(expect(&mut p1).await, json!({"error": "ValueError: raised after writing"}));
    send(&mut p2, r#""ping""#).await;
    assert_eq!(expect(&mut p2).await, json!({"seq": 1, "data": {"ok": true}}), "player 2's first frame is its own reply");
    if let Some(f) = next(&mut p1, Duration::from_millis(300)).await {
        panic!("player 1 got {f}");
    }
    let p = server.state.store.participant(&codes[0]).expect("store").expect("participant");
    let key = stoa::GroupKey { session: p.session, round: 1, group: 1 };
    let fields = server.state.store.group_fields(&server.state.games["raiser-python"].manifest, &key).expect("fields");
    assert_eq!(fields["touched"], json!(false));
    p1.close(None).await.ok();
    p2.close(None).await.ok();
    server.stop().await;
}

/// Held by each test that makes the looper spin: two loops at once would take both cores of
/// a small machine, and the other groups' replies the tests wait for with them.
static ONE_LOOP_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[test]
fn a_looping_python_call_is_stopped_at_the_deadline_writes_nothing_and_other_groups_are_served() {
    let _one_loop = ONE_LOOP_AT_A_TIME.blocking_lock();
    let looper = game("tests/fixtures/looper-python");
    let deadline = looper.limits.deadline;
    let (_dir, store) = store();
    let (session, _) = store.create_session(&looper.manifest, 4).expect("session");
    let key = |g| stoa::GroupKey { session: session.code.clone(), round: 1, group: g };
    let mut stuck = store.group(key(1), 2).expect("group");
    let mut free = store.group(key(2), 2).expect("group");
    std::thread::scope(|s| {
        let looping = s.spawn(|| {
            let started = Instant::now();
            (looper.live_call(&store, &mut stuck, "Play", 1, r#""loop""#), started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..2 {
            let c = looper.live_call(&store, &mut free, "Play", 2, r#""ping""#).expect("the other group is served");
            assert_eq!(json(&c.messages[0].payload), json!({"ok": true}));
        }
        // Served *meanwhile*: every ping was answered before the loop was stopped. (No bound
        // on each reply's time: on a small machine the loop itself takes a core.)
        assert!(!looping.is_finished(), "the loop should still be running");
        let (result, took) = looping.join().expect("thread");
        assert!(matches!(result, Err(CallError::Deadline(_))), "{result:?}");
        assert!(took >= deadline, "stopped early: {took:?}");
        // Generous: what matters is that the deadline stops the loop at all (else this test
        // would never end); on a machine whose CPUs are oversubscribed the stop comes late.
        assert!(took < deadline * 10, "stopped late: {took:?}");
    });
    assert_eq!(store.group_fields(&looper.manifest, &key(1)).expect("fields")["touched"], json!(false), "the write was dropped");
    assert!(store.messages(&key(1)).expect("messages").is_empty());
    let calls = store.calls(&key(1)).expect("log");
    assert!(calls[0].error.as_deref().is_some_and(|e| e.contains("deadline")), "{calls:?}");
    // The looping group's next call gets a fresh instance; its message is the group's first seq.
    let mut stuck = store.group(key(1), 2).expect("group");
    let c = looper.live_call(&store, &mut stuck, "Play", 2, r#""ping""#).expect("a fresh instance");
    assert_eq!((c.messages[0].seq, json(&c.messages[0].payload)), (1, json!({"ok": true})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_python_game_gets_a_deadline_error_frame_while_another_group_is_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["tests/fixtures/looper-python"], &dir.path().join("data")).await;
    let codes = session(&server, "looper-python", 4);
    let mut stuck = connect(&server, &codes[0], "page=Play").await;
    let mut free = connect(&server, &codes[2], "page=Play").await;
    send(&mut free, r#""ping""#).await;
    expect(&mut free).await;
    let deadline = server.state.games["looper-python"].limits.deadline;
    let _one_loop = ONE_LOOP_AT_A_TIME.lock().await;
    let looping = Instant::now();
    send(&mut stuck, r#""loop""#).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    for _ in 0..2 {
        send(&mut free, r#""ping""#).await;
        assert_eq!(expect(&mut free).await["data"], json!({"ok": true}));
    }
    assert!(looping.elapsed() < deadline, "every reply came while the other group's call was looping");
    let error = expect(&mut stuck).await;
    assert!(looping.elapsed() >= deadline, "the loop was stopped at its deadline, not before");
    assert!(error["error"].as_str().is_some_and(|e| e.contains("deadline")), "{error}");
    assert!(error.get("seq").is_none());
    stuck.close(None).await.ok();
    free.close(None).await.ok();
    server.stop().await;
}

#[test]
fn a_warm_instance_serves_only_its_own_group() {
    let auction = game("example-games/auction-python");
    assert!(auction.manifest.warm_instances);
    let (_dir, store) = store();
    let (session, _) = store.create_session(&auction.manifest, 6).expect("session");
    let key = |g| stoa::GroupKey { session: session.code.clone(), round: 1, group: g };
    let mut g1 = store.group(key(1), 3).expect("group");
    let mut g2 = store.group(key(2), 3).expect("group");
    let mut slot = None;
    auction.live_call_in(&mut slot, &store, &mut g1, "Bid", 1, r#"{"bid": 10}"#).expect("bid");
    assert_eq!(slot.as_ref().map(|i| i.group().clone()), Some(key(1)), "kept for group 1");
    let c = auction.live_call_in(&mut slot, &store, &mut g2, "Bid", 1, r#"{"type": "connect"}"#).expect("connect");
    assert_eq!(crate::support::json(&c.messages[0].payload)["max_bid"], 0, "group 2 sees its own fields");
    assert_eq!(slot.as_ref().map(|i| i.group().clone()), Some(key(2)), "group 2 got its own instance");
    auction.live_call_in(&mut slot, &store, &mut g2, "Bid", 1, r#"{"bid": "lots"}"#).expect_err("refused");
    assert_eq!(slot.as_ref().map(|i| i.group().clone()), Some(key(2)), "a game's own err keeps the instance");
    let fields = store.group_fields(&auction.manifest, &key(1)).expect("fields");
    assert_eq!(fields["max_bid"], 10);
}
