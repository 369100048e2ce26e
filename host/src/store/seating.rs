//! Where a participant sits: their position in the session (1-based, the order of
//! [`crate::store::Session::participants`]) and their group and id in a round. Groups are
//! fixed by position for every round: positions `(g-1)·n + 1 ..= g·n` are group `g`, for
//! groups of `n` players.

/// The group and id in group of the participant at `position`, in groups of `players`.
pub(crate) fn seat(position: u32, players: u32) -> (u32, u32) {
    let players = players.max(1);
    let index = position.saturating_sub(1);
    (index / players + 1, index % players + 1)
}

/// The position in the session of player `id_in_group` of group `group`, in groups of `players`.
pub(crate) fn position(group: u32, id_in_group: u32, players: u32) -> u32 {
    group.saturating_sub(1).saturating_mul(players).saturating_add(id_in_group)
}

/// Each group's positions, group 1 first, for `participants` in groups of `players`.
pub(crate) fn groups(participants: u32, players: u32) -> Vec<Vec<u32>> {
    let players = players.max(1);
    (0..participants / players).map(|g| (1..=players).map(|id| position(g + 1, id, players)).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seat_and_a_position_are_each_others_inverse() {
        for p in 1..=12 {
            let (group, id) = seat(p, 3);
            assert_eq!(position(group, id, 3), p);
        }
        assert_eq!(seat(4, 3), (2, 1));
        assert_eq!(groups(6, 3), vec![vec![1, 2, 3], vec![4, 5, 6]]);
    }
}
