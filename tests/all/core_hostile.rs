//! Hostile games (tests/fixtures/*, each with a README "Expectations"): every one is stopped
//! at its limit, writes nothing, and leaves other groups alone.

use std::time::{Duration, Instant};

use serde_json::json;
use stoa::CallError;

use crate::support::{game, json, session_group, store};

#[test]
fn an_infinite_loop_is_stopped_at_the_deadline_and_writes_nothing() {
    let looper = game("tests/fixtures/looper");
    let (_dir, store) = store();
    let mut group = session_group(&looper, &store, 2, 1);
    let started = Instant::now();
    let err = looper.live_call(&store, &mut group, "Play", 1, r#""loop""#).expect_err("loops");
    let took = started.elapsed();
    assert!(matches!(err, CallError::Deadline(_)), "{err:?}");
    assert!(took >= looper.limits.deadline, "stopped early: {took:?}");
    // Wall-clock bound generous enough for a busy 2-core CI machine.
    assert!(took < looper.limits.deadline * 10, "stopped late: {took:?}");
    let fields = store.group_fields(&looper.manifest, &group.key).expect("fields");
    assert_eq!(fields["touched"], json!(false), "the write before the loop was rolled back");
    let calls = store.calls(&group.key).expect("log");
    assert!(calls[0].error.as_deref().is_some_and(|e| e.contains("deadline")), "{calls:?}");
}

#[test]
fn another_group_is_served_while_one_group_loops() {
    let looper = game("tests/fixtures/looper");
    let (_dir, store) = store();
    let (session, _) = store.create_session(&looper.manifest, 4).expect("session");
    let key = |g| stoa::GroupKey { session: session.code.clone(), round: 1, group: g };
    let mut stuck = store.group(key(1), 2).expect("group");
    let mut free = store.group(key(2), 2).expect("group");
    std::thread::scope(|s| {
        let looping = s.spawn(|| looper.live_call(&store, &mut stuck, "Play", 1, r#""loop""#));
        std::thread::sleep(Duration::from_millis(20));
        let started = Instant::now();
        let c = looper.live_call(&store, &mut free, "Play", 2, r#""hello""#).expect("the other group is served");
        let took = started.elapsed();
        assert_eq!(json(&c.messages[0].payload), json!({"ok": true}));
        assert!(took < looper.limits.deadline / 2, "the other group waited {took:?}");
        assert!(!looping.is_finished(), "the loop should still be running");
        assert!(matches!(looping.join().expect("thread"), Err(CallError::Deadline(_))));
    });
}

#[test]
fn a_memory_bomb_traps_at_the_cap() {
    let bomb = game("tests/fixtures/memory-bomb");
    let (_dir, store) = store();
    let mut group = session_group(&bomb, &store, 2, 1);
    let err = bomb.live_call(&store, &mut group, "Play", 1, r#""bomb""#).expect_err("bombs");
    assert_eq!(err, CallError::Memory(bomb.limits.memory_bytes), "{err}");
    // The next call gets a fresh instance and works.
    let c = bomb.live_call(&store, &mut group, "Play", 1, r#""hi""#).expect("fresh instance");
    assert_eq!(json(&c.messages[0].payload), json!({"ok": true}));
}

#[test]
fn a_trap_after_writing_fields_rolls_them_back() {
    let game = game("tests/fixtures/trap-after-write");
    let (_dir, store) = store();
    let mut group = session_group(&game, &store, 2, 1);
    let c = game.live_call(&store, &mut group, "Play", 1, r#""ok""#).expect("ok");
    assert_eq!(json(&c.messages[0].payload), json!({"counter": 1}));
    let err = game.live_call(&store, &mut group, "Play", 1, r#""trap""#).expect_err("traps");
    match &err {
        CallError::Trap(reason) => assert!(reason.contains("boom after write"), "the panic message is reported: {reason}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    let fields = store.group_fields(&game.manifest, &group.key).expect("fields");
    assert_eq!(fields["counter"], json!(1), "the write before the trap was rolled back");
    let c = game.live_call(&store, &mut group, "Play", 2, r#""ok""#).expect("ok");
    assert_eq!(json(&c.messages[0].payload), json!({"counter": 2}));
}

#[test]
fn an_output_bomb_is_refused_and_writes_nothing() {
    let game = game("tests/fixtures/output-bomb");
    let (_dir, store) = store();
    let mut group = session_group(&game, &store, 2, 1);
    for payload in [r#""big""#, r#""many""#] {
        let err = game.live_call(&store, &mut group, "Play", 1, payload).expect_err("refused");
        assert!(matches!(err, CallError::Output(_) | CallError::Memory(_)), "{payload}: {err:?}");
    }
    // A hundred payloads pointing at one 16 MiB string: refused as output before the host
    // copies them, naming the limit (wasmtime's default fuel copied 128 MiB, then trapped).
    let err = game.live_call(&store, &mut group, "Play", 1, r#""alias""#).expect_err("refused");
    assert!(matches!(err, CallError::Output(_)), "{err:?}");
    assert!(err.to_string().contains("more than 4259840 bytes at once"), "{err}");
    // A field value past the cap but within what the host copies at once is an err the
    // game sees (bad_field_writes_are_errors_the_game_sees); one of 32 MiB is refused before
    // it is copied, failing the call.
    let err = game.live_call(&store, &mut group, "Play", 1, r#""field""#).expect_err("refused");
    assert!(matches!(err, CallError::Output(_)), "{err:?}");
    assert!(err.to_string().contains("more than 4259840 bytes at once"), "{err}");
    assert_eq!(store.messages(&group.key).expect("messages").len(), 0);
    let calls = store.calls(&group.key).expect("log");
    assert_eq!(calls.len(), 4);
    assert!(calls.iter().all(|c| c.error.is_some()));
}

#[test]
fn bad_field_writes_are_errors_the_game_sees() {
    let game = game("tests/fixtures/field-errors");
    let (_dir, store) = store();
    let mut group = session_group(&game, &store, 2, 1);
    let c = game.live_call(&store, &mut group, "Play", 1, r#""go""#).expect("the game handles the errors");
    let seen = json(&c.messages[0].payload);
    let text = |k: &str| seen[k].as_str().unwrap_or_else(|| panic!("no err text for {k}: {seen}")).to_string();
    assert!(text("undeclared").contains("no_such_field"), "{seen}");
    assert!(text("wrong_type").contains("integer"), "{seen}");
    assert_eq!(seen["int_into_float"], json!(null), "10 fits a float: {seen}");
    assert!(text("bad_player").contains("99"), "{seen}");
    assert!(!text("undeclared_read").is_empty());
}

#[test]
fn a_trap_drops_a_warm_instance() {
    // The looper's component under a manifest that keeps warm instances.
    let dir = crate::support::looper_copy(|m| m.replace("component =", "warm_instances = true\ncomponent ="));
    let looper = stoa::Game::load(crate::support::runtime(), dir.path()).expect("load");
    let (_d, store) = store();
    let mut group = session_group(&looper, &store, 2, 1);
    let mut slot = None;
    looper.live_call_in(&mut slot, &store, &mut group, "Play", 1, r#""hi""#).expect("ok");
    assert!(slot.is_some(), "kept warm");
    let err = looper.live_call_in(&mut slot, &store, &mut group, "Play", 1, r#""loop""#).expect_err("loops");
    assert!(matches!(err, CallError::Deadline(_)));
    assert!(slot.is_none(), "a trapped instance is never entered again");
    looper.live_call_in(&mut slot, &store, &mut group, "Play", 1, r#""hi""#).expect("a fresh instance serves the next call");
}

#[test]
fn a_game_hoarding_wasi_resources_is_stopped_at_the_limit_and_writes_nothing() {
    let game = game("tests/fixtures/sleeper");
    let (_dir, store) = store();
    let mut group = session_group(&game, &store, 1, 1);
    let err = game.live_call(&store, &mut group, "Play", 1, r#""hoard""#).expect_err("stopped");
    assert!(err.to_string().contains("more than 10000 WASI resources"), "{err}");
    let fields = store.group_fields(&game.manifest, &group.key).expect("fields");
    assert_eq!(fields["touched"], json!(false), "the stopped call's write was kept");
    // The next call gets a fresh instance and answers.
    let c = game.live_call(&store, &mut group, "Play", 1, r#""hi""#).expect("ok");
    assert_eq!(json(&c.messages[0].payload), json!({"ok": true}));
}
