//! [`Who`]: who sent a request to the experimenter's side, and what they may see.

use crate::hosting::accounts::{Researcher, parse_key};
use crate::store::{Room, Session};

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

    /// Whether `room` is theirs to see and use: the operator's rooms are the operator's, a
    /// researcher's their own; the operator's token reaches every room, as every session.
    pub(crate) fn owns_room(&self, room: &Room) -> bool {
        match self {
            Who::Operator => true,
            Who::Researcher(r) => room.owner.as_deref() == Some(r.name.as_str()),
        }
    }

    /// Who a new room of theirs belongs to: `None` for the operator.
    pub(crate) fn room_owner(&self) -> Option<String> {
        self.researcher().map(str::to_string)
    }
}
