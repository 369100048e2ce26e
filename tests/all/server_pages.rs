//! Participant pages on the real server: rendering, submits, wait pages, timeouts, rounds and
//! restarts, with the auction and the "pages-flow" game (the auction's component under a
//! manifest with a timed page, a live page, a wait page and two rounds).

use std::time::Duration;

use crate::server_support::{
    codes, create_session, eventually, flow_game, get, live_send, position, request, start_when_released, stored_position, submit,
};
use crate::support::TestServer;

const AUCTION: &str = "example-games/auction";

/// A server of the pages-flow game on `dir`'s data (a restart when a server ran there).
async fn flow_server(dir: &tempfile::TempDir, intro_timeout: u32) -> TestServer {
    let game = flow_game(dir.path(), intro_timeout);
    start_when_released(&[game.to_str().expect("utf-8 path")], &dir.path().join("data")).await
}

/// Moves all three participants from Intro to Bid by submitting Intro.
async fn past_intro(server: &TestServer, codes: &[String], round: u32) {
    for c in codes {
        let a = submit(server, c, "Intro", round).await;
        assert_eq!(a.status, 303, "{}", a.body);
    }
    for c in codes {
        assert_eq!(position(server, c).await, (u64::from(round), "Bid".to_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_participant_gets_a_404_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[AUCTION], &dir.path().join("data")).await;
    let a = get(&server, "/p/nosuchparticipant").await;
    assert_eq!(a.status, 404);
    assert!(a.header("content-type").starts_with("text/html"), "{:?}", a.headers);
    assert!(a.body.contains("Page not found"), "{}", a.body);
    assert_eq!(submit(&server, "nosuchparticipant", "Bid", 1).await.status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bid_page_loads_live_js_for_its_participant_and_shows_the_group_max_bid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[AUCTION], &dir.path().join("data")).await;
    let people = codes(&create_session(&server, "auction", 3).await);
    let frame = live_send(&server, &people[1], "Bid", r#"{"bid": 42}"#).await;
    assert_eq!(frame["data"]["max_bid"], 42, "{frame}");
    let a = get(&server, &format!("/p/{}", people[0])).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.starts_with("<!doctype html>"), "{}", a.body);
    assert!(a.body.contains("<title>Bid</title>"));
    let script = format!("<script src=\"/static/live.js\" data-participant=\"{}\" data-page=\"Bid\" data-history=\"true\"></script>", people[0]);
    assert!(a.body.contains(&script), "{}", a.body);
    assert!(a.body.contains("<strong id=\"max-bid\">42</strong>"), "{}", a.body);
    let form = a.body.find("<form method=\"post\" id=\"form\"").expect("the page is in a form");
    assert!(a.body.find("id=\"send-bid\"").expect("the game's page") > form);
    assert!(a.body.find("/static/live.js").expect("live.js") < form, "live.js loads before the page's scripts");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_moves_the_participant_to_results_and_a_second_submit_moves_nobody() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[AUCTION], &dir.path().join("data")).await;
    let people = codes(&create_session(&server, "auction", 3).await);
    let me = &people[2];
    let a = submit(&server, me, "Bid", 1).await;
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.header("location"), format!("/p/{me}"));
    let page = get(&server, &format!("/p/{me}")).await;
    assert!(page.body.contains("<title>Results</title>"), "{}", page.body);
    assert!(!page.body.contains("live.js"), "Results is not a live page");
    // The same form again (a double click): redirected, still on Results, not finished.
    assert_eq!(submit(&server, me, "Bid", 1).await.status, 303);
    assert_eq!(position(&server, me).await, (1, "Results".to_string()));
    assert_eq!(position(&server, &people[0]).await, (1, "Bid".to_string()), "the others stay");
    // Results is the last page: then the participant has finished.
    assert_eq!(submit(&server, me, "Results", 1).await.status, 303);
    let done = get(&server, &format!("/p/{me}")).await;
    assert_eq!(done.status, 200);
    assert!(done.body.contains("You have finished"), "{}", done.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_message_shaped_like_a_page_hook_does_not_stand_in_for_the_pages_before_next_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[AUCTION], &dir.path().join("data")).await;
    let people = codes(&create_session(&server, "auction", 3).await);
    // The auction takes it as a bid of 7: a successful live call on Bid whose payload names
    // the hook the submit of Bid runs.
    let frame = live_send(&server, &people[0], "Bid", r#"{"hook": "before-next-page", "bid": 7}"#).await;
    assert_eq!(frame["data"]["max_bid"], 7, "{frame}");
    assert_eq!(submit(&server, &people[0], "Bid", 1).await.status, 303);
    let p = server.state.store.participant(&people[0]).expect("store").expect("participant");
    let calls = server.state.store.calls(&p.group_key()).expect("calls");
    let hooks: Vec<_> = calls.iter().filter(|c| c.hook && c.page == "Bid" && c.sender == 1).collect();
    assert_eq!(hooks.len(), 1, "the submit ran before-next-page itself: {calls:?}");
    assert!(hooks[0].payload.get().contains(r#""hook":"before-next-page""#), "{}", hooks[0].payload.get());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_page_name_is_a_400_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[AUCTION], &dir.path().join("data")).await;
    let people = codes(&create_session(&server, "auction", 3).await);
    let a = crate::server_support::post_form(&server, &format!("/p/{}", people[0]), "bid=3").await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("stoa_page"), "{}", a.body);
    assert_eq!(position(&server, &people[0]).await, (1, "Bid".to_string()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_page_holds_until_the_whole_group_has_arrived() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = flow_server(&dir, 60).await;
    let people = codes(&create_session(&server, "pages-flow", 3).await);
    past_intro(&server, &people, 1).await;
    for (i, c) in people.iter().enumerate() {
        assert_eq!(submit(&server, c, "Bid", 1).await.status, 303);
        if i < 2 {
            let page = get(&server, &format!("/p/{c}")).await;
            assert!(page.body.contains("<title>Wait</title>"), "{}", page.body);
            assert!(page.body.contains("id=\"waiting\""), "the wait page renders its template");
            assert!(page.body.contains("/position"), "the wait page polls for the group");
            for earlier in &people[..=i] {
                assert_eq!(position(&server, earlier).await, (1, "Wait".to_string()), "player {} waits", i + 1);
            }
        }
    }
    for c in &people {
        assert_eq!(position(&server, c).await, (1, "Results".to_string()), "the last arrival releases everyone");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_arrivals_on_a_wait_page_are_not_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = flow_server(&dir, 60).await;
    let people = codes(&create_session(&server, "pages-flow", 3).await);
    past_intro(&server, &people, 1).await;
    let arrivals = people.iter().map(|c| submit(&server, c, "Bid", 1));
    for a in futures_util::future::join_all(arrivals).await {
        assert_eq!(a.status, 303);
    }
    for c in &people {
        assert_eq!(stored_position(&server, c), (1, 3), "everyone is released to Results");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_timeout_counts_from_each_participants_first_view_and_fires_without_another_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = flow_server(&dir, 2).await;
    let info = create_session(&server, "pages-flow", 3).await;
    let people = codes(&info);
    let intro = get(&server, &format!("/p/{}", people[0])).await;
    assert!(intro.body.contains("id=\"stoa-timer\""), "a timed page shows a countdown: {}", intro.body);
    // The second participant arrives a second later; the third never loads the page.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(get(&server, &format!("/p/{}", people[1])).await.status, 200);
    // Nobody asks for a page: the server's own timer moves the first on, 2 s after their view...
    eventually(Duration::from_secs(5), "the first Intro timeout", || async { (stored_position(&server, &people[0]) == (1, 1)).then_some(()) }).await;
    // ...while the second, who saw it a second later, still has about a second.
    assert_eq!(stored_position(&server, &people[1]), (1, 0), "the late arrival's clock started at their own view");
    eventually(Duration::from_secs(5), "the second Intro timeout", || async { (stored_position(&server, &people[1]) == (1, 1)).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(stored_position(&server, &people[2]), (1, 0), "no clock runs on a page never loaded");

    // The page times: arrival, first view, departure and whether the timeout left it.
    let code = info["code"].as_str().expect("code");
    let times = server.state.store.page_times(code).expect("page times");
    let intro: Vec<_> = times.iter().filter(|t| t.page == "Intro").collect();
    assert_eq!(intro.len(), 2, "{times:?}");
    for t in &intro {
        let viewed = t.viewed_ms.expect("viewed");
        assert!(t.timeout_happened);
        assert!((1900..3500).contains(&(t.left_ms - viewed)), "left {} ms after the view: {t:?}", t.left_ms - viewed);
    }
    assert!(intro[1].viewed_ms.expect("viewed") - intro[1].arrived_ms >= 900, "the second viewed it a second after arriving: {:?}", intro[1]);
    let csv = crate::server_support::get_admin(&server, &format!("/api/sessions/{code}/export?format=csv&table=pages")).await.body;
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "session,participant,position,round,page,arrived_ms,viewed_ms,left_ms,seconds_on_page,timeout_happened");
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[1].starts_with(&format!("{code},{},1,1,Intro,", people[0])) && rows[1].ends_with(",true"), "{csv}");
    let json = crate::server_support::get_admin(&server, &format!("/api/sessions/{code}/export?format=json")).await.json();
    assert_eq!(json["page_times"].as_array().map(Vec::len), Some(2), "{}", json["page_times"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_timeout_fires_after_a_restart_on_the_same_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = flow_server(&dir, 2).await;
    let people = codes(&create_session(&server, "pages-flow", 3).await);
    for c in &people {
        assert_eq!(get(&server, &format!("/p/{c}")).await.status, 200);
    }
    server.stop().await;
    let server = flow_server(&dir, 2).await;
    assert_eq!(stored_position(&server, &people[0]), (1, 0), "not yet: the deadline is 2 s after the first view");
    for c in &people {
        eventually(Duration::from_secs(6), "the rescheduled Intro timeout", || async { (stored_position(&server, c) == (1, 1)).then_some(()) }).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_advance_with_the_same_groups_until_the_participant_finishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = flow_server(&dir, 60).await;
    let info = create_session(&server, "pages-flow", 6).await;
    let people = codes(&info);
    let group2 = &people[3..];
    for round in 1..=2u32 {
        past_intro(&server, group2, round).await;
        for c in group2 {
            assert_eq!(submit(&server, c, "Bid", round).await.status, 303);
        }
        let results = get(&server, &format!("/p/{}", group2[0])).await;
        assert!(results.body.contains(&format!("Round {round}: the highest bid was")), "{}", results.body);
        for c in group2 {
            assert_eq!(submit(&server, c, "Results", round).await.status, 303);
        }
    }
    for c in group2 {
        assert_eq!(position(&server, c).await, (2, "finished".to_string()));
    }
    assert_eq!(position(&server, &people[0]).await, (1, "Intro".to_string()), "group 1 did not move");
    let after = crate::server_support::get_admin(&server, &format!("/api/sessions/{}", info["code"].as_str().expect("code"))).await.json();
    for (before, now) in info["participants"].as_array().expect("list").iter().zip(after["participants"].as_array().expect("list")) {
        assert_eq!((&before["group"], &before["id_in_group"]), (&now["group"], &now["id_in_group"]), "groups are fixed across rounds");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_page_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = flow_server(&dir, 60).await;
    let people = codes(&create_session(&server, "pages-flow", 3).await);
    past_intro(&server, &people, 1).await;
    assert_eq!(submit(&server, &people[0], "Bid", 1).await.status, 303);
    server.stop().await;
    let server = flow_server(&dir, 60).await;
    assert_eq!(position(&server, &people[0]).await, (1, "Wait".to_string()));
    assert_eq!(position(&server, &people[1]).await, (1, "Bid".to_string()));
    let page = get(&server, &format!("/p/{}", people[1])).await;
    assert!(page.body.contains("<title>Bid</title>"), "{}", page.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_advances_the_slowest_participants_as_if_their_page_timed_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = flow_server(&dir, 600).await;
    let info = create_session(&server, "pages-flow", 6).await;
    let (code, people) = (info["code"].as_str().expect("code").to_string(), codes(&info));
    // Group 1 leaves Intro for Bid; group 2 loads Intro and stays.
    for c in &people[..3] {
        assert!(submit(&server, c, "Intro", 1).await.status < 400);
    }
    for c in &people[3..] {
        assert_eq!(get(&server, &format!("/p/{c}")).await.status, 200);
    }
    let monitor = crate::server_support::get_admin(&server, &format!("/api/sessions/{code}")).await.json();
    assert!(monitor["participants"][3]["seconds_on_page"].is_u64(), "{monitor}");

    let auth = format!("Bearer {}", crate::support::TOKEN);
    let post = |body: &'static str| {
        let auth = auth.clone();
        let server = &server;
        let path = format!("/api/sessions/{code}/advance");
        async move { request(server, axum::http::Method::POST, &path, &[("authorization", &auth), ("content-type", "application/json")], body).await }
    };
    let a = post("{}").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["advanced"], serde_json::json!(people[3..]), "the slowest: group 2, on Intro");
    for c in &people {
        assert_eq!(stored_position(&server, c), (1, 1), "everyone on Bid now");
    }
    // Each left Intro as on a timeout: before-next-page was told so, and the page times say so.
    let p = server.state.store.participant(&people[4]).expect("store").expect("participant");
    let calls = server.state.store.calls(&p.group_key()).expect("calls");
    let hook = calls.iter().find(|c| c.sender == p.id_in_group && c.page == "Intro").expect("the hook call");
    assert!(hook.payload.get().contains(r#""timeout_happened":true"#), "{}", hook.payload.get());
    let times = server.state.store.page_times(&code).expect("page times");
    assert!(times.iter().filter(|t| t.page == "Intro").all(|t| t.timeout_happened == (t.position > 3)), "{times:?}");

    // Named participants; an unknown one is refused; naming a participant on a wait page makes
    // it time out for their group: those there go on without the others.
    let a = post(r#"{"participants": ["nobody"]}"#).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("`nobody` is not a participant"), "{}", a.body);
    assert!(submit(&server, &people[0], "Bid", 1).await.status < 400);
    assert_eq!(stored_position(&server, &people[0]), (1, 2), "on Wait, alone");
    let named = format!(r#"{{"participants": ["{}"]}}"#, people[0]);
    let a = request(
        &server,
        axum::http::Method::POST,
        &format!("/api/sessions/{code}/advance"),
        &[("authorization", &auth), ("content-type", "application/json")],
        &named,
    )
    .await;
    assert_eq!(a.json()["advanced"], serde_json::json!([people[0]]), "{}", a.body);
    assert_eq!(stored_position(&server, &people[0]), (1, 3), "the wait page timed out for the one there");
    assert_eq!(stored_position(&server, &people[1]), (1, 1), "the others stay where they are");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_without_players_per_group_makes_the_whole_session_one_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pages = "[[page]]\nname = \"Bid\"\ntemplate = \"templates/Bid.hbs\"\nlive = true\n[[page]]\nname = \"Wait\"\ntemplate = \"templates/Wait.hbs\"\nkind = \"wait\"\n";
    let templates = [("Bid", "<p id=\"who\">player {{player.id_in_group}} of group {{group.id}}</p>"), ("Wait", "<p>Waiting</p>")];
    let game = crate::server_support::auction_game(dir.path(), "market", "", pages, &templates);
    let server = TestServer::start(&[game.to_str().expect("path")], &dir.path().join("data")).await;
    // Any number of participants: one group of 7.
    let info = create_session(&server, "market", 7).await;
    let people = codes(&info);
    assert_eq!(info["players_per_group"], 7, "{info}");
    let page = get(&server, &format!("/p/{}", people[6])).await;
    assert!(page.body.contains("player 7 of group 1"), "{}", page.body);
    // A bid reaches the whole market.
    let url = format!("ws://{}/live/{}?page=Bid", server.addr, people[0]);
    let mut far = tokio_tungstenite::connect_async(url).await.expect("connect").0;
    let reply = live_send(&server, &people[6], "Bid", r#"{"bid": 30}"#).await;
    assert_eq!(reply["data"]["max_bid"], 30, "{reply}");
    let seen = crate::ws::expect(&mut far).await;
    assert_eq!(seen["data"]["max_bid"], 30, "player 1 of 7 sees player 7's bid: {seen}");
    // The wait page waits for all seven.
    for c in &people[..6] {
        assert!(submit(&server, c, "Bid", 1).await.status < 400);
    }
    assert_eq!(stored_position(&server, &people[0]), (1, 1), "six of seven wait");
    assert!(submit(&server, &people[6], "Bid", 1).await.status < 400);
    eventually(Duration::from_secs(5), "the market to leave the wait page", || async {
        (stored_position(&server, &people[0]) == (1, 2)).then_some(())
    })
    .await;
    server.stop().await;
}
