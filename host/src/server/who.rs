//! [`Who`]: who sent a request to the experimenter's side, and what they may see.

use crate::hosting::accounts::{Researcher, parse_key};
use crate::store::Session;

/// Who sent a request to the experimenter's side.
#[derive(Debug, Clone)]
pub(crate) enum Who {
    /// The admin token: sees and does everything.
    Operator,
    /// A researcher: sees only their own games and sessions.
    Researcher(Researcher),
}

impl Who {
    /// The researcher's name; `None` for the operator.
    pub(crate) fn researcher(&self) -> Option<&str> {
        match self {
            Who::Operator => None,
            Who::Researcher(r) => Some(&r.name),
        }
    }

    /// Whether a session or game with this game key is theirs to see.
    pub(crate) fn may_see(&self, game_key: &str) -> bool {
        match self {
            Who::Operator => true,
            Who::Researcher(r) => parse_key(game_key).is_some_and(|(owner, _, _)| owner == r.name),
        }
    }

    /// Whether `session` is theirs to see.
    pub(crate) fn owns(&self, session: &Session) -> bool {
        self.may_see(&session.game)
    }
}
