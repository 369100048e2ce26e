//! The live channel against the real server on 127.0.0.1:0 with real WebSocket clients.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::support::TestServer;
use crate::ws::{connect, expect, expect_silence, next, send};

/// A session of `game` with `n` participants; their codes in order.
fn session(server: &TestServer, game: &str, n: u32) -> Vec<String> {
    let game = &server.state.games[game];
    let (session, _) = server.state.store.create_session(&game.manifest, n).expect("session");
    session.participants
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_players_see_a_broadcast_and_direct_replies_reach_only_the_sender() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["example-games/auction"], &dir.path().join("data")).await;
    let codes = session(&server, "auction", 3);
    let mut ws = Vec::new();
    for c in &codes {
        ws.push(connect(&server, c, "page=Bid").await);
    }
    send(&mut ws[0], r#"{"bid": 10}"#).await;
    for w in ws.iter_mut() {
        assert_eq!(expect(w).await, json!({"seq": 1, "data": {"type": "new_max", "max_bid": 10, "bidder": 1}}));
    }
    send(&mut ws[1], r#"{"bid": 5}"#).await;
    assert_eq!(expect(&mut ws[1]).await, json!({"seq": 2, "data": {"type": "rejected", "max_bid": 10, "bid": 5}}));
    expect_silence(&mut ws[0]).await;
    expect_silence(&mut ws[2]).await;
    for w in ws.iter_mut() {
        w.close(None).await.ok();
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_with_after_replays_what_was_missed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["example-games/auction"], &dir.path().join("data")).await;
    let codes = session(&server, "auction", 3);
    let mut p1 = connect(&server, &codes[0], "page=Bid").await;
    let mut p3 = connect(&server, &codes[2], "page=Bid").await;
    send(&mut p1, r#"{"bid": 10}"#).await;
    assert_eq!(expect(&mut p3).await["seq"], 1);
    p3.close(None).await.ok();
    send(&mut p1, r#"{"bid": 20}"#).await; // seq 2, to everyone
    send(&mut p1, r#"{"bid": 1}"#).await; // seq 3, to player 1 only
    send(&mut p1, r#"{"bid": 30}"#).await; // seq 4, to everyone
    for seq in [1, 2, 3, 4] {
        assert_eq!(expect(&mut p1).await["seq"], seq);
    }
    let mut p3 = connect(&server, &codes[2], "page=Bid&after=1").await;
    assert_eq!(expect(&mut p3).await, json!({"seq": 2, "data": {"type": "new_max", "max_bid": 20, "bidder": 1}}));
    assert_eq!(expect(&mut p3).await["seq"], 4, "seq 3 went to player 1 alone");
    expect_silence(&mut p3).await;
    // after=0 is the whole history; no `after` is no replay.
    let mut again = connect(&server, &codes[2], "page=Bid&after=0").await;
    assert_eq!(expect(&mut again).await["seq"], 1);
    let mut fresh = connect(&server, &codes[1], "page=Bid").await;
    expect_silence(&mut fresh).await;
    for w in [&mut p1, &mut p3, &mut again, &mut fresh] {
        w.close(None).await.ok();
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_the_same_data_dir_keeps_fields_log_and_seq() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = TestServer::start(&["example-games/auction"], &data).await;
    let codes = session(&server, "auction", 3);
    let mut p2 = connect(&server, &codes[1], "page=Bid").await;
    send(&mut p2, r#"{"bid": 42}"#).await;
    assert_eq!(expect(&mut p2).await["seq"], 1);
    p2.close(None).await.ok();
    server.stop().await;

    let server = restart(&data).await;
    let mut p2 = connect(&server, &codes[1], "page=Bid&after=0").await;
    assert_eq!(expect(&mut p2).await["data"]["max_bid"], 42, "the log is replayed");
    send(&mut p2, r#"{"type": "connect"}"#).await;
    let state = expect(&mut p2).await;
    assert_eq!(state["seq"], 2, "seq goes on from the log");
    assert_eq!(state["data"]["max_bid"], 42, "fields survived");
    p2.close(None).await.ok();
    server.stop().await;
}

/// Starts a server on `data` again, waiting for the previous one to release the database.
async fn restart(data: &std::path::Path) -> TestServer {
    let started = Instant::now();
    loop {
        match stoa::Store::open(data) {
            Ok(store) => {
                drop(store);
                return TestServer::start(&["example-games/auction"], data).await;
            }
            Err(e) if started.elapsed() < Duration::from_secs(10) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the previous server never released the database: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_error_frames_and_the_socket_stays_usable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = stoa::server::ServerConfig { frame_bytes: 1024, rate_per_second: 5.0, rate_burst: 20.0, ..Default::default() };
    let server = TestServer::start_with(&["example-games/auction"], &dir.path().join("data"), config).await;
    let codes = session(&server, "auction", 3);
    let mut ws = connect(&server, &codes[0], "page=Bid").await;
    send(&mut ws, "{not json").await;
    assert!(expect(&mut ws).await["error"].as_str().is_some_and(|e| e.contains("not JSON")));
    ws.send(Message::Binary(vec![1u8, 2, 3].into())).await.expect("send");
    assert!(expect(&mut ws).await["error"].as_str().is_some_and(|e| e.contains("binary")));
    send(&mut ws, &format!("\"{}\"", "x".repeat(2000))).await;
    assert!(expect(&mut ws).await["error"].as_str().is_some_and(|e| e.contains("above the limit")));
    send(&mut ws, r#"{"bid": "lots"}"#).await;
    assert!(expect(&mut ws).await["error"].is_string(), "the game's own err reaches the sender");
    // A socket for a page the participant is not on.
    let mut wrong = connect(&server, &codes[0], "page=Results").await;
    send(&mut wrong, r#"{"bid": 3}"#).await;
    assert!(expect(&mut wrong).await["error"].as_str().is_some_and(|e| e.contains("not on page")));
    wrong.close(None).await.ok();
    // Nothing above was written.
    let key = stoa::GroupKey { session: server.state.store.participant(&codes[0]).expect("p").expect("p").session, round: 1, group: 1 };
    assert!(server.state.store.messages(&key).expect("log").is_empty());
    // The socket still works.
    send(&mut ws, r#"{"bid": 7}"#).await;
    assert_eq!(expect(&mut ws).await["seq"], 1);
    // A flood past the rate limit is answered with errors, not served.
    for i in 0..40 {
        send(&mut ws, &format!(r#"{{"bid": {}}}"#, 100 + i)).await;
    }
    let mut limited = 0;
    while let Some(f) = next(&mut ws, Duration::from_millis(500)).await {
        if f["error"].as_str().is_some_and(|e| e.contains("too many")) {
            limited += 1;
        }
    }
    assert!(limited >= 15, "only {limited} of 40 flood frames were refused");
    ws.close(None).await.ok();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_groups_looping_game_does_not_delay_another_group() {
    // A loop given 3 s, so the check does not race the deadline on a busy machine.
    let game = crate::support::looper_copy(|m| m.replace("[limits]", "[limits]\ndeadline_ms = 3000"));
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[game.path().to_str().expect("utf-8 path")], &dir.path().join("data")).await;
    let codes = session(&server, "looper", 4);
    let mut stuck = connect(&server, &codes[0], "page=Play").await;
    let mut free = connect(&server, &codes[2], "page=Play").await;
    // Warm up the other group's actor and measure its reply time when nothing loops.
    let mut quiet = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        send(&mut free, r#""hi""#).await;
        expect(&mut free).await;
        quiet.push(t.elapsed());
    }
    send(&mut stuck, r#""loop""#).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut busy = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        send(&mut free, r#""hi""#).await;
        assert_eq!(expect(&mut free).await["data"], json!({"ok": true}));
        busy.push(t.elapsed());
    }
    // Every reply came while the other group was still stuck in its loop...
    assert!(next(&mut stuck, Duration::ZERO).await.is_none(), "the loop ended before the replies did");
    quiet.sort();
    busy.sort();
    let (q, b) = (quiet[quiet.len() / 2], busy[busy.len() / 2]);
    // ...and the typical reply took no more than a few milliseconds longer than without it.
    assert!(b < q + Duration::from_millis(10), "median reply {b:?} while another group looped, {q:?} without");
    // The deadline is 3 s of CPU time: on a busy machine it ends later on the wall clock.
    let stopped = next(&mut stuck, Duration::from_secs(35)).await.expect("the loop is stopped");
    assert!(stopped["error"].as_str().is_some_and(|e| e.contains("deadline")), "{stopped}");
    stuck.close(None).await.ok();
    free.close(None).await.ok();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_is_replayed_the_groups_last_messages_only_and_told_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = stoa::server::ServerConfig { replay_messages: 3, ..Default::default() };
    let server = TestServer::start_with(&["example-games/auction"], &dir.path().join("data"), config).await;
    let codes = session(&server, "auction", 3);
    let mut p1 = connect(&server, &codes[0], "page=Bid").await;
    for bid in 1..=5 {
        send(&mut p1, &format!(r#"{{"bid": {bid}}}"#)).await;
        assert_eq!(expect(&mut p1).await["seq"], bid);
    }
    // after=0 on a log of 5: a notice naming the limit, then seqs 3 to 5.
    let mut p2 = connect(&server, &codes[1], "page=Bid&after=0").await;
    let notice = expect(&mut p2).await;
    let why = notice["error"].as_str().unwrap_or_else(|| panic!("a notice first: {notice}"));
    assert!(why.contains("after message 2") && why.contains("last 3 messages (the replay limit)"), "{why}");
    for seq in [3, 4, 5] {
        assert_eq!(expect(&mut p2).await["seq"], seq);
    }
    expect_silence(&mut p2).await;
    // Within the limit: what was asked for, no notice.
    let mut p3 = connect(&server, &codes[2], "page=Bid&after=3").await;
    assert_eq!(expect(&mut p3).await["seq"], 4);
    assert_eq!(expect(&mut p3).await["seq"], 5);
    expect_silence(&mut p3).await;
    for w in [&mut p1, &mut p2, &mut p3] {
        w.close(None).await.ok();
    }
    server.stop().await;
}

/// A copy of the auction with a second live page `Bid2` after `Bid` (its replay off when
/// `history` is false).
fn auction_with_two_live_pages(history: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = crate::support::root().join("example-games/auction");
    for sub in ["target", "templates"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
    }
    for f in ["target/auction.wasm", "templates/Bid.hbs", "templates/Results.hbs"] {
        std::fs::copy(src.join(f), dir.path().join(f)).expect("copy");
    }
    let manifest = std::fs::read_to_string(src.join("game.toml")).expect("manifest").replace(
        "[[page]]\nname = \"Results\"",
        &format!("[[page]]\nname = \"Bid2\"\ntemplate = \"templates/Bid.hbs\"\nlive = true\nhistory = {history}\n\n[[page]]\nname = \"Results\""),
    );
    std::fs::write(dir.path().join("game.toml"), manifest).expect("write");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_live_page_replays_only_its_own_messages_and_a_page_can_turn_history_off() {
    let game = auction_with_two_live_pages(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[game.path().to_str().expect("path")], &dir.path().join("data")).await;
    let codes = session(&server, "auction", 3);
    let mut p1 = connect(&server, &codes[0], "page=Bid").await;
    send(&mut p1, r#"{"bid": 10}"#).await;
    assert_eq!(expect(&mut p1).await["seq"], 1);
    for code in &codes[..2] {
        assert!(crate::server_support::submit(&server, code, "Bid", 1).await.status < 400);
    }
    // On the next live page of the round, the first page's message is not replayed...
    let mut second = connect(&server, &codes[0], "page=Bid2&after=0").await;
    expect_silence(&mut second).await;
    send(&mut second, r#"{"bid": 20}"#).await;
    assert_eq!(expect(&mut second).await["seq"], 2);
    // ...while each page's own history is.
    let mut again = connect(&server, &codes[1], "page=Bid2&after=0").await;
    assert_eq!(expect(&mut again).await, json!({"seq": 2, "data": {"type": "new_max", "max_bid": 20, "bidder": 1}}));
    expect_silence(&mut again).await;
    let mut first = connect(&server, &codes[1], "page=Bid&after=0").await;
    assert_eq!(expect(&mut first).await["seq"], 1);
    expect_silence(&mut first).await;
    for w in [&mut p1, &mut second, &mut again, &mut first] {
        w.close(None).await.ok();
    }
    // The page says whether live.js replays its history: `history = false` turns it off.
    let page = crate::server_support::get(&server, &format!("/p/{}", codes[2])).await;
    assert!(page.body.contains(r#"data-history="true""#), "{}", page.body);
    server.stop().await;
    let game = auction_with_two_live_pages(false);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[game.path().to_str().expect("path")], &dir.path().join("data")).await;
    let codes = session(&server, "auction", 3);
    assert!(crate::server_support::submit(&server, &codes[0], "Bid", 1).await.status < 400);
    let page = crate::server_support::get(&server, &format!("/p/{}", codes[0])).await;
    assert!(page.body.contains(r#"data-page="Bid2" data-history="false""#), "{}", page.body);
    server.stop().await;
}
