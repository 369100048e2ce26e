//! Bots: play a live page from [`Game::call_live_method`](crate::Game::call_live_method),
//! and submit forms from [`Game::bot_submissions`](crate::Game::bot_submissions) as
//! [`Submission`]s.
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
use serde_json::Value;

use crate::wit::stoa::game::bot_driver as raw;
use crate::{Error, Message, Result};

/// One form submission a bot makes on a page (see
/// [`Game::bot_submissions`](crate::Game::bot_submissions)): `values` is a JSON object of the
/// page's `form_fields`, and `must_fail` says the host or `error_message` must refuse it (an
/// accepted must-fail submission fails the bot run, as does a refused plain one).
///
/// ```
/// use stoa_sdk::{bot::Submission, json};
/// let tries = vec![Submission::must_fail(json!({"contribution": 101})), Submission::new(json!({"contribution": 40}))];
/// assert!(tries[0].must_fail && !tries[1].must_fail);
/// assert_eq!(Submission::default().values, json!({}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The form values, a JSON object keyed by field name.
    pub values: Value,
    /// The submission must be refused.
    pub must_fail: bool,
}

impl Submission {
    /// A submission that must be accepted.
    pub fn new(values: Value) -> Submission {
        Submission { values, must_fail: false }
    }

    /// A submission that must be refused (by the host's checks or by `error_message`).
    pub fn must_fail(values: Value) -> Submission {
        Submission { values, must_fail: true }
    }
}

impl Default for Submission {
    /// `{}`, to be accepted: a page without a form.
    fn default() -> Submission {
        Submission::new(Value::Object(serde_json::Map::new()))
    }
}

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
