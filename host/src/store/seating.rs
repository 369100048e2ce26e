//! Where a participant sits: their position in the session (1-based, the order of
//! [`crate::store::Session::participants`]) and, round by round, their group and id in group
//! ([`RoundSeating`]). How a round's groups are drawn is the session's [`Grouping`]:
//!
//! - `fixed`: by position for every round — positions `(g-1)·n + 1 ..= g·n` are group `g`,
//!   for groups of `n` players (oTree's default);
//! - `random`: every round a new random partition, ids included (oTree's `group_randomly()`);
//! - `random-keep-id`: every round new random groups, each player keeping the id in group
//!   its position gives (oTree's `group_randomly(fixed_id_in_group=True)`);
//! - `arrival`: groups form in arrival order on the round's first page, a wait page with
//!   `group_by_arrival_time` (see [`crate::server::flow`]); the groups formed so far are
//!   stored (`groupings`), and a participant not grouped yet has no seat.
//!
//! The random ones are drawn from the session's seed and the round alone, so one seed gives
//! the same groups, on any machine, and `stoa replay` needs nothing else.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::live::GroupKey;
use crate::store::database::Store;
use crate::store::error::StoreError;
use crate::store::records::Session;

/// How a session's groups are drawn each round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grouping {
    /// The same groups, by position, every round.
    #[default]
    Fixed,
    /// New random groups and ids every round.
    Random,
    /// New random groups every round; each player keeps its id in group.
    RandomKeepId,
    /// Groups form in arrival order on the first page of each round.
    Arrival,
}

impl Grouping {
    /// The name a manifest and an export use.
    pub fn name(self) -> &'static str {
        match self {
            Grouping::Fixed => "fixed",
            Grouping::Random => "random",
            Grouping::RandomKeepId => "random-keep-id",
            Grouping::Arrival => "arrival",
        }
    }
}

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

    /// Round `round`'s groups of `session` under a random `grouping`, drawn from its seed.
    fn random(session: &Session, round: u32, keep_id: bool) -> RoundSeating {
        let (n, ppg) = (session.participants.len() as u32, session.players_per_group.max(1));
        let mut draw = Draw::new(session, round);
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
    fn new(session: &Session, round: u32) -> Draw {
        let mut h = Sha256::new();
        h.update(b"stoa grouping v1\0");
        h.update(session.seed.to_le_bytes());
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

/// Above this many sessions' seatings the cache is emptied, so finished sessions do not pile up.
const CACHE_SESSIONS: usize = 1024;

impl Store {
    /// Who sits where in round `round` of `session`: drawn (and kept) for the drawn
    /// groupings, read from the groups formed so far when they form by arrival.
    pub fn seating(&self, session: &Session, round: u32) -> Result<Arc<RoundSeating>, StoreError> {
        if let Some(known) = self.known_seating(&session.code, round) {
            return Ok(known);
        }
        let n = session.participants.len() as u32;
        let seating = Arc::new(match session.grouping {
            Grouping::Fixed => RoundSeating::fixed(n, session.players_per_group),
            Grouping::Random => RoundSeating::random(session, round, false),
            Grouping::RandomKeepId => RoundSeating::random(session, round, true),
            Grouping::Arrival => RoundSeating::of_groups(n, self.formed_groups(&session.code, round)?),
        });
        self.keep_seating(&session.code, round, seating.clone());
        Ok(seating)
    }

    fn known_seating(&self, code: &str, round: u32) -> Option<Arc<RoundSeating>> {
        self.seatings.lock().unwrap_or_else(|e| e.into_inner()).get(code)?.get(&round).cloned()
    }

    fn keep_seating(&self, code: &str, round: u32, seating: Arc<RoundSeating>) {
        let mut known = self.seatings.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() > CACHE_SESSIONS && !known.contains_key(code) {
            known.clear();
        }
        known.entry(code.to_string()).or_default().insert(round, seating);
    }

    /// [`Store::seating`] of the session with code `code`; `None` when there is no such session.
    pub fn seating_of(&self, code: &str, round: u32) -> Result<Option<Arc<RoundSeating>>, StoreError> {
        if let Some(known) = self.known_seating(code, round) {
            return Ok(Some(known));
        }
        match self.session(code)? {
            Some(session) => self.seating(&session, round).map(Some),
            None => Ok(None),
        }
    }

    /// The position in its session of player `id_in_group` of `group` (groups of `players`
    /// when the session is unknown: fixed).
    pub(crate) fn position_of(&self, group: &GroupKey, id_in_group: u32, players: u32) -> Result<Option<u32>, StoreError> {
        Ok(match self.seating_of(&group.session, group.round)? {
            Some(seating) => seating.position(group.group, id_in_group),
            None => Some(position(group.group, id_in_group, players)),
        })
    }

    /// Where the participant at `position` of `session` sat in `round`: their group's key and
    /// id (fixed in groups of `players` when the session is unknown); none while not grouped.
    pub(crate) fn seat_in_round(&self, session: &str, round: u32, position: u32, players: u32) -> Result<Option<(GroupKey, u32)>, StoreError> {
        let seat = match self.seating_of(session, round)? {
            Some(seating) => seating.seat(position),
            None => Some(seat(position, players)),
        };
        Ok(seat.map(|(group, id)| (GroupKey { session: session.to_string(), round, group }, id)))
    }

    /// The groups formed by arrival so far in round `round` of session `code`.
    fn formed_groups(&self, code: &str, round: u32) -> Result<Vec<Vec<u32>>, StoreError> {
        match self.groupings.get(grouping_key(code, round))? {
            None => Ok(Vec::new()),
            Some(v) => {
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt { key: format!("groupings/{code}/{round}"), reason: e.to_string() })
            }
        }
    }

    /// Forms the next group of round `round` of `session` (grouped by arrival) from
    /// `positions`, in id order; its group number. The caller serializes formations.
    pub(crate) fn form_group(&self, session: &Session, round: u32, positions: Vec<u32>) -> Result<u32, StoreError> {
        let mut groups = self.formed_groups(&session.code, round)?;
        groups.push(positions);
        let number = groups.len() as u32;
        let encoded = serde_json::to_vec(&groups).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.groupings.insert(grouping_key(&session.code, round), encoded)?;
        self.keep_seating(&session.code, round, Arc::new(RoundSeating::of_groups(session.participants.len() as u32, groups)));
        Ok(number)
    }
}

fn grouping_key(code: &str, round: u32) -> Vec<u8> {
    let mut key = code.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&round.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(grouping: Grouping, seed: u64, n: u32, ppg: u32) -> Session {
        Session {
            code: "s".into(),
            game: "g".into(),
            players_per_group: ppg,
            participants: (0..n).map(|i| i.to_string()).collect(),
            created_ms: 0,
            treatment: None,
            config: serde_json::Map::new(),
            seed,
            grouping,
        }
    }

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
        let s = session(Grouping::Random, 7, 12, 3);
        let one = RoundSeating::random(&s, 1, false);
        assert_eq!(one, RoundSeating::random(&s, 1, false), "the same seed and round give the same groups");
        assert_ne!(one, RoundSeating::random(&s, 2, false), "another round, other groups");
        assert_ne!(one, RoundSeating::random(&session(Grouping::Random, 8, 12, 3), 1, false), "another seed, other groups");
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
        let s = session(Grouping::RandomKeepId, 7, 12, 3);
        let shuffled = (1..=5).map(|r| RoundSeating::random(&s, r, true)).collect::<Vec<_>>();
        for seating in &shuffled {
            for p in 1..=12 {
                assert_eq!(seating.seat(p).map(|(_, id)| id), Some(seat(p, 3).1));
            }
        }
        assert!(shuffled.iter().any(|s| *s != RoundSeating::fixed(12, 3)), "groups change");
    }
}
