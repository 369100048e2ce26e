//! The sandbox promise, tried as a hostile researcher would (docs/HOSTING.md, "Limits"): no
//! game holds a host thread past its deadline, and other sessions keep answering meanwhile.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server_support::{codes, create_session, get, submit};
use crate::support::TestServer;
use crate::ws::{bid_round_trips, connect, next, send};

fn median(v: &[Duration]) -> Duration {
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleeping_games_end_at_their_deadline_and_another_session_keeps_answering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["tests/fixtures/sleeper", "example-games/auction"], &dir.path().join("data")).await;
    let sleepy = codes(&create_session(&server, "sleeper", 20).await);
    let calm = codes(&create_session(&server, "auction", 3).await);
    let mut calm_ws = connect(&server, &calm[0], "page=Bid").await;
    bid_round_trips(&mut calm_ws, 1, 3).await; // the first calls start the game
    let quiet = bid_round_trips(&mut calm_ws, 4, 20).await;

    // A short wait within the deadline is allowed.
    let mut ws = connect(&server, &sleepy[0], "page=Play").await;
    send(&mut ws, r#""nap""#).await;
    assert_eq!(next(&mut ws, Duration::from_secs(10)).await.expect("an answer")["data"], json!({"napped": true}));
    drop(ws);

    // Twenty one-player groups sleep 60 s each, all at once: more than there are runners.
    let started = Instant::now();
    let mut sleepers = Vec::new();
    for code in sleepy.clone() {
        let mut ws = connect(&server, &code, "page=Play").await;
        sleepers.push(tokio::spawn(async move {
            send(&mut ws, r#""sleep""#).await;
            let frame = next(&mut ws, Duration::from_secs(30)).await;
            (frame, started.elapsed())
        }));
    }
    let during = bid_round_trips(&mut calm_ws, 100, 20).await;
    for s in sleepers {
        let (frame, took) = s.await.expect("sleeper");
        let frame: Value = frame.expect("every sleeping call is answered");
        let error = frame["error"].as_str().unwrap_or_else(|| panic!("an error frame, not {frame}"));
        assert!(error.contains("deadline of 100 ms"), "{error}");
        assert!(took < Duration::from_secs(10), "a sleeping call was answered after {took:?}");
    }
    println!("the other session's bid round trip: quiet median {:?}, while 20 games slept {:?}", median(&quiet), median(&during));
    let limit = median(&quiet) * 10 + Duration::from_millis(250);
    assert!(median(&during) <= limit, "median {:?} above {limit:?} (quiet {:?})", median(&during), median(&quiet));

    // Nothing a stopped call wrote was kept.
    let game = server.state.games["sleeper"].clone();
    for code in &sleepy {
        let p = server.state.store.participant(code).expect("store").expect("participant");
        let fields = server.state.store.group_fields(&game.manifest, &p.group_key()).expect("fields");
        assert_eq!(fields["touched"], false, "a stopped call's write was kept");
    }

    // A page whose vars-for-template sleeps fails at the deadline instead of holding a thread.
    assert!(submit(&server, &sleepy[1], "Play", 1).await.status < 400);
    let t = Instant::now();
    let page = get(&server, &format!("/p/{}", sleepy[1])).await;
    assert_eq!(page.status, 500, "{}", page.body);
    assert!(page.body.contains("deadline of 100 ms"), "{}", page.body);
    assert!(t.elapsed() < Duration::from_secs(10), "the page took {:?}", t.elapsed());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_script_opened_by_the_signed_in_operator_cannot_read_the_admin_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let game = crate::server_support::flow_game(dir.path(), 600);
    // The researcher's template tries what a hostile one would: read the operator's session
    // list with the operator's cookie, and create a researcher.
    let probe = r#"<p id="probe">probing</p><script>
      Promise.all([
        fetch("/admin/sessions", { credentials: "include" }).then(function (r) { return r.text(); }),
        fetch("/api/researchers", { method: "POST", credentials: "include", headers: { "content-type": "application/json" }, body: "{\"name\": \"mallory\"}" }).then(function (r) { return r.text(); })
      ]).then(function (t) { document.getElementById("probe").textContent = "read: " + t[0].length + " and " + t[1]; },
              function () { document.getElementById("probe").textContent = "blocked"; });
    </script>"#;
    std::fs::write(game.join("templates/Intro.hbs"), probe).expect("template");
    let server = TestServer::start(&[game.to_str().expect("path")], &dir.path().join("data")).await;
    let people = codes(&create_session(&server, "pages-flow", 3).await);
    let base = format!("http://{}", server.addr);
    crate::browser::with_browser(|b| async move {
        crate::browser::sign_in(&b, &base, crate::support::TOKEN).await;
        b.goto(&format!("{base}/p/{}", people[0])).await.expect("open the page");
        crate::browser::wait_text(&b, "#probe", "blocked").await;
    })
    .await;
    let researchers = server.state.tenants.accounts.list().expect("accounts");
    assert!(researchers.is_empty(), "the page's script created a researcher: {researchers:?}");
    server.stop().await;
}

#[test]
fn templates_that_include_each_other_are_refused_at_load_naming_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let game = crate::server_support::flow_game(dir.path(), 60);
    // Before, the first view of either page recursed until the host's stack overflowed and the
    // process aborted (at every restart too).
    std::fs::write(game.join("templates/Intro.hbs"), "<p>intro</p>{{> Bid}}").expect("template");
    std::fs::write(game.join("templates/Bid.hbs"), "{{#if player}}{{> Intro}}{{/if}}").expect("template");
    let err = stoa::Game::load(crate::support::runtime(), &game).expect_err("refused").to_string();
    assert!(err.contains("game.toml") && err.contains("page[1].template"), "{err}");
    assert!(err.contains("`Bid` includes `Intro` includes `Bid`"), "{err}");
    // An inline partial could recurse out of sight of that check: refused too.
    std::fs::write(game.join("templates/Bid.hbs"), "{{#*inline \"x\"}}{{> x}}{{/inline}}{{> x}}").expect("template");
    let err = stoa::Game::load(crate::support::runtime(), &game).expect_err("refused").to_string();
    assert!(err.contains("page[1].template") && err.contains("inline partials"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_frame_is_refused_and_the_session_export_keeps_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["example-games/auction"], &dir.path().join("data")).await;
    let info = create_session(&server, "auction", 3).await;
    let people = codes(&info);
    let mut ws = connect(&server, &people[0], "page=Bid").await;
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    // 200 levels: refused where it enters, before the game (it used to be logged, and the
    // session's JSON export failed from then on).
    send(&mut ws, &nested(200)).await;
    let frame = next(&mut ws, Duration::from_secs(5)).await.expect("an answer");
    assert!(frame["error"].as_str().is_some_and(|e| e.contains("more than 64 levels deep")), "{frame}");
    // At the limit: the game sees it (and refuses it as no bid); its log entry is kept.
    send(&mut ws, &nested(64)).await;
    let frame = next(&mut ws, Duration::from_secs(5)).await.expect("an answer");
    assert!(frame["error"].is_string(), "{frame}");
    send(&mut ws, &json!({ "bid": 3 }).to_string()).await;
    assert_eq!(next(&mut ws, Duration::from_secs(5)).await.expect("an answer")["data"]["max_bid"], 3);
    let code = info["code"].as_str().expect("code");
    for format in ["json", "csv"] {
        let export = crate::server_support::get_admin(&server, &format!("/api/sessions/{code}/export?format={format}")).await;
        assert_eq!(export.status, 200, "{format}: {}", export.body);
    }
    let export = crate::server_support::get_admin(&server, &format!("/api/sessions/{code}/export?format=json")).await.json();
    assert!(export.to_string().contains(&nested(64)), "the call at the limit is in the log");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_renders_and_socket_upgrades_take_the_participants_rate_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = stoa::server::ServerConfig { rate_per_second: 2.0, rate_burst: 10.0, ..stoa::server::ServerConfig::default() };
    let server = TestServer::start_with(&["example-games/auction"], &dir.path().join("data"), config).await;
    let people = codes(&create_session(&server, "auction", 3).await);
    // Each render starts an instance of the game: past the burst, a flood of reloads is 429.
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(get(&server, &format!("/p/{}", people[0])).await.status);
    }
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused >= 15 && statuses[..10].iter().all(|s| *s == 200), "{statuses:?}");
    // So is a flood of socket upgrades; another participant's page and socket are untouched.
    let mut upgrades = 0;
    for _ in 0..20 {
        let url = format!("ws://{}/live/{}?page=Bid", server.addr, people[0]);
        if tokio_tungstenite::connect_async(url).await.is_ok() {
            upgrades += 1;
        }
    }
    assert!(upgrades < 20, "{upgrades} of 20 upgrades went through");
    assert_eq!(get(&server, &format!("/p/{}", people[1])).await.status, 200);
    let mut ws = connect(&server, &people[1], "page=Bid").await;
    send(&mut ws, &json!({ "bid": 5 }).to_string()).await;
    assert_eq!(next(&mut ws, Duration::from_secs(5)).await.expect("an answer")["data"]["max_bid"], 5);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_streamed_a_chunk_at_a_time_not_built_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["example-games/auction"], &dir.path().join("data")).await;
    let info = create_session(&server, "auction", 1500).await;
    let code = info["code"].as_str().expect("code").to_string();
    let people = codes(&info);
    assert!(submit(&server, &people[0], "Bid", 1).await.status < 400);
    // The log: a head, round 1's creating-session (group 0), the one submission.
    for (path, rows) in [("format=json", None), ("format=csv", Some(1501)), ("format=csv&table=log", Some(3))] {
        let a = crate::server_support::get_admin(&server, &format!("/api/sessions/{code}/export?{path}")).await;
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        // A body built whole has a length before it is sent; a streamed one does not.
        assert!(a.headers.get("content-length").is_none(), "{path}: the export was built whole ({:?})", a.headers);
        assert_eq!(a.headers.get("transfer-encoding").and_then(|v| v.to_str().ok()), Some("chunked"), "{path}");
        match rows {
            Some(n) => assert_eq!(a.body.lines().count(), n, "{path}"),
            None => {
                let v: Value = serde_json::from_str(&a.body).expect("the streamed JSON parses");
                assert_eq!(v["session"], json!(code));
                assert_eq!(v["rounds"][0]["groups"].as_array().map(Vec::len), Some(500));
                assert_eq!(v["rounds"][0]["groups"][499]["players"][2]["participant"], json!(people[1499]));
                // Round 1's creating-session, then the one submission: group 1's before-next-page.
                assert_eq!(v["live_log"].as_array().map(Vec::len), Some(2));
                assert_eq!(v["live_log"][0]["calls"][0]["payload"]["hook"], json!("creating-session"));
                assert_eq!(v["live_log"][1]["calls"][0]["payload"]["hook"], json!("before-next-page"));
            }
        }
    }
    server.stop().await;
}
