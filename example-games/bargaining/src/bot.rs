//! The bargaining bot: player 1 offers 50, player 2 counters with 70, player 1 accepts. Each
//! step checks that the offer reached its addressee alone and the deal reached everyone. It
//! plays on the `Bargain` page only, and leaves a group whose deal is already done alone.

use stoa_sdk::{Context, Result, bail, bot, ensure, group, json, player};

use crate::deal_price;

/// Runs the script; an `Err` names the step that went wrong.
pub(crate) fn play(ctx: &Context, case: Option<&str>) -> Result<()> {
    if ctx.page != "Bargain" {
        return Ok(());
    }
    if let Some(other) = case {
        bail!("unknown bot case {other:?} (this game has none)");
    }
    ensure!(ctx.players >= 2, "the bargaining bot needs 2 players, the group has {}", ctx.players);
    if deal_price()?.is_some() {
        return Ok(());
    }

    // In a group of two "to" may be left out; in a larger one it must be given.
    let first = if ctx.players == 2 { json!({"type": "offer", "amount": 50}) } else { json!({"type": "offer", "amount": 50, "to": 2}) };
    bot::step("player 1 offers 50", || {
        let m = bot::one_to(1, first, 2)?;
        bot::expect_eq(&m.payload, &json!({"type": "offer", "from": 1, "amount": 50}), "offer")
    })?;

    bot::step("player 2 counter-offers 70 to player 1", || {
        let m = bot::one_to(2, json!({"type": "offer", "amount": 70, "to": 1}), 1)?;
        bot::expect_eq(&m.payload, &json!({"type": "offer", "from": 2, "amount": 70}), "offer")
    })?;

    bot::step("player 1 accepts", || {
        let m = bot::one_to(1, json!({"type": "accept"}), 0)?;
        bot::expect_eq(&m.payload, &json!({"type": "deal", "price": 70}), "deal")
    })?;

    // The bot's own instance sees every committed write.
    bot::step("fields after the deal", || {
        bot::expect_eq(group().get::<bool>("done")?, true, "done")?;
        bot::expect_eq(group().get::<i64>("deal_price")?, 70, "deal_price")?;
        bot::expect_eq(player(1).get::<bool>("accepted")?, true, "player 1 accepted")?;
        bot::expect_eq(player(2).get::<bool>("accepted")?, false, "player 2 accepted")?;
        bot::expect_eq(player(1).get::<i64>("offer")?, 50, "player 1's offer")?;
        bot::expect_eq(player(2).get::<i64>("offer")?, 70, "player 2's offer")
    })
}
