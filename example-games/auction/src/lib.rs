//! The auction: Stoa's example game, written with `stoa-sdk`.
//!
//! Three players bid on a live page. A bid above the current maximum becomes the maximum
//! and is broadcast to the group; any other bid is answered to its bidder alone. A player
//! that (re)connects asks for the state and gets the maximum and who holds it.
//!
//! The game keeps no list of past bids: every `new_max` broadcast is in the group's live log,
//! and the page's script gets the log replayed when it opens (`after=0`), so its list of
//! accepted bids is rebuilt from the log. A field holding the same list would be rewritten,
//! whole, on every new maximum, so a bid would cost more the longer the auction ran.
//!
//! # Payloads (what `liveSend` may send)
//!
//! - `{"bid": N}` or a bare `N` (a non-negative integer): a bid. Above `max_bid`, it sets
//!   `max_bid` and `highest_bidder` and broadcasts
//!   `{"type": "new_max", "max_bid": N, "bidder": id}`; otherwise the sender alone gets
//!   `{"type": "rejected", "max_bid": M, "bid": N}`. Either way it counts in the player's `bids`.
//! - `{"type": "connect"}`: the sender alone gets
//!   `{"type": "state", "max_bid": M, "highest_bidder": id}` (0: no bid yet).
//! - Any `"seq"` key of an object payload is echoed in every reply it causes, so load tools
//!   can match replies to sends. Anything else is refused with the reason.
//!
//! # Layout
//!
//! - `lib.rs` — payload parsing, `live_method` and `vars_for_template`.
//! - `bot.rs` — `call_live_method`: a scripted auction that checks what each call routes.

mod bot;

use stoa_sdk::{Context, Game, Messages, Result, Value, bail, group, json, player, short};

/// The game; it holds nothing, every call starts from the fields.
struct Auction;

stoa_sdk::export_game!(Auction);

/// What a payload asks for.
#[derive(Debug, PartialEq)]
enum Request {
    Connect,
    Bid(i64),
}

impl Game for Auction {
    fn live_method(_ctx: &Context, id_in_group: u32, payload: Value) -> Result<Messages> {
        let request = parse(&payload)?;
        let seq = payload.get("seq");
        match request {
            Request::Connect => {
                let state = json!({
                    "type": "state",
                    "max_bid": max_bid()?,
                    "highest_bidder": highest_bidder()?,
                });
                Ok(Messages::reply(id_in_group, with_seq(state, seq)))
            }
            Request::Bid(bid) => {
                let max_bid = max_bid()?;
                player(id_in_group).update("bids", |n: Option<i64>| Some(n.unwrap_or(0) + 1))?;
                if bid > max_bid {
                    group().set("max_bid", bid)?;
                    group().set("highest_bidder", id_in_group)?;
                    let news = json!({"type": "new_max", "max_bid": bid, "bidder": id_in_group});
                    Ok(Messages::to_group(with_seq(news, seq)))
                } else {
                    let no = json!({"type": "rejected", "max_bid": max_bid, "bid": bid});
                    Ok(Messages::reply(id_in_group, with_seq(no, seq)))
                }
            }
        }
    }

    fn vars_for_template(_ctx: &Context, id_in_group: u32) -> Result<Value> {
        let max_bid = max_bid()?;
        let highest_bidder = highest_bidder()?;
        Ok(json!({
            "max_bid": max_bid,
            "highest_bidder": highest_bidder,
            "is_winner": max_bid > 0 && highest_bidder == id_in_group,
        }))
    }

    fn call_live_method(ctx: &Context, case: Option<&str>) -> Result<()> {
        bot::play(ctx, case)
    }
}

/// Reads a payload: a bid (object or bare number) or a connect.
fn parse(payload: &Value) -> Result<Request> {
    match payload {
        Value::Number(_) => Ok(Request::Bid(amount(payload)?)),
        Value::Object(fields) => match (fields.get("type").and_then(Value::as_str), fields.get("bid")) {
            (Some("connect"), _) => Ok(Request::Connect),
            (None | Some("bid"), Some(bid)) => Ok(Request::Bid(amount(bid)?)),
            (None | Some("bid"), None) => {
                bail!("a bid needs a \"bid\" key, got {}", short(payload))
            }
            (Some(other), _) => {
                bail!("unknown message type {other:?} (expected \"connect\" or a bid)")
            }
        },
        _ => bail!("expected {{\"bid\": N}}, a bare number N or {{\"type\": \"connect\"}}, got {}", short(payload)),
    }
}

/// A bid's amount: a JSON integer, at least 0.
fn amount(bid: &Value) -> Result<i64> {
    match bid.as_i64() {
        Some(n) if n >= 0 => Ok(n),
        _ => bail!("bid must be a non-negative integer, got {}", short(bid)),
    }
}

/// Adds the sender's `"seq"`, if it sent one, to a reply.
fn with_seq(mut reply: Value, seq: Option<&Value>) -> Value {
    if let (Some(seq), Some(fields)) = (seq, reply.as_object_mut()) {
        fields.insert("seq".into(), seq.clone());
    }
    reply
}

/// The current maximum bid (a null field counts as 0).
fn max_bid() -> Result<i64> {
    Ok(group().get::<Option<i64>>("max_bid")?.unwrap_or(0))
}

/// The player holding the maximum, 0 before any bid (a null field counts as 0).
fn highest_bidder() -> Result<u32> {
    Ok(group().get::<Option<u32>>("highest_bidder")?.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bids_come_as_objects_or_bare_numbers() {
        assert_eq!(parse(&json!({"bid": 10})), Ok(Request::Bid(10)));
        assert_eq!(parse(&json!({"type": "bid", "bid": 0, "seq": 3})), Ok(Request::Bid(0)));
        assert_eq!(parse(&json!(7)), Ok(Request::Bid(7)));
        assert_eq!(parse(&json!({"type": "connect", "seq": "x"})), Ok(Request::Connect));
    }

    #[test]
    fn bad_payloads_are_refused_with_the_reason() {
        let reason = |p: Value| parse(&p).expect_err("refused").to_string();
        assert_eq!(reason(json!(-1)), "bid must be a non-negative integer, got -1");
        assert_eq!(reason(json!({"bid": 2.5})), "bid must be a non-negative integer, got 2.5");
        assert_eq!(reason(json!({"bid": "10"})), "bid must be a non-negative integer, got \"10\"");
        assert!(reason(json!({"type": "sell"})).starts_with("unknown message type \"sell\""));
        assert!(reason(json!({})).starts_with("a bid needs a \"bid\" key"));
        assert!(reason(json!("hello")).starts_with("expected {\"bid\": N}"));
    }

    #[test]
    fn seq_is_echoed_only_when_sent() {
        assert_eq!(with_seq(json!({"a": 1}), Some(&json!(5))), json!({"a": 1, "seq": 5}));
        assert_eq!(with_seq(json!({"a": 1}), None), json!({"a": 1}));
    }

    #[test]
    fn long_values_are_cut_in_errors() {
        assert_eq!(short(&json!("x".repeat(200))).len(), 83);
    }
}
