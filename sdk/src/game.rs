//! The [`Game`] trait a game implements, and [`export_game!`](crate::export_game), which
//! exports it as the component's `game` world.
//!
//! The exports take and return JSON text; the adapter here parses it, converts the WIT
//! context and turns the game's [`Error`]s into the WIT `err` strings.

use std::marker::PhantomData;

use serde_json::Value;

use crate::bot::Submission;
use crate::{Context, Error, Messages, Result, wit};

/// A game: what the host calls. Only [`live_method`](Game::live_method) is required; every
/// other function has the default of DESIGN.md (a game that does not care behaves as a 0.1
/// game does).
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

    /// Once per round when the session is created, for the whole round (`ctx.group_id` is 0,
    /// `ctx.players` the session's participants, `ctx.page` empty): treatments, roles, initial
    /// values. [`player()`](crate::player) and [`participant()`](crate::participant) take the
    /// participant's position in the session; [`round_groups()`](crate::round_groups) lists
    /// the groups; [`group_in()`](crate::group_in) and [`session()`](crate::session) write
    /// groups' and the session's fields. oTree's `creating_session`. Default: `Ok`.
    ///
    /// # Errors
    /// An `Err` writes nothing and fails the session's creation with its reason.
    fn creating_session(ctx: &Context) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Whether player `id_in_group` sees `ctx.page`; `false` skips it (it is never shown and
    /// never times out). Read-only. Default: `true`.
    ///
    /// # Traps
    /// An `Err` traps the call (the WIT function has no `err`).
    fn is_displayed(ctx: &Context, id_in_group: u32) -> Result<bool> {
        let _ = (ctx, id_in_group);
        Ok(true)
    }

    /// After player `id_in_group`'s submission of `ctx.page` is accepted and its form values
    /// stored, in the same commit; also when the page times out (`timeout_happened`). Writes
    /// the group's, its players' and their participants' fields. Default: `Ok`.
    ///
    /// # Errors
    /// An `Err` writes nothing (not even the form's values) and keeps the player on the page;
    /// the reason is logged.
    fn before_next_page(ctx: &Context, id_in_group: u32, timeout_happened: bool) -> Result<()> {
        let _ = (ctx, id_in_group, timeout_happened);
        Ok(())
    }

    /// On a wait page, once per group when its last player arrives (exactly once, across a
    /// crash and restart): compute the group's results and payoffs here. Default: `Ok`.
    ///
    /// # Errors
    /// An `Err` writes nothing and keeps the group waiting; the reason is logged.
    fn after_all_players_arrive(ctx: &Context) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Player `id_in_group`'s timeout on `ctx.page`, in seconds from now; `None` (the
    /// default) uses the page's `timeout_seconds`. oTree's `get_timeout_seconds`.
    ///
    /// # Traps
    /// An `Err` traps the call.
    fn get_timeout_seconds(ctx: &Context, id_in_group: u32) -> Result<Option<f64>> {
        let _ = (ctx, id_in_group);
        Ok(None)
    }

    /// The form submissions player `id_in_group`'s bot makes on `ctx.page`, in order
    /// (`case` as in [`call_live_method`](Game::call_live_method)). A
    /// [`Submission::must_fail`] one that is accepted fails the run, and so does a plain one
    /// that is refused. Default: one submission of `{}`.
    ///
    /// # Traps
    /// An `Err` traps the call, which fails the bot run.
    fn bot_submissions(ctx: &Context, id_in_group: u32, case: Option<&str>) -> Result<Vec<Submission>> {
        let _ = (ctx, id_in_group, case);
        Ok(vec![Submission::default()])
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

    fn creating_session(ctx: wit::Context) -> Result<(), String> {
        Adapter::<G>::creating_session(ctx.into())
    }

    fn is_displayed(ctx: wit::Context, id_in_group: u32) -> bool {
        Adapter::<G>::is_displayed(ctx.into(), id_in_group)
    }

    fn before_next_page(ctx: wit::Context, id_in_group: u32, timeout_happened: bool) -> Result<(), String> {
        Adapter::<G>::before_next_page(ctx.into(), id_in_group, timeout_happened)
    }

    fn after_all_players_arrive(ctx: wit::Context) -> Result<(), String> {
        Adapter::<G>::after_all_players_arrive(ctx.into())
    }

    fn get_timeout_seconds(ctx: wit::Context, id_in_group: u32) -> Option<f64> {
        Adapter::<G>::get_timeout_seconds(ctx.into(), id_in_group)
    }

    fn bot_submissions(ctx: wit::Context, id_in_group: u32, case: Option<String>) -> Vec<wit::BotSubmission> {
        let subs = Adapter::<G>::bot_submissions(ctx.into(), id_in_group, case);
        subs.into_iter().map(|(values, must_fail)| wit::BotSubmission { values, must_fail }).collect()
    }
}

/// The 0.2 exports over the SDK's own types, which the WIT `Guest` functions above call (and
/// tests call natively).
impl<G: Game> Adapter<G> {
    pub(crate) fn creating_session(ctx: Context) -> Result<(), String> {
        Ok(G::creating_session(&ctx)?)
    }

    pub(crate) fn is_displayed(ctx: Context, id_in_group: u32) -> bool {
        G::is_displayed(&ctx, id_in_group).unwrap_or_else(|e| trap("is_displayed", e))
    }

    pub(crate) fn before_next_page(ctx: Context, id_in_group: u32, timeout_happened: bool) -> Result<(), String> {
        Ok(G::before_next_page(&ctx, id_in_group, timeout_happened)?)
    }

    pub(crate) fn after_all_players_arrive(ctx: Context) -> Result<(), String> {
        Ok(G::after_all_players_arrive(&ctx)?)
    }

    pub(crate) fn get_timeout_seconds(ctx: Context, id_in_group: u32) -> Option<f64> {
        match G::get_timeout_seconds(&ctx, id_in_group) {
            Ok(Some(s)) if !s.is_finite() || s < 0.0 => {
                trap("get_timeout_seconds", Error::new(format_args!("must be a finite number of seconds >= 0, got {s}")))
            }
            Ok(s) => s,
            Err(e) => trap("get_timeout_seconds", e),
        }
    }

    /// `(values as JSON text, must_fail)` per submission.
    pub(crate) fn bot_submissions(ctx: Context, id_in_group: u32, case: Option<String>) -> Vec<(String, bool)> {
        let subs = G::bot_submissions(&ctx, id_in_group, case.as_deref()).unwrap_or_else(|e| trap("bot_submissions", e));
        subs.into_iter()
            .enumerate()
            .map(|(i, s)| match s.values {
                Value::Object(_) => (s.values.to_string(), s.must_fail),
                other => trap("bot_submissions", Error::new(format_args!("submission {} must be a JSON object of form values, got {other}", i + 1))),
            })
            .collect()
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

    fn ctx() -> Context {
        Context { session: "s".into(), round_number: 1, page: "P".into(), group_id: 1, players: 2, num_rounds: 1, config: serde_json::json!({}) }
    }

    struct Plain;
    impl Game for Plain {
        fn live_method(_: &Context, _: u32, _: Value) -> Result<Messages> {
            Ok(Messages::none())
        }
    }

    struct Custom;
    impl Game for Custom {
        fn live_method(_: &Context, _: u32, _: Value) -> Result<Messages> {
            Ok(Messages::none())
        }
        fn is_displayed(_: &Context, id: u32) -> Result<bool> {
            Ok(id == 2)
        }
        fn before_next_page(_: &Context, _: u32, timeout_happened: bool) -> Result<()> {
            crate::ensure!(!timeout_happened, "too late");
            Ok(())
        }
        fn get_timeout_seconds(_: &Context, id: u32) -> Result<Option<f64>> {
            Ok(Some(f64::from(id) * 1.5))
        }
        fn bot_submissions(_: &Context, id: u32, case: Option<&str>) -> Result<Vec<Submission>> {
            Ok(vec![Submission::must_fail(serde_json::json!({"c": -1})), Submission::new(serde_json::json!({"c": id, "case": case}))])
        }
    }

    #[test]
    fn the_new_exports_default_as_design_says() {
        assert_eq!(Adapter::<Plain>::creating_session(ctx()), Ok(()));
        assert!(Adapter::<Plain>::is_displayed(ctx(), 1));
        assert_eq!(Adapter::<Plain>::before_next_page(ctx(), 1, true), Ok(()));
        assert_eq!(Adapter::<Plain>::after_all_players_arrive(ctx()), Ok(()));
        assert_eq!(Adapter::<Plain>::get_timeout_seconds(ctx(), 1), None);
        assert_eq!(Adapter::<Plain>::bot_submissions(ctx(), 1, None), vec![("{}".to_string(), false)]);
    }

    #[test]
    fn a_game_overrides_each_one() {
        assert!(!Adapter::<Custom>::is_displayed(ctx(), 1));
        assert!(Adapter::<Custom>::is_displayed(ctx(), 2));
        assert_eq!(Adapter::<Custom>::before_next_page(ctx(), 1, true), Err("too late".to_string()));
        assert_eq!(Adapter::<Custom>::before_next_page(ctx(), 1, false), Ok(()));
        assert_eq!(Adapter::<Custom>::get_timeout_seconds(ctx(), 2), Some(3.0));
        let subs = Adapter::<Custom>::bot_submissions(ctx(), 2, Some("a".into()));
        assert_eq!(subs, vec![(r#"{"c":-1}"#.to_string(), true), (r#"{"c":2,"case":"a"}"#.to_string(), false)]);
    }

    struct BadSubmission;
    impl Game for BadSubmission {
        fn live_method(_: &Context, _: u32, _: Value) -> Result<Messages> {
            Ok(Messages::none())
        }
        fn bot_submissions(_: &Context, _: u32, _: Option<&str>) -> Result<Vec<Submission>> {
            Ok(vec![Submission::new(serde_json::json!(5))])
        }
    }

    #[test]
    #[should_panic(expected = "bot_submissions failed: submission 1 must be a JSON object of form values, got 5")]
    fn a_submission_that_is_not_an_object_traps() {
        Adapter::<BadSubmission>::bot_submissions(ctx(), 1, None);
    }

    #[test]
    fn a_long_payload_is_cut() {
        let e = parse(&"x".repeat(500), "payload").expect_err("not JSON");
        assert!(e.message().ends_with("\"..."), "{e}");
    }
}
