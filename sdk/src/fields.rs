//! Typed access to the fields declared in `game.toml`: [`group()`] and [`player()`].
//!
//! Values cross the WIT boundary as JSON text; here they are (de)serialized with serde, so a
//! game reads an `i64`, a `Vec<Bid>` or an `Option<String>` directly. The host checks every
//! write against the manifest (an undeclared field, or a value of the wrong type, is an
//! `err`, never a silent coercion); the SDK adds the field's name to the reason.
//!
//! Reads see the group's committed state plus this call's own writes. Writes only take
//! effect if `live_method` returns `Ok`; everywhere else (`error_message`,
//! `vars_for_template`, `call_live_method`) the host refuses them.

use std::any::type_name;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::wit::stoa::game::fields as raw;
use crate::{Error, Result};

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

/// Whose field a call names, for the error messages.
#[derive(Clone, Copy)]
enum Owner {
    Group,
    Player(u32),
}

impl Owner {
    fn get_raw(self, name: &str) -> Result<String> {
        let got = match self {
            Owner::Group => raw::group_get(name),
            Owner::Player(id) => raw::player_get(id, name),
        };
        got.map_err(|reason| Error::new(format_args!("cannot read {}: {reason}", self.field(name))))
    }

    fn set_raw(self, name: &str, json: &str) -> Result<()> {
        let set = match self {
            Owner::Group => raw::group_set(name, json),
            Owner::Player(id) => raw::player_set(id, name, json),
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

/// Displays as ``group field `max_bid` `` or ``field `bids` of player 2``.
struct FieldName<'a> {
    owner: Owner,
    name: &'a str,
}

impl fmt::Display for FieldName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.owner {
            Owner::Group => write!(f, "group field `{}`", self.name),
            Owner::Player(id) => write!(f, "field `{}` of player {id}", self.name),
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
        /// group, or the call is not `live_method` (writes are refused elsewhere).
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

    fn owner(&self) -> Owner {
        Owner::Player(self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_read_well_in_errors() {
        assert_eq!(Owner::Group.field("max_bid").to_string(), "group field `max_bid`");
        assert_eq!(Owner::Player(2).field("bids").to_string(), "field `bids` of player 2");
    }
}
