//! The `fields` imports the SDK calls, in one place: `stoa:game@0.2.0`'s, as generated.

pub(crate) use crate::wit::stoa::game::fields::{
    group_get, group_get_in_round, group_set, group_set_in, participant_get, participant_set, player_get, player_get_in_round, player_set,
    round_groups, session_get, session_set,
};
