//! The Rust auction, built from source, driven through `Game::live_call` on a real sled store.

use serde_json::json;
use stoa::game::Seat;
use stoa::{CallError, GroupKey, Store};

use crate::support::{game, json, session_group, store};

#[test]
fn a_higher_bid_is_broadcast_to_the_whole_group() {
    let auction = game("example-games/auction");
    let (_dir, store) = store();
    let mut group = session_group(&auction, &store, 3, 1);
    let c = auction.live_call(&store, &mut group, "Bid", 1, r#"{"bid": 10}"#).expect("bid");
    assert_eq!(c.messages.len(), 1);
    assert_eq!(c.messages[0].to, 0, "a new max goes to everyone");
    assert_eq!(c.messages[0].seq, 1);
    assert_eq!(json(&c.messages[0].payload), json!({"type": "new_max", "max_bid": 10, "bidder": 1}));
}

#[test]
fn a_lower_bid_is_answered_to_the_sender_only() {
    let auction = game("example-games/auction");
    let (_dir, store) = store();
    let mut group = session_group(&auction, &store, 3, 1);
    auction.live_call(&store, &mut group, "Bid", 1, r#"{"bid": 10}"#).expect("bid");
    // A bare number is a bid too, as in oTree's auction.
    let c = auction.live_call(&store, &mut group, "Bid", 2, "5").expect("low bid");
    assert_eq!(c.messages.len(), 1);
    assert_eq!(c.messages[0].to, 2);
    assert_eq!(c.messages[0].seq, 2);
    assert_eq!(json(&c.messages[0].payload), json!({"type": "rejected", "max_bid": 10, "bid": 5}));
}

#[test]
fn seq_in_a_payload_is_echoed_in_the_replies() {
    let auction = game("example-games/auction");
    let (_dir, store) = store();
    let mut group = session_group(&auction, &store, 3, 1);
    let c = auction.live_call(&store, &mut group, "Bid", 3, r#"{"bid": 7, "seq": 41}"#).expect("bid");
    assert_eq!(json(&c.messages[0].payload)["seq"], json!(41));
}

#[test]
fn connect_replies_with_the_state() {
    let auction = game("example-games/auction");
    let (_dir, store) = store();
    let mut group = session_group(&auction, &store, 3, 1);
    auction.live_call(&store, &mut group, "Bid", 1, r#"{"bid": 10}"#).expect("bid");
    auction.live_call(&store, &mut group, "Bid", 2, r#"{"bid": 12}"#).expect("bid");
    let c = auction.live_call(&store, &mut group, "Bid", 3, r#"{"type": "connect"}"#).expect("connect");
    assert_eq!(c.messages.len(), 1);
    assert_eq!(c.messages[0].to, 3);
    let state = json(&c.messages[0].payload);
    assert_eq!(state["type"], "state");
    assert_eq!(state["max_bid"], 12);
    assert_eq!(state["highest_bidder"], 2);
}

#[test]
fn fields_log_and_seq_survive_a_reopen_of_the_database() {
    let auction = game("example-games/auction");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data");
    let key;
    {
        let store = Store::open(&path).expect("open");
        let mut group = session_group(&auction, &store, 6, 2);
        key = group.key.clone();
        auction.live_call(&store, &mut group, "Bid", 1, r#"{"bid": 10}"#).expect("bid");
        auction.live_call(&store, &mut group, "Bid", 2, r#"{"bid": 3}"#).expect("bid");
        store.wait_durable().expect("durable");
    }
    let store = Store::open(&path).expect("reopen");
    let fields = store.group_fields(&auction.manifest, &key).expect("fields");
    assert_eq!(fields["max_bid"], json!(10));
    assert_eq!(fields["highest_bidder"], json!(1));
    assert_eq!(store.player_fields(&auction.manifest, &key, 2).expect("player")["bids"], json!(1));
    // Player 1 sees the broadcast only; player 2 the broadcast and its rejection.
    let seqs = |id| store.messages_after(&key, id, None, 0).expect("replay").iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(seqs(1), vec![1]);
    assert_eq!(seqs(2), vec![1, 2]);
    assert_eq!(store.messages_after(&key, 2, None, 1).expect("replay").len(), 1);
    // Seqs go on from where they were.
    let mut group = store.group(key.clone(), 3).expect("group");
    let c = auction.live_call(&store, &mut group, "Bid", 3, r#"{"bid": 20}"#).expect("bid");
    assert_eq!(c.messages[0].seq, 3);
    // The other group of the session was never touched.
    let other = GroupKey { group: 1, ..key };
    assert_eq!(store.group_fields(&auction.manifest, &other).expect("fields")["max_bid"], json!(0));
}

#[test]
fn a_refused_bid_writes_nothing_but_its_error_entry() {
    let auction = game("example-games/auction");
    let (_dir, store) = store();
    let mut group = session_group(&auction, &store, 3, 1);
    let err = auction.live_call(&store, &mut group, "Bid", 1, r#"{"bid": "lots"}"#).expect_err("not a number");
    assert!(matches!(err, CallError::Refused(_)), "{err:?}");
    let fields = store.player_fields(&auction.manifest, &group.key, 1).expect("fields");
    assert_eq!(fields["bids"], json!(0));
    let calls = store.calls(&group.key).expect("log");
    assert_eq!(calls.len(), 1);
    assert!(calls[0].error.is_some());
    assert_eq!(store.messages(&group.key).expect("messages").len(), 0);
}

#[test]
fn input_that_is_not_json_or_from_outside_the_group_is_refused() {
    let auction = game("example-games/auction");
    let (_dir, store) = store();
    let mut group = session_group(&auction, &store, 3, 1);
    assert!(matches!(auction.live_call(&store, &mut group, "Bid", 1, "{bid"), Err(CallError::BadInput(_))));
    assert!(matches!(auction.live_call(&store, &mut group, "Bid", 4, "1"), Err(CallError::BadInput(_))));
    assert!(matches!(auction.live_call(&store, &mut group, "Bid", 0, "1"), Err(CallError::BadInput(_))));
}

#[test]
fn vars_for_template_and_pages_render_with_fields() {
    let auction = game("example-games/auction");
    let (_dir, store) = store();
    let mut group = session_group(&auction, &store, 3, 1);
    auction.live_call(&store, &mut group, "Bid", 2, r#"{"bid": 15}"#).expect("bid");
    let vars = auction.vars_for_template(&mut None, &store, Seat { group: &group.key, players: 3, page: "Results", id_in_group: 2 }).expect("vars");
    assert_eq!(vars["max_bid"], json!(15));
    assert_eq!(vars["is_winner"], json!(true));
    let html = stoa::game::render::render(&mut None, &auction, &store, Seat { group: &group.key, players: 3, page: "Bid", id_in_group: 1 }, "abc")
        .expect("render");
    assert!(html.contains("15"), "the page shows the max bid: {html}");
}
