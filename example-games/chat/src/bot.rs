//! The chat bot: every player says a line (each broadcast to the group), then player 1
//! connects and finds the lines at the end of the history it gets, alone. It plays on the
//! `Chat` page only, and starts from whatever history the group already holds.

use stoa_sdk::{Context, Result, bail, bot, json, player, serde_json};

use crate::{KEEP, Line, history};

/// Runs the script; an `Err` names the step that went wrong.
pub(crate) fn play(ctx: &Context, case: Option<&str>) -> Result<()> {
    if ctx.page != "Chat" {
        return Ok(());
    }
    if let Some(other) = case {
        bail!("unknown bot case {other:?} (this game has none)");
    }
    let past = history()?.len();
    let said: Vec<Line> = ctx.player_ids().map(|id| Line { from: id, text: format!("hello from player {id} <3") }).collect();

    for line in &said {
        bot::step(&format!("player {} says a line", line.from), || {
            let out = bot::live_method(line.from, json!({"type": "chat", "text": line.text}))?;
            let m = bot::single(&out)?;
            bot::expect(m.is_broadcast(), format_args!("a line went to player {} alone", m.to))?;
            bot::expect_eq(&m.payload, &json!({"type": "chat", "from": line.from, "text": line.text}), "broadcast")
        })?;
    }

    bot::step("player 1 connects", || {
        let out = bot::live_method(1, json!({"type": "connect"}))?;
        let m = bot::single(&out)?;
        bot::expect_eq(m.to, 1, "recipient")?;
        bot::expect_eq(&m.payload["type"], &json!("history"), "type")?;
        let lines: Vec<Line> = serde_json::from_value(m.payload["messages"].clone())?;
        bot::expect_eq(lines.len(), (past + said.len()).min(KEEP), "history length")?;
        // The newest lines are ours (all of them, unless the group outgrew the cap).
        let n = said.len().min(KEEP);
        bot::expect_eq(&lines[lines.len() - n..], &said[said.len() - n..], "the newest lines")
    })?;

    // The bot's own instance sees every committed write.
    bot::step("fields after the chat", || {
        bot::expect_eq(history()?.len(), (past + said.len()).min(KEEP), "group field `history`")?;
        for id in ctx.player_ids() {
            let sent: i64 = player(id).get("sent")?;
            bot::expect(sent >= 1, format_args!("player {id}'s line was not counted"))?;
        }
        Ok(())
    })
}
