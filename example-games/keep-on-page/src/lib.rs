//! Keep on page: oTree's "keeping users on the page", written with `stoa-sdk`. It shows
//! `error_message` refusing a submit until the group is done, and a page that submits
//! itself when a live message says so.
//!
//! Nobody leaves the `Chat` page until the group has sent [`GOAL`] messages in total.
//!
//! # Payloads (what `liveSend` may send)
//!
//! - `{"type": "message"}`: counts in the group's `count` and the sender's `sent`, and
//!   broadcasts `{"type": "progress", "count": n}`; the message that reaches the goal also
//!   broadcasts `{"type": "game_finished"}`, on which the page submits its form. Once the
//!   goal is reached, more messages are refused.
//!
//! Anything else is refused with the reason. A submit of `Chat` before the goal is refused by
//! `error_message`: "The group has sent 3 of 10 messages; please stay on this page."
//!
//! # Layout
//!
//! - `lib.rs` — `live_method`, `error_message` and `vars_for_template`.
//! - `bot.rs` — `call_live_method`: sends the messages, checking the last one finishes.

mod bot;

use stoa_sdk::{Context, Game, Messages, Result, Value, bail, ensure, group, json, player, short};

/// The messages the group must send before anyone may leave the page.
const GOAL: i64 = 10;

/// The game; it holds nothing, every call starts from the fields.
struct KeepOnPage;

stoa_sdk::export_game!(KeepOnPage);

impl Game for KeepOnPage {
    fn live_method(_ctx: &Context, id_in_group: u32, payload: Value) -> Result<Messages> {
        parse(&payload)?;
        let count = count()?;
        ensure!(count < GOAL, "the group has already sent all {GOAL} messages: the page moves on by itself");
        let count = count + 1;
        group().set("count", count)?;
        player(id_in_group).update("sent", |n: Option<i64>| Some(n.unwrap_or(0) + 1))?;
        let mut out = Messages::to_group(json!({"type": "progress", "count": count}));
        if count == GOAL {
            out.push(0, json!({"type": "game_finished"}));
        }
        Ok(out)
    }

    fn error_message(ctx: &Context, _id_in_group: u32, _values: Value) -> Result<Option<String>> {
        let count = count()?;
        Ok((ctx.page == "Chat" && count < GOAL).then(|| refusal(count)))
    }

    fn vars_for_template(_ctx: &Context, id_in_group: u32) -> Result<Value> {
        let count = count()?;
        let sent = player(id_in_group).get::<Option<i64>>("sent")?.unwrap_or(0);
        Ok(json!({"count": count, "goal": GOAL, "finished": count >= GOAL, "sent": sent}))
    }

    fn call_live_method(ctx: &Context, case: Option<&str>) -> Result<()> {
        bot::play(ctx, case)
    }
}

/// Checks a payload: `{"type": "message"}` (other keys are ignored).
fn parse(payload: &Value) -> Result<()> {
    match payload.get("type").and_then(Value::as_str) {
        Some("message") => Ok(()),
        _ => bail!("expected {{\"type\": \"message\"}}, got {}", short(payload)),
    }
}

/// Why a submit before the goal is refused.
fn refusal(count: i64) -> String {
    format!("The group has sent {count} of {GOAL} messages; please stay on this page.")
}

/// Messages the group has sent (a null field counts as none).
fn count() -> Result<i64> {
    Ok(group().get::<Option<i64>>("count")?.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_messages_count() {
        assert_eq!(parse(&json!({"type": "message", "text": "hi"})), Ok(()));
        let e = parse(&json!({"type": "submit"})).expect_err("refused");
        assert_eq!(e.message(), r#"expected {"type": "message"}, got {"type":"submit"}"#);
        assert!(parse(&json!("message")).is_err());
    }

    #[test]
    fn the_refusal_says_how_far_the_group_is() {
        assert_eq!(refusal(3), "The group has sent 3 of 10 messages; please stay on this page.");
    }
}
