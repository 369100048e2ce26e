//! The [`Game`] trait a game implements, and [`export_game!`](crate::export_game), which
//! exports it as the component's `game` world.
//!
//! The exports take and return JSON text; the adapter here parses it, converts the WIT
//! context and turns the game's [`Error`]s into the WIT `err` strings.

use std::marker::PhantomData;

use serde_json::Value;

use crate::{Context, Error, Messages, Result, wit};

/// A game: what the host calls. Only [`live_method`](Game::live_method) is required.
///
/// A fresh instance serves every call, so a game keeps no state in memory: everything that
/// must last lives in the fields declared in `game.toml` (see [`group()`](crate::group) and
/// [`player()`](crate::player)). That is why these are associated functions, not methods.
pub trait Game {
    /// A player's `liveSend(payload)` on a live page: read and update fields, return the
    /// messages to route. Field writes commit with the call, and only if it returns `Ok`.
    ///
    /// # Errors
    /// Return `Err(reason)` to refuse the payload: nothing is written and the sender alone
    /// gets `{"error": reason}`. A payload that is not JSON never gets here: it is an `Err`
    /// naming it.
    fn live_method(ctx: &Context, id_in_group: u32, payload: Value) -> Result<Messages>;

    /// A page's form submission (`values` is `{}` for a form without inputs). `Some(text)`
    /// keeps the player on the page and shows the text; `None` (the default) lets them go on.
    ///
    /// # Traps
    /// An `Err` traps the call, as a host fault would (the WIT function has no `err`); keep
    /// refusals in `Ok(Some(text))`.
    fn error_message(ctx: &Context, id_in_group: u32, values: Value) -> Result<Option<String>> {
        let _ = (ctx, id_in_group, values);
        Ok(None)
    }

    /// Extra variables for the page's template: a JSON object whose keys become top-level
    /// variables, next to `player`, `group`, `page`, `round_number` and `participant`.
    /// Default: `{}`.
    ///
    /// # Traps
    /// An `Err`, or a value that is not an object, traps the call (the page fails to render).
    fn vars_for_template(ctx: &Context, id_in_group: u32) -> Result<Value> {
        let _ = (ctx, id_in_group);
        Ok(Value::Object(serde_json::Map::new()))
    }

    /// The bot of a live page: runs once per group, page and round of a bot run, when the
    /// group's first bot arrives on the page; `case` is the bot case (`bot_cases` in
    /// `game.toml`), if any. Drive the page with [`bot::live_method`](crate::bot::live_method).
    /// Default: does nothing.
    ///
    /// # Errors
    /// An `Err` fails the bot run with its reason (a bot's assertion).
    fn call_live_method(ctx: &Context, case: Option<&str>) -> Result<()> {
        let _ = (ctx, case);
        Ok(())
    }
}

/// Exports a [`Game`] as this component's `game` world. Use it once, in the crate whose
/// `crate-type` is `cdylib`:
///
/// ```ignore
/// struct Auction;
/// impl stoa_sdk::Game for Auction { /* ... */ }
/// stoa_sdk::export_game!(Auction);
/// ```
#[macro_export]
macro_rules! export_game {
    ($game:ty) => {
        const _: () = {
            type __StoaGame = $crate::__private::Adapter<$game>;
    $crate::wit::__export_game_world!(__StoaGame with_types_in $crate::wit);
        };
    };
}

/// What [`export_game!`](crate::export_game) expands to; not part of the API.
#[doc(hidden)]
pub struct Adapter<G>(PhantomData<G>);

impl<G: Game> wit::Guest for Adapter<G> {
    fn live_method(ctx: wit::Context, id_in_group: u32, payload: String) -> Result<Vec<wit::Message>, String> {
        let payload = parse(&payload, "payload")?;
        let out = G::live_method(&ctx.into(), id_in_group, payload)?;
        Ok(out.into_wit()?)
    }

    fn error_message(ctx: wit::Context, id_in_group: u32, values: String) -> Option<String> {
        let values = parse(&values, "form values").unwrap_or_else(|e| trap("error_message", e));
        G::error_message(&ctx.into(), id_in_group, values).unwrap_or_else(|e| trap("error_message", e))
    }

    fn vars_for_template(ctx: wit::Context, id_in_group: u32) -> String {
        match G::vars_for_template(&ctx.into(), id_in_group) {
            Ok(vars @ Value::Object(_)) => vars.to_string(),
            Ok(other) => trap("vars_for_template", Error::new(format_args!("must return a JSON object, got {other}"))),
            Err(e) => trap("vars_for_template", e),
        }
    }

    fn call_live_method(ctx: wit::Context, case: Option<String>) -> Result<(), String> {
        Ok(G::call_live_method(&ctx.into(), case.as_deref())?)
    }
}

/// Parses JSON text from the host; the error names `what` and quotes the start of the text.
fn parse(text: &str, what: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| {
        let start: String = text.chars().take(60).collect();
        let more = if start.len() < text.len() { "..." } else { "" };
        Error::new(format_args!("{what} is not valid JSON ({e}): {start:?}{more}"))
    })
}

/// Traps the call: the WIT function has no `err`, and a panic is how a guest says "fault".
/// The message reaches the host log through stderr.
fn trap(export: &str, e: Error) -> ! {
    panic!("{export} failed: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_that_is_not_json_is_named_and_quoted() {
        let e = parse("bid 10", "payload").expect_err("not JSON");
        assert!(e.message().starts_with("payload is not valid JSON ("), "{e}");
        assert!(e.message().ends_with(r#"): "bid 10""#), "{e}");
    }

    #[test]
    fn a_long_payload_is_cut() {
        let e = parse(&"x".repeat(500), "payload").expect_err("not JSON");
        assert!(e.message().ends_with("\"..."), "{e}");
    }
}
