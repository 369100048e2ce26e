//! Headless bots: `stoa bots` on the example games, and the bot runner's reports.

use std::process::Command;

use stoa::{Store, bots};

use crate::support::{game, json, root};

#[test]
fn auction_bots_pass_for_every_case_and_report_routes_and_fields() {
    let auction = game("example-games/auction");
    for case in ["a", "b"] {
        let store = Store::temporary().expect("store");
        let report = bots::run(&auction, &store, 6, Some(case), 2).expect("run");
        assert!(report.passed, "case {case}: {:?}", report.failures());
        assert_eq!(report.groups.len(), 2);
        for g in &report.groups {
            assert!(g.calls.len() >= 4, "the bot plays a short auction: {g:?}");
            assert_eq!(g.group_fields["max_bid"], serde_json::json!(20));
        }
    }
}

#[test]
fn stoa_bots_command_prints_one_json_document_and_exits_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_stoa"))
        .args(["bots", "example-games/auction", "--participants", "6", "--json"])
        .current_dir(root())
        .env("STOA_CACHE_DIR", root().join("target/stoa-cache"))
        .output()
        .expect("run stoa");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let doc = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(doc["passed"], serde_json::json!(true));
    assert_eq!(doc["runs"].as_array().map(Vec::len), Some(2), "one run per bot case");
}

#[test]
fn stoa_bots_fails_naming_group_player_payload_and_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_stoa"))
        .args(["bots", "tests/fixtures/looper", "--participants", "2", "--case", "nested"])
        .current_dir(root())
        .env("STOA_CACHE_DIR", root().join("target/stoa-cache"))
        .output()
        .expect("run stoa");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("group 1"), "{stderr}");
    assert!(stderr.contains("player 1"), "{stderr}");
    assert!(stderr.contains("\"loop\""), "the payload is named: {stderr}");
    assert!(stderr.contains("deadline"), "{stderr}");
}

#[test]
fn a_bot_that_never_returns_is_stopped_at_the_bot_deadline() {
    let looper = game("tests/fixtures/looper");
    let store = Store::temporary().expect("store");
    let key = stoa::GroupKey { session: store.create_session(&looper.manifest, 2).expect("session").0.code, round: 1, group: 1 };
    let mut group = store.group(key, 2).expect("group");
    let started = std::time::Instant::now();
    let (calls, verdict) = looper.bot_run(&store, &mut group, "Play", Some("spin"));
    assert!(calls.is_empty());
    assert!(matches!(verdict, Err(stoa::CallError::Deadline(d)) if d == looper.limits.bot_deadline), "{verdict:?}");
    // The deadline is CPU time; on a busy machine the wall clock may run up to WALL_FACTOR
    // times as long (the host's promise), not more.
    assert!(started.elapsed() < looper.limits.bot_deadline * stoa::engine::WALL_FACTOR, "took {:?}", started.elapsed());
}

#[test]
fn stoa_check_refuses_a_bad_manifest_naming_file_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("game.toml"), "name = \"x\"\nplayers_per_group = 0\ncomponent = \"a.wasm\"\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_stoa")).arg("check").arg(dir.path()).output().expect("run stoa");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("game.toml") && stderr.contains("players_per_group"), "{stderr}");
}
