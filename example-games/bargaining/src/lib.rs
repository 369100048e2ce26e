//! Bargaining: oTree's live bargaining, written with `stoa-sdk`. It shows messages addressed
//! to one player of the group rather than broadcast.
//!
//! Two players haggle over a price. An offer goes to one player only: the other one in a
//! group of two, or the player named by `"to"` (needed in a larger group). The receiver of
//! the group's latest offer may accept it, which closes the deal for everyone.
//!
//! # Payloads (what `liveSend` may send)
//!
//! - `{"type": "offer", "amount": N}` or `{"type": "offer", "amount": N, "to": J}` (N a
//!   non-negative integer, J another player of the group): records N as the sender's `offer`
//!   and as the group's `latest_offer`, and sends `{"type": "offer", "from": I, "amount": N}`
//!   to player J alone.
//! - `{"type": "accept"}`: the receiver of the latest offer accepts it: `deal_price` and
//!   `done` are set, the sender's `accepted` too, and everyone gets
//!   `{"type": "deal", "price": N}`.
//!
//! Anything else is refused with the reason, and so is everything once the deal is done.
//!
//! # Layout
//!
//! - `lib.rs` — payload parsing, `live_method` and `vars_for_template`.
//! - `bot.rs` — `call_live_method`: an offer, a counter-offer and an accept, checking routes.

mod bot;

use serde::{Deserialize, Serialize};
use stoa_sdk::{Context, Game, Messages, Result, Value, bail, ensure, group, json, player, short};

/// The game; it holds nothing, every call starts from the fields.
struct Bargaining;

stoa_sdk::export_game!(Bargaining);

/// The group's latest offer, kept in the group field `latest_offer`: only `to` may accept it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Offer {
    from: u32,
    to: u32,
    amount: i64,
}

/// What a payload asks for.
#[derive(Debug, PartialEq)]
enum Request {
    /// An offer of `amount`, to player `to` if the payload names one.
    Offer {
        amount: i64,
        to: Option<u32>,
    },
    Accept,
}

impl Game for Bargaining {
    fn live_method(ctx: &Context, id_in_group: u32, payload: Value) -> Result<Messages> {
        let request = parse(&payload)?;
        if let Some(price) = deal_price()? {
            bail!("the deal is already done, at a price of {price}");
        }
        match request {
            Request::Offer { amount, to } => {
                let to = recipient(ctx.players, id_in_group, to)?;
                player(id_in_group).set("offer", amount)?;
                group().set("latest_offer", Offer { from: id_in_group, to, amount })?;
                let offer = json!({"type": "offer", "from": id_in_group, "amount": amount});
                Ok(Messages::reply(to, offer))
            }
            Request::Accept => {
                let Some(offer) = latest_offer()? else {
                    bail!("there is no offer to accept yet");
                };
                ensure!(
                    offer.to == id_in_group,
                    "the latest offer (player {}'s offer of {}) is for player {}: only they can accept it",
                    offer.from,
                    offer.amount,
                    offer.to
                );
                player(id_in_group).set("accepted", true)?;
                group().set("deal_price", offer.amount)?;
                group().set("done", true)?;
                Ok(Messages::to_group(json!({"type": "deal", "price": offer.amount})))
            }
        }
    }

    fn vars_for_template(ctx: &Context, id_in_group: u32) -> Result<Value> {
        let me = player(id_in_group);
        let my_offer: Option<i64> = me.get("offer")?;
        let for_me = latest_offer()?.filter(|o| o.to == id_in_group);
        let deal_price = deal_price()?;
        let others: Vec<u32> = ctx.player_ids().filter(|&id| id != id_in_group).collect();
        // `{{#if}}` treats 0 as false: every number that may be 0 comes with a `has_` flag.
        Ok(json!({
            "others": others,
            "has_my_offer": my_offer.is_some(),
            "my_offer": my_offer,
            "has_offer_for_me": for_me.is_some(),
            "offer_for_me": for_me.as_ref().map(|o| o.amount),
            "offer_for_me_from": for_me.as_ref().map(|o| o.from),
            "done": deal_price.is_some(),
            "deal_price": deal_price,
            "accepted": me.get::<Option<bool>>("accepted")?.unwrap_or(false),
        }))
    }

    fn call_live_method(ctx: &Context, case: Option<&str>) -> Result<()> {
        bot::play(ctx, case)
    }
}

/// Reads a payload: an offer or an accept.
fn parse(payload: &Value) -> Result<Request> {
    let kind = payload.get("type").and_then(Value::as_str);
    match kind {
        Some("offer") => {
            let amount = match payload.get("amount").map(|a| (a, a.as_i64())) {
                Some((_, Some(n))) if n >= 0 => n,
                Some((a, _)) => bail!("an offer's amount must be a non-negative integer, got {a}"),
                None => bail!("an offer needs an \"amount\""),
            };
            let to = match payload.get("to") {
                None => None,
                Some(to) => match to.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(n) => Some(n),
                    None => bail!("\"to\" must be a player's id in the group, got {to}"),
                },
            };
            Ok(Request::Offer { amount, to })
        }
        Some("accept") => Ok(Request::Accept),
        _ => bail!("expected {{\"type\": \"offer\", \"amount\": N}} or {{\"type\": \"accept\"}}, got {}", short(payload)),
    }
}

/// Who an offer from `from` goes to: `to` if given (another player of the group), else the
/// other player of a group of two.
fn recipient(players: u32, from: u32, to: Option<u32>) -> Result<u32> {
    match to {
        Some(to) => {
            ensure!((1..=players).contains(&to), "there is no player {to} in this group (ids are 1 to {players})");
            ensure!(to != from, "an offer must go to another player, not to yourself");
            Ok(to)
        }
        None if players == 2 => Ok(3 - from),
        None => {
            bail!("in a group of {players}, an offer needs \"to\": the id of the player it is for")
        }
    }
}

/// The agreed price, once the deal is done.
fn deal_price() -> Result<Option<i64>> {
    if group().get::<Option<bool>>("done")?.unwrap_or(false) { group().get("deal_price") } else { Ok(None) }
}

/// The group's latest offer, if any.
fn latest_offer() -> Result<Option<Offer>> {
    group().get("latest_offer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_and_accepts_are_read() {
        assert_eq!(parse(&json!({"type": "offer", "amount": 50})), Ok(Request::Offer { amount: 50, to: None }));
        assert_eq!(parse(&json!({"type": "offer", "amount": 0, "to": 3})), Ok(Request::Offer { amount: 0, to: Some(3) }));
        assert_eq!(parse(&json!({"type": "accept"})), Ok(Request::Accept));
    }

    #[test]
    fn bad_payloads_are_refused_with_the_reason() {
        let reason = |p: Value| parse(&p).expect_err("refused").to_string();
        assert_eq!(reason(json!({"type": "offer", "amount": -1})), "an offer's amount must be a non-negative integer, got -1");
        assert_eq!(reason(json!({"type": "offer", "amount": "5"})), "an offer's amount must be a non-negative integer, got \"5\"");
        assert_eq!(reason(json!({"type": "offer"})), "an offer needs an \"amount\"");
        assert_eq!(reason(json!({"type": "offer", "amount": 5, "to": "2"})), "\"to\" must be a player's id in the group, got \"2\"");
        assert!(reason(json!(50)).starts_with("expected {\"type\": \"offer\""));
        assert!(reason(json!({"type": "haggle"})).starts_with("expected"));
    }

    #[test]
    fn an_offer_goes_to_the_other_player_or_to_the_one_named() {
        assert_eq!(recipient(2, 1, None), Ok(2));
        assert_eq!(recipient(2, 2, None), Ok(1));
        assert_eq!(recipient(4, 1, Some(3)), Ok(3));
    }

    #[test]
    fn an_offer_to_nobody_in_the_group_is_refused() {
        let reason = |r: Result<u32>| r.expect_err("refused").to_string();
        assert_eq!(reason(recipient(3, 1, Some(4))), "there is no player 4 in this group (ids are 1 to 3)");
        assert_eq!(reason(recipient(3, 1, Some(0))), "there is no player 0 in this group (ids are 1 to 3)");
        assert_eq!(reason(recipient(2, 1, Some(1))), "an offer must go to another player, not to yourself");
        assert!(reason(recipient(3, 1, None)).starts_with("in a group of 3, an offer needs \"to\""));
    }
}
