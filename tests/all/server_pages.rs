//! Participant pages on the real server: rendering, submits, wait pages, timeouts, rounds and
//! restarts, with the auction and the "pages-flow" game (the auction's component under a
//! manifest with a timed page, a live page, a wait page and two rounds).

use std::time::Duration;

use crate::server_support::{codes, create_session, eventually, flow_game, get, live_send, position, start_when_released, stored_position, submit};
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
async fn a_page_timeout_moves_the_participant_on_without_any_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = flow_server(&dir, 1).await;
    let people = codes(&create_session(&server, "pages-flow", 3).await);
    let intro = get(&server, &format!("/p/{}", people[0])).await;
    assert!(intro.body.contains("id=\"stoa-timer\""), "a timed page shows a countdown: {}", intro.body);
    assert_eq!(stored_position(&server, &people[1]), (1, 0));
    // Nobody asks for a page: the server's own timer moves everyone to Bid.
    for c in &people {
        eventually(Duration::from_secs(5), "the Intro timeout", || async { (stored_position(&server, c) == (1, 1)).then_some(()) }).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_timeout_fires_after_a_restart_on_the_same_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = flow_server(&dir, 2).await;
    let people = codes(&create_session(&server, "pages-flow", 3).await);
    server.stop().await;
    let server = flow_server(&dir, 2).await;
    assert_eq!(stored_position(&server, &people[0]), (1, 0), "not yet: the deadline is 2 s after the session started");
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
