//! Each session's seating, round by round, as the store keeps it: drawn from the session's
//! seed (and kept in a cache) or read from the groups formed by arrival (tree `groupings`);
//! how groups are drawn is [`crate::store::seating`].

use std::sync::Arc;

use crate::live::GroupKey;
use crate::manifest::Grouping;
use crate::store::database::Store;
use crate::store::error::StoreError;
use crate::store::records::Session;
use crate::store::seating::{self, RoundSeating};

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
            Grouping::Random => RoundSeating::random(session.seed, n, session.players_per_group, round, false),
            Grouping::RandomKeepId => RoundSeating::random(session.seed, n, session.players_per_group, round, true),
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
    fn seating_of(&self, code: &str, round: u32) -> Result<Option<Arc<RoundSeating>>, StoreError> {
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
            None => Some(seating::position(group.group, id_in_group, players)),
        })
    }

    /// Where the participant at `position` of `session` sat in `round`: their group's key and
    /// id (fixed in groups of `players` when the session is unknown); none while not grouped.
    pub(crate) fn seat_in_round(&self, session: &str, round: u32, position: u32, players: u32) -> Result<Option<(GroupKey, u32)>, StoreError> {
        let seat = match self.seating_of(session, round)? {
            Some(seating) => seating.seat(position),
            None => Some(seating::seat(position, players)),
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
