//! Bots: play a live page from [`Game::call_live_method`](crate::Game::call_live_method).
//!
//! [`live_method`] sends a payload as a player of the group, through the host's
//! `bot-driver`: each call is a real live call (a fresh game instance, its field writes
//! committed, its messages logged) and returns what it routed, so the bot can check it. The
//! bot's own instance may read fields (it sees every committed write) but not write them.
//!
//! The helpers turn a failed check into an [`Error`], which fails the bot run with its
//! reason, so a script reads as a list of steps with `?`:
//!
//! ```no_run
//! use stoa_sdk::{bot, json};
//! let out = bot::live_method(1, json!({"bid": 10}))?;
//! let m = bot::single(&out).map_err(|e| e.context("player 1 bids 10"))?;
//! bot::expect_eq(m.to, 0, "player 1 bids 10: recipient")?;
//! # Ok::<(), stoa_sdk::Error>(())
//! ```

use std::fmt::{Debug, Display};

use serde::Serialize;

use crate::wit::stoa::game::bot_driver as raw;
use crate::{Error, Message, Result};

/// Sends `payload` as player `id_in_group` and returns the messages the call routed.
///
/// # Errors
/// The payload cannot be serialized; the game's `live_method` returned an error or trapped
/// (the reason is the host's text, prefixed with the player); the host refused the call
/// (outside `call_live_method`, or an id not in the group); a routed payload is not JSON.
pub fn live_method(id_in_group: u32, payload: impl Serialize) -> Result<Vec<Message>> {
    let json = serde_json::to_string(&payload)?;
    let routed =
        raw::live_method(id_in_group, &json).map_err(|reason| Error::new(format_args!("live call of player {id_in_group} failed: {reason}")))?;
    routed.into_iter().map(Message::from_wit).collect()
}

/// `Ok(())` if `cond` holds, else an [`Error`] with `reason`.
///
/// # Errors
/// `cond` is false.
pub fn expect(cond: bool, reason: impl Display) -> Result<()> {
    if cond { Ok(()) } else { Err(Error::new(reason)) }
}

/// `Ok(())` if `actual == expected`, else an [`Error`] naming `what` and both values.
///
/// # Errors
/// The values differ.
pub fn expect_eq<T: PartialEq + Debug>(actual: T, expected: T, what: impl Display) -> Result<()> {
    if actual == expected { Ok(()) } else { Err(Error::new(format_args!("{what}: expected {expected:?}, got {actual:?}"))) }
}

/// The one message of `messages`.
///
/// # Errors
/// There are none, or more than one (the reason lists them).
pub fn single(messages: &[Message]) -> Result<&Message> {
    match messages {
        [one] => Ok(one),
        _ => Err(Error::new(format_args!("expected exactly one message, got {}: {}", messages.len(), describe(messages)))),
    }
}

/// Sends `payload` as player `id_in_group` and returns the one message it routed, which
/// must go to `to` (0 = the whole group).
///
/// # Errors
/// As [`live_method`]; or the call routed no message, several, or one to someone else.
pub fn one_to(id_in_group: u32, payload: impl Serialize, to: u32) -> Result<Message> {
    let out = live_method(id_in_group, payload)?;
    let m = single(&out)?.clone();
    expect_eq(m.to, to, "recipient")?;
    Ok(m)
}

/// Runs one step of a bot script, naming it in its error: `bot step `NAME`: reason`.
///
/// # Errors
/// What `f` returns.
pub fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    f().map_err(|e| e.context(format_args!("bot step `{name}`")))
}

/// `[to 0: {"type":"new_max"}, to 2: ...]`, for error messages.
fn describe(messages: &[Message]) -> String {
    let items: Vec<String> = messages.iter().map(|m| format!("to {}: {}", m.to, m.payload)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expect_eq_names_what_and_both_values() {
        let e = expect_eq(2, 0, "recipient").expect_err("differs");
        assert_eq!(e.message(), "recipient: expected 0, got 2");
    }

    #[test]
    fn single_lists_the_messages_it_got() {
        let two = [Message { to: 1, payload: json!(1) }, Message { to: 0, payload: json!({"a": 2}) }];
        let e = single(&two).expect_err("two");
        assert_eq!(e.message(), r#"expected exactly one message, got 2: [to 1: 1, to 0: {"a":2}]"#);
        assert!(single(&two[..1]).is_ok());
    }
}
