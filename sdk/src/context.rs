//! [`Context`]: where a call happens (session, round, page, group).

use crate::wit;

/// Where a call happens: the host passes one to every export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The session's code.
    pub session: String,
    /// 1-based round number.
    pub round_number: u32,
    /// The page's name, as in `game.toml` (e.g. `"Bid"`).
    pub page: String,
    /// The group's number within the round, 1-based.
    pub group_id: u32,
    /// How many players the group has; ids in the group are `1..=players`.
    pub players: u32,
}

impl Context {
    /// The ids in the group, `1..=players`, e.g. to message or score every player.
    pub fn player_ids(&self) -> std::ops::RangeInclusive<u32> {
        1..=self.players
    }
}

impl From<wit::Context> for Context {
    fn from(ctx: wit::Context) -> Context {
        Context { session: ctx.session, round_number: ctx.round_number, page: ctx.page, group_id: ctx.group_id, players: ctx.players }
    }
}
