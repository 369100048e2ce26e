//! @NAME@: a counter the group shares. Each press on the live page adds one; everyone in
//! the group sees the new count, and the presser alone also hears how often they pressed.
//!
//! Payload: `"press"` (the page's button sends it). Anything else is refused with the
//! reason, which the sender alone gets as `{"error": ...}`. The SDK's whole API is in
//! `docs/writing-a-game-rust.md` of the Stoa checkout.

use stoa_sdk::bot::Submission;
use stoa_sdk::{Context, Game, Messages, Result, Value, bot, ensure, group, json, player};

struct Counter;

stoa_sdk::export_game!(Counter);

impl Game for Counter {
    /// A player's `liveSend(payload)`. The writes commit only if this returns `Ok`.
    fn live_method(_ctx: &Context, id_in_group: u32, payload: Value) -> Result<Messages> {
        ensure!(payload == "press", "send \"press\", not {payload}");
        let count = group().update("count", |n: i64| n + 1)?;
        let presses = player(id_in_group).update("presses", |n: i64| n + 1)?;
        Ok(Messages::new()
            .broadcast(json!({"count": count, "by": id_in_group})) // to everyone
            .to(id_in_group, json!({"presses": presses}))) // to the presser alone
    }

    /// The Results page's `{{count}}`.
    fn vars_for_template(_ctx: &Context, _id_in_group: u32) -> Result<Value> {
        Ok(json!({"count": group().get::<i64>("count")?}))
    }

    /// The Counter page's form: everyone presses at least once before going on.
    fn error_message(ctx: &Context, id_in_group: u32, _values: Value) -> Result<Option<String>> {
        let presses: i64 = player(id_in_group).get("presses")?;
        Ok((ctx.page == "Counter" && presses == 0).then(|| "Press at least once before you go on.".to_string()))
    }

    /// The bot (`stoa bots`): every player presses once, and each press is checked.
    fn call_live_method(ctx: &Context, _case: Option<&str>) -> Result<()> {
        if ctx.page != "Counter" {
            return Ok(());
        }
        let mut count: i64 = group().get("count")?;
        for id in ctx.player_ids() {
            let presses: i64 = player(id).get("presses")?;
            let out = bot::live_method(id, "press")?;
            count += 1;
            bot::expect_eq(out.len(), 2, "messages per press")?;
            bot::expect(out[0].is_broadcast(), "the count goes to everyone")?;
            bot::expect_eq(&out[0].payload, &json!({"count": count, "by": id}), "the broadcast")?;
            bot::expect_eq(out[1].to, id, "the reply's recipient")?;
            bot::expect_eq(&out[1].payload, &json!({"presses": presses + 1}), "the reply")?;
        }
        // A refused call is a value the bot may check.
        bot::expect(bot::live_method(1, "pull").is_err(), "anything but \"press\" is refused")
    }

    /// The bots' form submissions: on Guess, one over the maximum (it must be refused), then
    /// the right count.
    fn bot_submissions(ctx: &Context, _id_in_group: u32, _case: Option<&str>) -> Result<Vec<Submission>> {
        if ctx.page != "Guess" {
            return Ok(vec![Submission::new(json!({}))]);
        }
        let count: i64 = group().get("count")?;
        Ok(vec![Submission::must_fail(json!({"guess": 1001})), Submission::new(json!({"guess": count}))])
    }

    /// The wait page, once the whole group is there: one point per press, 5 more for a
    /// right guess (the built-in `payoff` field; the admin's payments page sums it).
    fn after_all_players_arrive(ctx: &Context) -> Result<()> {
        let count: i64 = group().get("count")?;
        for id in ctx.player_ids() {
            let presses: i64 = player(id).get("presses")?;
            let guess: Option<i64> = player(id).get("guess")?;
            let bonus = if guess == Some(count) { 5.0 } else { 0.0 };
            player(id).set_payoff(presses as f64 + bonus)?;
        }
        Ok(())
    }
}
