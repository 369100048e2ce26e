//! Where a participant sits: their position in the session (1-based, the order of
//! [`crate::store::Session::participants`]) and, round by round, their group and id in group
//! ([`RoundSeating`]). How a round's groups are drawn is the session's [`Grouping`](crate::manifest::Grouping):
//!
//! - `fixed`: by position for every round — positions `(g-1)·n + 1 ..= g·n` are group `g`,
//!   for groups of `n` players (oTree's default);
//! - `random`: every round a new random partition, ids included (oTree's `group_randomly()`);
//! - `random-keep-id`: every round new random groups, each player keeping the id in group
//!   its position gives (oTree's `group_randomly(fixed_id_in_group=True)`);
//! - `arrival`: groups form in arrival order on the round's first page, a wait page with
//!   `group_by_arrival_time` (see `crate::server::flow`); the groups formed so far are
//!   stored (`groupings`), and a participant not grouped yet has no seat.
//!
//! The random ones are drawn from the session's seed and the round alone, so one seed gives
//! the same groups, on any machine, and `stoa replay` needs nothing else. This is the pure
//! part; `seatings` keeps each session's rounds (and the groups formed by arrival) in the store.

use sha2::{Digest, Sha256};

/// The group and id in group of the participant at `position` in the fixed grouping, in
/// groups of `players`.
pub(crate) fn seat(position: u32, players: u32) -> (u32, u32) {
    let players = players.max(1);
    let index = position.saturating_sub(1);
    (index / players + 1, index % players + 1)
}

/// The position of player `id_in_group` of group `group` in the fixed grouping, in groups
/// of `players`.
pub(crate) fn position(group: u32, id_in_group: u32, players: u32) -> u32 {
    group.saturating_sub(1).saturating_mul(players).saturating_add(id_in_group)
}

/// Who sits where in one round of a session: its groups (positions, in id order) and each
/// position's seat.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundSeating {
    groups: Vec<Vec<u32>>,
    /// By position − 1: `(group, id_in_group)`, `(0, 0)` while not grouped yet.
    seats: Vec<(u32, u32)>,
}

impl RoundSeating {
    /// A round whose groups are `groups` (positions in id order) among `participants`.
    pub(crate) fn of_groups(participants: u32, groups: Vec<Vec<u32>>) -> RoundSeating {
        let mut seats = vec![(0, 0); participants as usize];
        for (g, members) in groups.iter().enumerate() {
            for (i, &position) in members.iter().enumerate() {
                if let Some(seat) = seats.get_mut(position.saturating_sub(1) as usize) {
                    *seat = (g as u32 + 1, i as u32 + 1);
                }
            }
        }
        RoundSeating { groups, seats }
    }

    /// The fixed grouping of `participants` in groups of `players`.
    pub(crate) fn fixed(participants: u32, players: u32) -> RoundSeating {
        let players = players.max(1);
        let groups = (0..participants / players).map(|g| (1..=players).map(|id| position(g + 1, id, players)).collect()).collect();
        RoundSeating::of_groups(participants, groups)
    }

    /// Round `round`'s groups of `n` participants in groups of `ppg`, drawn from `seed`
    /// (`keep_id`: each keeps the id its position gives).
    pub(crate) fn random(seed: u64, n: u32, ppg: u32, round: u32, keep_id: bool) -> RoundSeating {
        let ppg = ppg.max(1);
        let mut draw = Draw::new(seed, round);
        let groups = if keep_id {
            // Each id's players (one per fixed group) shuffled across the groups.
            let count = n / ppg;
            let columns: Vec<Vec<u32>> = (1..=ppg)
                .map(|id| {
                    let mut column: Vec<u32> = (1..=count).map(|g| position(g, id, ppg)).collect();
                    draw.shuffle(&mut column);
                    column
                })
                .collect();
            (0..count as usize).map(|g| columns.iter().map(|c| c[g]).collect()).collect()
        } else {
            let mut all: Vec<u32> = (1..=n).collect();
            draw.shuffle(&mut all);
            all.chunks(ppg as usize).map(<[u32]>::to_vec).collect()
        };
        RoundSeating::of_groups(n, groups)
    }

    /// The group and id in group of the participant at `position`; none while not grouped.
    pub fn seat(&self, position: u32) -> Option<(u32, u32)> {
        self.seats.get(position.checked_sub(1)? as usize).copied().filter(|&(g, _)| g > 0)
    }

    /// The position of player `id_in_group` of group `group`.
    pub fn position(&self, group: u32, id_in_group: u32) -> Option<u32> {
        self.members(group).get(id_in_group.checked_sub(1)? as usize).copied()
    }

    /// Group `group`'s positions, in id order (none for a group not formed).
    pub fn members(&self, group: u32) -> &[u32] {
        group.checked_sub(1).and_then(|g| self.groups.get(g as usize)).map_or(&[], Vec::as_slice)
    }

    /// Each group's positions, group 1 first.
    pub fn groups(&self) -> &[Vec<u32>] {
        &self.groups
    }
}

/// A shuffle's random: SHA-256 in counter mode over the session's seed and the round (not
/// its code: two sessions given one seed draw the same groups).
struct Draw {
    key: [u8; 32],
    counter: u64,
}

impl Draw {
    fn new(seed: u64, round: u32) -> Draw {
        let mut h = Sha256::new();
        h.update(b"stoa grouping v1\0");
        h.update(seed.to_le_bytes());
        h.update(round.to_le_bytes());
        Draw { key: h.finalize().into(), counter: 0 }
    }

    /// A number below `bound` (> 0).
    fn below(&mut self, bound: u32) -> u32 {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(self.counter.to_le_bytes());
        self.counter += 1;
        let block: [u8; 32] = h.finalize().into();
        let mut x = [0; 8];
        x.copy_from_slice(&block[..8]);
        ((u128::from(u64::from_le_bytes(x)) * u128::from(bound)) >> 64) as u32
    }

    /// Fisher–Yates.
    fn shuffle(&mut self, items: &mut [u32]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u32 + 1) as usize;
            items.swap(i, j);
        }
    }
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
        assert_eq!(RoundSeating::fixed(6, 3).groups(), [vec![1, 2, 3], vec![4, 5, 6]]);
    }

    #[test]
    fn random_groups_are_a_partition_drawn_from_the_seed() {
        let one = RoundSeating::random(7, 12, 3, 1, false);
        assert_eq!(one, RoundSeating::random(7, 12, 3, 1, false), "the same seed and round give the same groups");
        assert_ne!(one, RoundSeating::random(7, 12, 3, 2, false), "another round, other groups");
        assert_ne!(one, RoundSeating::random(8, 12, 3, 1, false), "another seed, other groups");
        let mut all: Vec<u32> = one.groups().concat();
        all.sort_unstable();
        assert_eq!(all, (1..=12).collect::<Vec<_>>());
        for p in 1..=12 {
            let (g, id) = one.seat(p).expect("seated");
            assert_eq!(one.position(g, id), Some(p));
        }
    }

    #[test]
    fn random_keep_id_keeps_each_players_id() {
        let shuffled = (1..=5).map(|r| RoundSeating::random(7, 12, 3, r, true)).collect::<Vec<_>>();
        for seating in &shuffled {
            for p in 1..=12 {
                assert_eq!(seating.seat(p).map(|(_, id)| id), Some(seat(p, 3).1));
            }
        }
        assert!(shuffled.iter().any(|s| *s != RoundSeating::fixed(12, 3)), "groups change");
    }
}
