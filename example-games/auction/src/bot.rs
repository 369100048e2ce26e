//! The auction's bot: a short scripted auction through the bot driver, checking what each
//! call routes and to whom. It plays on the `Bid` page only, and starts from whatever the
//! group holds (a fresh group has `max_bid` 0), so bids are relative to the current maximum.
//!
//! Case "a" (and no case) bids with `{"bid": N}`; case "b" bids with bare numbers and also
//! checks that a negative bid is refused.

use stoa_sdk::{Context, Message, Result, Value, bail, bot, ensure, group, json, player};

use crate::{highest_bidder, max_bid};

/// Runs the script for `case`; an `Err` names the step that went wrong.
pub(crate) fn play(ctx: &Context, case: Option<&str>) -> Result<()> {
    if ctx.page != "Bid" {
        return Ok(());
    }
    let bare = match case {
        None | Some("a") => false,
        Some("b") => true,
        Some(other) => bail!("unknown bot case {other:?} (this game has \"a\" and \"b\")"),
    };
    ensure!(ctx.players >= 3, "the auction bot needs 3 players, the group has {}", ctx.players);

    let base = max_bid()?;
    let leader = highest_bidder()?;
    let bid = |n: i64| if bare { json!(n) } else { json!({"bid": n}) };

    bot::step("player 1 connects", || {
        let m = &bot::one_to(1, json!({"type": "connect"}), 1)?;
        expect_field(m, "type", json!("state"))?;
        expect_field(m, "max_bid", json!(base))?;
        expect_field(m, "highest_bidder", json!(leader))
    })?;

    bot::step("player 1 bids base+10", || {
        let m = &bot::one_to(1, bid(base + 10), 0)?;
        expect_field(m, "type", json!("new_max"))?;
        expect_field(m, "max_bid", json!(base + 10))?;
        expect_field(m, "bidder", json!(1))
    })?;

    bot::step("player 2 bids base+5", || {
        let m = &bot::one_to(2, bid(base + 5), 2)?;
        expect_field(m, "type", json!("rejected"))?;
        expect_field(m, "max_bid", json!(base + 10))?;
        expect_field(m, "bid", json!(base + 5))
    })?;

    // A seq must come back in the reply; case "b" uses a number, case "a" a string.
    let seq = if bare { json!(4) } else { json!("bot-4") };
    bot::step("player 3 bids base+20 with a seq", || {
        let m = &bot::one_to(3, json!({"bid": base + 20, "seq": seq}), 0)?;
        expect_field(m, "type", json!("new_max"))?;
        expect_field(m, "max_bid", json!(base + 20))?;
        expect_field(m, "bidder", json!(3))?;
        expect_field(m, "seq", seq.clone())
    })?;

    bot::step("player 1 reconnects", || {
        let m = &bot::one_to(1, json!({"type": "connect"}), 1)?;
        expect_field(m, "type", json!("state"))?;
        expect_field(m, "max_bid", json!(base + 20))?;
        expect_field(m, "highest_bidder", json!(3))
    })?;

    // The bot's own instance sees every committed write.
    bot::step("fields after the auction", || {
        bot::expect_eq(group().get::<u32>("highest_bidder")?, 3, "highest_bidder")?;
        bot::expect(player(2).get::<i64>("bids")? >= 1, "player 2's bids were not counted")
    })
}

/// Checks one key of a message's payload.
fn expect_field(m: &Message, key: &str, expected: Value) -> Result<()> {
    bot::expect_eq(&m.payload[key], &expected, format_args!("`{key}` of {}", m.payload))
}
