//! [`Context`]: where a call happens (session, round, page, group) and the session's config.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Error, Result, wit};

/// Where a call happens: the host passes one to every export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The session's code.
    pub session: String,
    /// 1-based round number.
    pub round_number: u32,
    /// The page's name, as in `game.toml` (e.g. `"Bid"`); `""` in `creating_session`.
    pub page: String,
    /// The group's number within the round, 1-based; 0 in `creating_session` (the whole round).
    pub group_id: u32,
    /// How many players the group has; ids in the group are `1..=players`. In
    /// `creating_session`, the session's participants.
    pub players: u32,
    /// How many rounds the game has (`num_rounds` in `game.toml`).
    pub num_rounds: u32,
    /// The session's config: `[config]` of `game.toml` with the chosen `[[session_config]]`'s
    /// overrides and the admin's edits, a JSON object. Treatments are read from here; see
    /// [`config_get`](Context::config_get) and [`config_f64`](Context::config_f64).
    pub config: Value,
}

impl Context {
    /// The ids in the group, `1..=players`, e.g. to message or score every player.
    pub fn player_ids(&self) -> std::ops::RangeInclusive<u32> {
        1..=self.players
    }

    /// Whether this is the last round (`round_number == num_rounds`).
    pub fn is_last_round(&self) -> bool {
        self.round_number == self.num_rounds
    }

    /// Config key `key` as a `T`: `ctx.config_get::<String>("treatment")?`.
    ///
    /// # Errors
    /// The key is not in the config, or its value does not deserialize as `T`.
    pub fn config_get<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        let value = self.config.get(key).ok_or_else(|| Error::new(format_args!("no `{key}` in the session config")))?;
        T::deserialize(value).map_err(|e| Error::new(format_args!("session config `{key}` is not a {}: {e}", std::any::type_name::<T>())))
    }

    /// Config key `key` as a number (an integer reads as its `f64`): `ctx.config_f64("multiplier")?`.
    ///
    /// # Errors
    /// The key is not in the config, or its value is not a number.
    pub fn config_f64(&self, key: &str) -> Result<f64> {
        self.config_get(key)
    }
}

impl From<wit::Context> for Context {
    fn from(ctx: wit::Context) -> Context {
        // The host promises a JSON object; anything else is a host fault, so it traps.
        let config = serde_json::from_str(&ctx.config).unwrap_or_else(|e| panic!("ctx.config is not valid JSON ({e}): {:?}", ctx.config));
        Context {
            session: ctx.session,
            round_number: ctx.round_number,
            page: ctx.page,
            group_id: ctx.group_id,
            players: ctx.players,
            num_rounds: ctx.num_rounds,
            config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(config: Value) -> Context {
        Context { session: "s".into(), round_number: 3, page: "P".into(), group_id: 1, players: 3, num_rounds: 3, config }
    }

    #[test]
    fn config_values_are_typed_and_missing_keys_named() {
        let c = ctx(json!({"multiplier": 2, "treatment": "low", "shares": [1, 2]}));
        assert_eq!(c.config_f64("multiplier"), Ok(2.0));
        assert_eq!(c.config_get::<String>("treatment").as_deref(), Ok("low"));
        assert_eq!(c.config_get::<Vec<u32>>("shares"), Ok(vec![1, 2]));
        assert_eq!(c.config_f64("fee").expect_err("missing").message(), "no `fee` in the session config");
        let e = c.config_f64("treatment").expect_err("a string");
        assert!(e.message().starts_with("session config `treatment` is not a f64: invalid type: string \"low\""), "{e}");
        assert!(c.is_last_round());
    }
}
