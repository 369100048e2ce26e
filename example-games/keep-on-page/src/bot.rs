//! The keep-on-page bot: the players take turns sending messages until the group has sent
//! [`GOAL`]; each one must broadcast the progress, and only the last one `game_finished`.
//! It plays on the `Chat` page only, and sends just what the group still owes.

use stoa_sdk::{Context, Result, bail, bot, json, player};

use crate::{GOAL, count};

/// Runs the script; an `Err` names the step that went wrong.
pub(crate) fn play(ctx: &Context, case: Option<&str>) -> Result<()> {
    if ctx.page != "Chat" {
        return Ok(());
    }
    if let Some(other) = case {
        bail!("unknown bot case {other:?} (this game has none)");
    }
    let ids: Vec<u32> = ctx.player_ids().collect();
    for (turn, n) in (count()? + 1..=GOAL).enumerate() {
        let id = ids[turn % ids.len()];
        bot::step(&format!("player {id} sends message {n}"), || {
            let out = bot::live_method(id, json!({"type": "message"}))?;
            let payloads: Vec<_> = out.iter().map(|m| &m.payload).collect();
            let mut expected = vec![json!({"type": "progress", "count": n})];
            if n == GOAL {
                expected.push(json!({"type": "game_finished"}));
            }
            bot::expect_eq(payloads, expected.iter().collect(), "payloads")?;
            bot::expect(out.iter().all(|m| m.is_broadcast()), "every message goes to the group")
        })?;
    }

    // The bot's own instance sees every committed write.
    bot::step("fields after the messages", || {
        bot::expect_eq(count()?, GOAL, "group field `count`")?;
        let sent: i64 = ids.iter().map(|&id| player(id).get::<i64>("sent")).sum::<Result<i64>>()?;
        bot::expect_eq(sent, GOAL, "the players' `sent`, added up")
    })
}
