//! The `fields` imports the SDK calls, in one place.
//!
//! The SDK still builds against `wit/0.1` (the host does not link 0.2 yet), which has only
//! the group's and players' four functions; the imports that `stoa:game@0.2.0` adds are
//! stand-ins here that refuse with [`NEEDS_0_2`], so the typed API above them can be written
//! and tested now. Moving the SDK to `wit/` replaces the stand-ins with the real imports.

pub(crate) use crate::wit::stoa::game::fields::{group_get, group_set, player_get, player_set};

/// What a 0.2 import answers while the SDK builds against 0.1.
pub(crate) const NEEDS_0_2: &str = "this component is built for stoa:game@0.1.0, which has no such import (0.2 adds it)";

pub(crate) fn participant_get(_id_in_group: u32, _name: &str) -> Result<String, String> {
    Err(NEEDS_0_2.to_string())
}

pub(crate) fn participant_set(_id_in_group: u32, _name: &str, _value: &str) -> Result<(), String> {
    Err(NEEDS_0_2.to_string())
}

pub(crate) fn session_get(_name: &str) -> Result<String, String> {
    Err(NEEDS_0_2.to_string())
}

pub(crate) fn session_set(_name: &str, _value: &str) -> Result<(), String> {
    Err(NEEDS_0_2.to_string())
}

pub(crate) fn group_get_in_round(_round: u32, _name: &str) -> Result<String, String> {
    Err(NEEDS_0_2.to_string())
}

pub(crate) fn player_get_in_round(_round: u32, _id_in_group: u32, _name: &str) -> Result<String, String> {
    Err(NEEDS_0_2.to_string())
}

pub(crate) fn round_groups() -> Vec<Vec<u32>> {
    Vec::new()
}

pub(crate) fn group_set_in(_group_id: u32, _name: &str, _value: &str) -> Result<(), String> {
    Err(NEEDS_0_2.to_string())
}
