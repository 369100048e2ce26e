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

const CONFIG: &str = "tests/fixtures/config-v0_2";

/// `POST /api/sessions` with `body` as the operator.
async fn post_session(server: &TestServer, body: serde_json::Value) -> crate::server_support::Answer {
    let auth = format!("Bearer {}", crate::support::TOKEN);
    crate::server_support::request(
        server,
        axum::http::Method::POST,
        "/api/sessions",
        &[("authorization", &auth), ("content-type", "application/json")],
        &body.to_string(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_treatment_chosen_at_creation_changes_what_a_0_2_game_computes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[CONFIG], &dir.path().join("data")).await;
    assert_eq!(game(CONFIG).world(), stoa::game::World::V0_2);
    let mut products = Vec::new();
    for (body, multiplier) in [
        (json!({"game": "config-v0_2", "participants": 1}), 2),
        (json!({"game": "config-v0_2", "participants": 1, "config": "triple"}), 3),
        (json!({"game": "config-v0_2", "participants": 1, "config": "triple", "params": {"multiplier": 4}}), 4),
    ] {
        let a = post_session(&server, body.clone()).await;
        assert_eq!(a.status, 201, "{body}: {}", a.body);
        let info = a.json();
        assert_eq!(info["config"]["multiplier"], json!(multiplier), "{body}: {info}");
        let code = info["code"].as_str().expect("code").to_string();
        let frame = crate::server_support::live_send(&server, &codes(&info)[0], "Play", r#"{"x": 5}"#).await;
        assert_eq!(frame["data"], json!({"product": 5 * multiplier, "label": "standard", "num_rounds": 2}), "{body}: {frame}");
        products.push(frame["data"]["product"].clone());
        // The config is recorded with the session: its admin page and both exports show it.
        let page = crate::server_support::get_admin(&server, &format!("/admin/sessions/{code}")).await;
        assert!(page.body.contains("<th>multiplier</th><td><code>") && page.body.contains(&format!("<code>{multiplier}</code>")), "{}", page.body);
        let export = crate::server_support::get_admin(&server, &format!("/api/sessions/{code}/export?format=json")).await;
        let export: serde_json::Value = serde_json::from_str(&export.body).expect("json");
        assert_eq!(export["config"]["multiplier"], json!(multiplier));
        let csv = crate::server_support::get_admin(&server, &format!("/api/sessions/{code}/export?format=csv")).await;
        let mut lines = csv.body.lines();
        let (head, row) = (lines.next().expect("a head"), lines.next().expect("a row"));
        let column = head.split(',').position(|c| c == "session.config.multiplier").expect("a config column");
        assert_eq!(row.split(',').nth(column), Some(multiplier.to_string().as_str()), "{}", csv.body);
    }
    assert_eq!(products, [json!(10), json!(15), json!(20)]);
    // A treatment or an edit the game does not have is refused, naming it.
    for (body, says) in [
        (json!({"game": "config-v0_2", "participants": 1, "config": "quadruple"}), "no session config `quadruple` (it has triple)"),
        (json!({"game": "config-v0_2", "participants": 1, "params": {"multiplier": "lots"}}), "config `multiplier` is 2"),
        (json!({"game": "config-v0_2", "participants": 1, "params": {"multipler": 3}}), "`multipler` is not a key"),
    ] {
        let a = post_session(&server, body.clone()).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert!(a.body.contains(says), "{body}: {}", a.body);
    }
    server.stop().await;
}

#[test]
fn the_documented_rust_example_is_the_one_built_and_its_bots_pass() {
    // tests/fixtures/button-doc holds docs/writing-a-game-rust.md's complete example.
    let doc = std::fs::read_to_string(root().join("docs/writing-a-game-rust.md")).expect("doc");
    let example = &doc[doc.find("## A complete example").expect("the section")..];
    for (file, lang) in [("game.toml", "toml"), ("src/lib.rs", "rust"), ("templates/Press.hbs", "handlebars")] {
        let start = example.find(&format!("```{lang}\n")).expect("a block") + lang.len() + 4;
        let block = &example[start..start + example[start..].find("```").expect("its end")];
        let built = std::fs::read_to_string(root().join("tests/fixtures/button-doc").join(file)).expect("fixture file");
        assert_eq!(built, block, "tests/fixtures/button-doc/{file} differs from the doc's block");
    }
    // Its bot asserts that "pull" is refused: a refusal is a value, the run passes.
    let g = game("tests/fixtures/button-doc");
    let report = stoa::bots::run(&g, &stoa::Store::temporary().expect("store"), 2, None, 1).expect("run");
    assert!(report.passed, "{:?}\n{}", report.failures(), stoa::bots::describe(&report));
    assert_eq!(report.groups[0].group_fields["presses"], json!(2), "one press per player");
}
