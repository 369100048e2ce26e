//! Chat: a group chat, written with `stoa-sdk`. It shows a broadcast kept in a json field,
//! capped, and a reply to the sender alone that brings a (re)connecting page up to date.
//!
//! # Payloads (what `liveSend` may send)
//!
//! - `{"type": "chat", "text": "..."}` (not blank, at most 500 characters): appends
//!   `{"from": id, "text": ...}` to the group field `history` (which keeps the last 200
//!   lines), counts in the sender's `sent`, and broadcasts
//!   `{"type": "chat", "from": id, "text": ...}`.
//! - `{"type": "connect"}`: the sender alone gets `{"type": "history", "messages": [...]}`,
//!   the lines of `history`, oldest first.
//!
//! Anything else is refused with the reason. The text is the participants' own: the page
//! writes it with `textContent`, never as HTML.
//!
//! # Layout
//!
//! - `lib.rs` — payload parsing, the history, `live_method` and `vars_for_template`.
//! - `bot.rs` — `call_live_method`: a few lines of chat and a connect, checking routes.

mod bot;

use serde::{Deserialize, Serialize};
use stoa_sdk::{Context, Game, Messages, Result, Value, bail, ensure, group, json, player, short};

/// The longest line, in characters (Unicode scalar values).
const MAX_TEXT: usize = 500;
/// How many lines `history` keeps: the newest ones.
const KEEP: usize = 200;

/// The game; it holds nothing, every call starts from the fields.
struct Chat;

stoa_sdk::export_game!(Chat);

/// One line of the chat, as kept in the group field `history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Line {
    from: u32,
    text: String,
}

/// What a payload asks for.
#[derive(Debug, PartialEq)]
enum Request {
    Chat(String),
    Connect,
}

impl Game for Chat {
    fn live_method(_ctx: &Context, id_in_group: u32, payload: Value) -> Result<Messages> {
        match parse(payload)? {
            Request::Chat(text) => {
                let mut lines = history()?;
                append(&mut lines, Line { from: id_in_group, text: text.clone() });
                group().set("history", &lines)?;
                player(id_in_group).update("sent", |n: Option<i64>| Some(n.unwrap_or(0) + 1))?;
                Ok(Messages::to_group(json!({"type": "chat", "from": id_in_group, "text": text})))
            }
            Request::Connect => {
                let reply = json!({"type": "history", "messages": history()?});
                Ok(Messages::reply(id_in_group, reply))
            }
        }
    }

    fn vars_for_template(_ctx: &Context, id_in_group: u32) -> Result<Value> {
        let sent = player(id_in_group).get::<Option<i64>>("sent")?.unwrap_or(0);
        Ok(json!({"sent": sent, "max_text": MAX_TEXT}))
    }

    fn call_live_method(ctx: &Context, case: Option<&str>) -> Result<()> {
        bot::play(ctx, case)
    }
}

/// Reads a payload: a line of chat (checked) or a connect.
fn parse(payload: Value) -> Result<Request> {
    let Value::Object(mut fields) = payload else {
        bail!("expected {{\"type\": \"chat\", \"text\": \"...\"}} or {{\"type\": \"connect\"}}, got {}", short(&payload));
    };
    match fields.get("type").and_then(Value::as_str) {
        Some("connect") => Ok(Request::Connect),
        Some("chat") => match fields.remove("text") {
            Some(Value::String(text)) => {
                ensure!(!text.trim().is_empty(), "a chat message needs some text");
                let chars = text.chars().count();
                ensure!(chars <= MAX_TEXT, "a chat message is at most {MAX_TEXT} characters, this one has {chars}");
                Ok(Request::Chat(text))
            }
            Some(other) => bail!("a chat message's \"text\" must be a string, got {}", short(&other)),
            None => bail!("a chat message needs a \"text\""),
        },
        Some(other) => bail!("unknown message type {other:?} (expected \"chat\" or \"connect\")"),
        None => bail!("a message needs a \"type\": \"chat\" or \"connect\""),
    }
}

/// Appends `line`, dropping the oldest lines past [`KEEP`].
fn append(lines: &mut Vec<Line>, line: Line) {
    lines.push(line);
    if lines.len() > KEEP {
        let extra = lines.len() - KEEP;
        lines.drain(..extra);
    }
}

/// The kept lines, oldest first (a null field counts as none).
fn history() -> Result<Vec<Line>> {
    Ok(group().get::<Option<Vec<Line>>>("history")?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_lines_and_connects_are_read() {
        assert_eq!(parse(json!({"type": "chat", "text": "hi <b>all</b>"})), Ok(Request::Chat("hi <b>all</b>".into())));
        assert_eq!(parse(json!({"type": "connect"})), Ok(Request::Connect));
    }

    #[test]
    fn text_is_at_most_500_characters_not_bytes() {
        let ok = "é".repeat(MAX_TEXT);
        assert_eq!(parse(json!({"type": "chat", "text": ok})), Ok(Request::Chat(ok)));
        let e = parse(json!({"type": "chat", "text": "x".repeat(MAX_TEXT + 1)})).expect_err("too long");
        assert_eq!(e.message(), "a chat message is at most 500 characters, this one has 501");
    }

    #[test]
    fn bad_payloads_are_refused_with_the_reason() {
        let reason = |p: Value| parse(p).expect_err("refused").to_string();
        assert_eq!(reason(json!({"type": "chat", "text": "  "})), "a chat message needs some text");
        assert_eq!(reason(json!({"type": "chat"})), "a chat message needs a \"text\"");
        assert_eq!(reason(json!({"type": "chat", "text": 5})), "a chat message's \"text\" must be a string, got 5");
        assert!(reason(json!({"type": "shout"})).starts_with("unknown message type \"shout\""));
        assert!(reason(json!({})).starts_with("a message needs a \"type\""));
        assert!(reason(json!("hi")).starts_with("expected {\"type\": \"chat\""));
    }

    #[test]
    fn history_keeps_the_newest_200_lines() {
        let mut lines = Vec::new();
        for i in 0..250 {
            append(&mut lines, Line { from: 1, text: i.to_string() });
        }
        assert_eq!(lines.len(), KEEP);
        assert_eq!(lines.first().map(|l| l.text.as_str()), Some("50"));
        assert_eq!(lines.last().map(|l| l.text.as_str()), Some("249"));
    }
}
