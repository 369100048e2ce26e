//! Typed access to the fields declared in `game.toml`: [`group()`], [`player()`],
//! [`participant()`], [`session()`], earlier rounds ([`Group::get_in_round`],
//! [`Player::get_in_round`]) and, in `creating_session`, [`round_groups()`] and [`group_in()`].
//!
//! Values cross the WIT boundary as JSON text; here they are (de)serialized with serde, so a
//! game reads an `i64`, a `Vec<Bid>` or an `Option<String>` directly. The host checks every
//! write against the manifest (an undeclared field, or a value of the wrong type, is an
//! `err`, never a silent coercion); the SDK adds the field's name to the reason.
//!
//! Reads see committed state plus this call's own writes. Writes only take effect if the call
//! returns `Ok`, and only where the host allows them: `live_method`, `before_next_page` and
//! `after_all_players_arrive` write the group, its players and their participants;
//! `creating_session` writes every group and player of its round and the session. Everywhere
//! else (`error_message`, `vars_for_template`, `is_displayed`, bots) the host refuses them.

use std::any::type_name;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::raw;
use crate::{Error, Result};

/// The built-in player field every game has: a float, initially 0, summed over rounds into the
/// participant's payoff.
pub const PAYOFF: &str = "payoff";

/// The calling group's fields.
///
/// ```no_run
/// let max: i64 = stoa_sdk::group().get("max_bid")?;
/// stoa_sdk::group().set("max_bid", max + 1)?;
/// # Ok::<(), stoa_sdk::Error>(())
/// ```
pub fn group() -> Group {
    Group { _private: () }
}

/// The fields of player `id_in_group` (1-based) of the calling group.
///
/// The id is checked by the host on each access: an id outside `1..=ctx.players` makes
/// every `get` and `set` an `Err`.
pub fn player(id_in_group: u32) -> Player {
    Player { id: id_in_group }
}

/// The participant fields of player `id_in_group` (1-based) of the calling group: the
/// `[participant.fields]` of `game.toml`, kept across rounds (oTree's participant fields).
/// In `creating_session`, `id_in_group` is the participant's position in the session.
pub fn participant(id_in_group: u32) -> Participant {
    Participant { id: id_in_group }
}

/// The session's fields, `[session.fields]` in `game.toml`: readable in every call, writable
/// only in `creating_session`.
pub fn session() -> Session {
    Session { _private: () }
}

/// In `creating_session`: each group of the round, in id order (group 1 first), as the
/// positions in the session of its players; oTree's `subsession.get_groups()`. Empty
/// elsewhere.
pub fn round_groups() -> Vec<Vec<u32>> {
    raw::round_groups()
}

/// In `creating_session`: group `group_id` of the round, to write its fields (a group's
/// initial values, its treatment). Writes only: the round's groups are read with
/// [`round_groups()`].
pub fn group_in(group_id: u32) -> GroupIn {
    GroupIn { group_id }
}

/// Handle to the calling group's fields; see [`group()`].
#[derive(Debug, Clone, Copy)]
pub struct Group {
    _private: (),
}

/// Handle to one player's fields; see [`player()`].
#[derive(Debug, Clone, Copy)]
pub struct Player {
    id: u32,
}

/// Handle to one participant's fields; see [`participant()`].
#[derive(Debug, Clone, Copy)]
pub struct Participant {
    id: u32,
}

/// Handle to the session's fields; see [`session()`].
#[derive(Debug, Clone, Copy)]
pub struct Session {
    _private: (),
}

/// Handle to one group's fields in `creating_session`; see [`group_in()`].
#[derive(Debug, Clone, Copy)]
pub struct GroupIn {
    group_id: u32,
}

/// Whose field a call names, for the error messages.
#[derive(Clone, Copy)]
enum Owner {
    Group,
    Player(u32),
    Participant(u32),
    Session,
    /// The calling group in an earlier round (read-only).
    GroupInRound(u32),
    /// `(round, id)`: the player the participant now at `id` was in an earlier round (read-only).
    PlayerInRound(u32, u32),
    /// Group `id` of the round, in `creating_session` (write-only).
    GroupIn(u32),
}

impl Owner {
    fn get_raw(self, name: &str) -> Result<String> {
        let got = match self {
            Owner::Group => raw::group_get(name),
            Owner::Player(id) => raw::player_get(id, name),
            Owner::Participant(id) => raw::participant_get(id, name),
            Owner::Session => raw::session_get(name),
            Owner::GroupInRound(round) => raw::group_get_in_round(round, name),
            Owner::PlayerInRound(round, id) => raw::player_get_in_round(round, id, name),
            Owner::GroupIn(_) => Err("fields of another group can only be written (in creating_session)".to_string()),
        };
        got.map_err(|reason| Error::new(format_args!("cannot read {}: {reason}", self.field(name))))
    }

    fn set_raw(self, name: &str, json: &str) -> Result<()> {
        let set = match self {
            Owner::Group => raw::group_set(name, json),
            Owner::Player(id) => raw::player_set(id, name, json),
            Owner::Participant(id) => raw::participant_set(id, name, json),
            Owner::Session => raw::session_set(name, json),
            Owner::GroupInRound(_) | Owner::PlayerInRound(..) => Err("earlier rounds are read-only".to_string()),
            Owner::GroupIn(id) => raw::group_set_in(id, name, json),
        };
        set.map_err(|reason| Error::new(format_args!("cannot set {}: {reason}", self.field(name))))
    }

    fn get<T: DeserializeOwned>(self, name: &str) -> Result<T> {
        let text = self.get_raw(name)?;
        // Through `Value`, so a mismatch reads "invalid type: string \"x\", expected i64"
        // without a line and column that mean nothing to the game.
        let value: Value = serde_json::from_str(&text).map_err(|e| Error::new(format_args!("{} is not valid JSON: {e}", self.field(name))))?;
        T::deserialize(value).map_err(|e| Error::new(format_args!("{} is not a {}: {e}", self.field(name), type_name::<T>())))
    }

    fn set<T: Serialize>(self, name: &str, value: T) -> Result<()> {
        let json = serde_json::to_string(&value).map_err(|e| Error::new(format_args!("cannot serialize a value for {}: {e}", self.field(name))))?;
        self.set_raw(name, &json)
    }

    fn field(self, name: &str) -> FieldName<'_> {
        FieldName { owner: self, name }
    }
}

/// Displays as ``group field `max_bid` ``, ``field `bids` of player 2`` and so on.
struct FieldName<'a> {
    owner: Owner,
    name: &'a str,
}

impl fmt::Display for FieldName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.owner {
            Owner::Group => write!(f, "group field `{}`", self.name),
            Owner::Player(id) => write!(f, "field `{}` of player {id}", self.name),
            Owner::Participant(id) => write!(f, "participant field `{}` of player {id}", self.name),
            Owner::Session => write!(f, "session field `{}`", self.name),
            Owner::GroupInRound(round) => write!(f, "group field `{}` in round {round}", self.name),
            Owner::PlayerInRound(round, id) => write!(f, "field `{}` of player {id} in round {round}", self.name),
            Owner::GroupIn(id) => write!(f, "group field `{}` of group {id}", self.name),
        }
    }
}

/// The methods shared by [`Group`] and [`Player`], written once.
macro_rules! field_methods {
    () => {
        /// Reads field `name` as a `T` (`Option<T>` if it may be null).
        ///
        /// # Errors
        /// The field is not declared, the player is not in the group, or the stored value
        /// does not deserialize as `T` (the reason names the field and `T`).
        pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
            self.owner().get(name)
        }

        /// Writes `value` (anything `Serialize`) to field `name`; it commits with the call.
        ///
        /// # Errors
        /// The field is not declared, the value does not fit its declared type (an integer
        /// field takes JSON integers only; a float field any number; `null` fits every
        /// field), it is larger than the host's cap on a field, the player is not in the
        /// group, or the call may not write it (only `live_method`, `before_next_page`,
        /// `after_all_players_arrive` and `creating_session` write).
        pub fn set<T: Serialize>(&self, name: &str, value: T) -> Result<()> {
            self.owner().set(name, value)
        }

        /// Reads field `name` as a `T`, applies `f` and writes the result back; returns it.
        ///
        /// ```no_run
        /// let bids = stoa_sdk::player(1).update("bids", |n: i64| n + 1)?;
        /// # Ok::<(), stoa_sdk::Error>(())
        /// ```
        ///
        /// # Errors
        /// As [`get`](Self::get), then as [`set`](Self::set).
        pub fn update<T: DeserializeOwned + Serialize>(&self, name: &str, f: impl FnOnce(T) -> T) -> Result<T> {
            let value = f(self.get(name)?);
            self.set(name, &value)?;
            Ok(value)
        }

        /// Reads field `name` as JSON text, as the host stores it.
        ///
        /// # Errors
        /// The field is not declared or the player is not in the group.
        pub fn get_raw(&self, name: &str) -> Result<String> {
            self.owner().get_raw(name)
        }

        /// Writes JSON text to field `name` without serializing it again (for large values
        /// already held as text). The host parses and type-checks it.
        ///
        /// # Errors
        /// As [`set`](Self::set), and if `json` is not valid JSON.
        pub fn set_raw(&self, name: &str, json: &str) -> Result<()> {
            self.owner().set_raw(name, json)
        }
    };
}

impl Group {
    field_methods!();

    /// Reads field `name` of this group (the same group id) in an earlier `round`, as a `T`.
    /// Read-only: earlier rounds cannot be written.
    ///
    /// # Errors
    /// The field is not declared, `round` is not an earlier round, or the value does not
    /// deserialize as `T`.
    pub fn get_in_round<T: DeserializeOwned>(&self, round: u32, name: &str) -> Result<T> {
        Owner::GroupInRound(round).get(name)
    }

    fn owner(&self) -> Owner {
        Owner::Group
    }
}

impl Player {
    /// The player's id in the group (1-based).
    pub fn id(&self) -> u32 {
        self.id
    }

    field_methods!();

    /// Reads field `name` of the player that this player's participant was in an earlier
    /// `round` (oTree's `player.in_round(round)`), as a `T`. Read-only.
    ///
    /// # Errors
    /// The field is not declared, `round` is not an earlier round, the player is not in the
    /// group, or the value does not deserialize as `T`.
    pub fn get_in_round<T: DeserializeOwned>(&self, round: u32, name: &str) -> Result<T> {
        Owner::PlayerInRound(round, self.id).get(name)
    }

    /// The built-in `payoff` field (points, this round).
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn payoff(&self) -> Result<f64> {
        self.get(PAYOFF)
    }

    /// Writes the built-in `payoff` field (points, this round).
    ///
    /// # Errors
    /// As [`set`](Self::set).
    pub fn set_payoff(&self, points: f64) -> Result<()> {
        self.set(PAYOFF, points)
    }

    /// This player's participant, to reach its `[participant.fields]`.
    pub fn participant(&self) -> Participant {
        participant(self.id)
    }

    fn owner(&self) -> Owner {
        Owner::Player(self.id)
    }
}

impl Participant {
    /// The id in the group (or, in `creating_session`, the position in the session) it was
    /// reached by.
    pub fn id(&self) -> u32 {
        self.id
    }

    field_methods!();

    fn owner(&self) -> Owner {
        Owner::Participant(self.id)
    }
}

impl Session {
    field_methods!();

    fn owner(&self) -> Owner {
        Owner::Session
    }
}

impl GroupIn {
    /// The group's id in the round.
    pub fn id(&self) -> u32 {
        self.group_id
    }

    /// Writes `value` to the group's field `name`; it commits with `creating_session`.
    ///
    /// # Errors
    /// As [`Group::set`], and outside `creating_session`.
    pub fn set<T: Serialize>(&self, name: &str, value: T) -> Result<()> {
        Owner::GroupIn(self.group_id).set(name, value)
    }

    /// Writes JSON text to the group's field `name`.
    ///
    /// # Errors
    /// As [`set`](Self::set), and if `json` is not valid JSON.
    pub fn set_raw(&self, name: &str, json: &str) -> Result<()> {
        Owner::GroupIn(self.group_id).set_raw(name, json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_read_well_in_errors() {
        assert_eq!(Owner::Group.field("max_bid").to_string(), "group field `max_bid`");
        assert_eq!(Owner::Player(2).field("bids").to_string(), "field `bids` of player 2");
        assert_eq!(Owner::Participant(2).field("role").to_string(), "participant field `role` of player 2");
        assert_eq!(Owner::Session.field("seed").to_string(), "session field `seed`");
        assert_eq!(Owner::GroupInRound(1).field("total").to_string(), "group field `total` in round 1");
        assert_eq!(Owner::PlayerInRound(1, 3).field("payoff").to_string(), "field `payoff` of player 3 in round 1");
        assert_eq!(Owner::GroupIn(2).field("mpcr").to_string(), "group field `mpcr` of group 2");
    }

    // The refusals the SDK makes itself, before any host call (so they run natively).
    #[test]
    fn earlier_rounds_are_read_only_and_other_groups_write_only() {
        let e = Owner::GroupInRound(1).set("total", 3).expect_err("read-only");
        assert_eq!(e.message(), "cannot set group field `total` in round 1: earlier rounds are read-only");
        let e = Owner::PlayerInRound(1, 2).set_raw("payoff", "1").expect_err("read-only");
        assert_eq!(e.message(), "cannot set field `payoff` of player 2 in round 1: earlier rounds are read-only");
        let e = Owner::GroupIn(2).get::<f64>("mpcr").expect_err("write-only");
        assert!(e.message().starts_with("cannot read group field `mpcr` of group 2: "), "{e}");
    }
}
