//! Both versions of the WIT world on one host: a component built for `stoa:game@0.1.0` (before
//! 0.2 existed) loads, passes its bots and serves a live session unchanged, and `stoa check`
//! says which world a component implements.

use std::process::Command;

use serde_json::json;

use crate::server_support::{codes, create_session, get};
use crate::support::{TestServer, game, root};
use crate::ws::{connect, next, send};

const V0_1: &str = "tests/fixtures/auction-v0_1";

fn check(dir: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_stoa"))
        .args(["check", dir])
        .current_dir(root())
        .env("STOA_CACHE_DIR", root().join("target/stoa-cache"))
        .output()
        .expect("run stoa");
    assert!(out.status.success(), "stoa check {dir}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn stoa_check_names_the_world_a_component_implements() {
    let said = check(V0_1);
    assert!(said.contains("implements stoa:game/game@0.1.0"), "{said}");
    assert_eq!(game(V0_1).world(), stoa::game::World::V0_1);
}

#[test]
fn a_0_1_component_passes_its_bots() {
    let g = game(V0_1);
    let store = stoa::Store::temporary().expect("store");
    let report = stoa::bots::run(&g, &store, 6, None, 2).expect("run");
    assert!(report.passed, "{:?}\n{}", report.failures(), stoa::bots::describe(&report));
    assert_eq!(report.groups[0].group_fields["max_bid"], json!(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_component_serves_a_live_session_and_its_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[V0_1], &dir.path().join("data")).await;
    let people = codes(&create_session(&server, "auction-v0_1", 3).await);
    let mut one = connect(&server, &people[0], "page=Bid").await;
    let mut two = connect(&server, &people[1], "page=Bid").await;
    send(&mut one, r#"{"bid": 7}"#).await;
    for ws in [&mut one, &mut two] {
        let frame = next(ws, std::time::Duration::from_secs(10)).await.expect("the broadcast");
        assert_eq!(frame["data"], json!({"type": "new_max", "max_bid": 7, "bidder": 1}), "{frame}");
    }
    send(&mut two, r#"{"bid": 3}"#).await;
    let frame = next(&mut two, std::time::Duration::from_secs(10)).await.expect("the refusal");
    assert_eq!(frame["data"], json!({"type": "rejected", "max_bid": 7, "bid": 3}), "{frame}");
    let page = get(&server, &format!("/p/{}", people[2])).await;
    assert_eq!(page.status, 200, "{}", page.body);
    server.stop().await;
}
