//! [`Recorded`]: what a replay reads of a session — its record (codes, size, config, seed,
//! grouping), the groups it formed by arrival, the provenance kept at its creation, and every
//! group's call entries — from a data folder
//! ([`Recorded::from_store`]) or from a bundle's JSON export ([`Recorded::from_export`]).

use serde::Deserialize;
use serde_json::Value;

use crate::live::{CallEntry, GroupKey};
use crate::store::{Grouping, Provenance, Session, Store};

/// A session as its log recorded it.
#[derive(Debug)]
pub struct Recorded {
    /// The session's record (its `created_ms` is not used by any call).
    pub session: Session,
    /// What its game was loaded from when it was made (none for sessions made before).
    pub provenance: Option<Provenance>,
    /// Each group's call entries in order, groups in (round, group) order: each round's
    /// group 0 (its `creating-session` call) first.
    pub groups: Vec<(GroupKey, Vec<CallEntry>)>,
    /// A session grouping by arrival: each round's groups as they formed; a replay forms
    /// them again before the calls made in them.
    pub formed: Vec<Formed>,
}

/// A round and its groups as they formed: positions in id order, group 1 first.
pub(crate) type Formed = (u32, Vec<Vec<u32>>);

impl Recorded {
    /// Every call of the session.
    pub fn calls(&self) -> u64 {
        self.groups.iter().map(|(_, calls)| calls.len() as u64).sum()
    }

    /// Session `code` as the store holds it (a store opened afresh: the server stopped).
    pub fn from_store(store: &Store, code: &str) -> Result<Recorded, String> {
        let session = store.session(code).map_err(|e| e.to_string())?.ok_or_else(|| format!("the data folder has no session `{code}`"))?;
        let provenance = store.provenance(code).map_err(|e| e.to_string())?;
        let mut groups = Vec::new();
        for key in store.logged_groups(code).map_err(|e| e.to_string())? {
            let calls = store.calls(&key).map_err(|e| e.to_string())?;
            groups.push((key, calls));
        }
        let mut formed = Vec::new();
        if session.grouping == Grouping::Arrival {
            let rounds = groups.iter().map(|(key, _)| key.round).max().unwrap_or(0);
            for round in 1..=rounds {
                formed.push((round, store.seating(&session, round).map_err(|e| e.to_string())?.groups().to_vec()));
            }
        }
        Ok(Recorded { session, provenance, groups, formed })
    }

    /// The session of a JSON export that holds its provenance and seed (a bundle's).
    pub fn from_export(export: &[u8]) -> Result<Recorded, String> {
        let e: Export = serde_json::from_slice(export).map_err(|e| format!("the export is not a session's JSON export: {e}"))?;
        let provenance = e.provenance.ok_or("the export has no `provenance`: it was not written by a Stoa that records it")?;
        let seed = provenance.seed.as_deref().ok_or("the export has no seed (`provenance.seed`): download it as a bundle, or with ?seed=1")?;
        let seed = seed.parse::<u64>().map_err(|_| format!("`provenance.seed` is not a number: {seed:?}"))?;
        let s = provenance.session;
        let participants: Vec<String> = e.participants.into_iter().map(|p| p.code).collect();
        if s.players_per_group == 0 || participants.is_empty() || !participants.len().is_multiple_of(s.players_per_group as usize) {
            return Err(format!(
                "the export's {} participant(s) do not make groups of {} (`provenance.session.players_per_group`)",
                participants.len(),
                s.players_per_group
            ));
        }
        let session = Session {
            code: e.session,
            game: e.game,
            players_per_group: s.players_per_group,
            participants,
            created_ms: 0,
            treatment: s.treatment,
            config: s.config,
            seed,
            grouping: s.grouping,
        };
        let formed = match session.grouping {
            Grouping::Arrival => formed_groups(&session, &e.rounds)?,
            _ => Vec::new(),
        };
        let mut groups: Vec<(GroupKey, Vec<CallEntry>)> =
            e.live_log.into_iter().map(|g| (GroupKey { session: session.code.clone(), round: g.round, group: g.group }, g.calls)).collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let recorded = provenance.recorded.then_some(provenance.game);
        Ok(Recorded { session, provenance: recorded, groups, formed })
    }
}

/// The groups an export's `rounds` list (participants by code) as positions in `session`.
fn formed_groups(session: &Session, rounds: &[ExportRound]) -> Result<Vec<Formed>, String> {
    let position = |code: &str| {
        session
            .participants
            .iter()
            .position(|c| c == code)
            .map(|i| i as u32 + 1)
            .ok_or_else(|| format!("the export's rounds name `{code}`, who is not one of its participants"))
    };
    rounds
        .iter()
        .map(|r| {
            let groups = r.groups.iter().map(|g| g.players.iter().map(|p| position(&p.participant)).collect::<Result<Vec<u32>, String>>());
            Ok((r.round, groups.collect::<Result<Vec<_>, String>>()?))
        })
        .collect()
}

/// The parts of a JSON export a replay reads.
#[derive(Deserialize)]
struct Export {
    session: String,
    game: String,
    participants: Vec<ExportParticipant>,
    provenance: Option<ExportProvenance>,
    live_log: Vec<ExportGroup>,
    #[serde(default)]
    rounds: Vec<ExportRound>,
}

/// A round of the export: its groups' players, in id order.
#[derive(Deserialize)]
struct ExportRound {
    round: u32,
    groups: Vec<ExportRoundGroup>,
}

#[derive(Deserialize)]
struct ExportRoundGroup {
    players: Vec<ExportPlayer>,
}

#[derive(Deserialize)]
struct ExportPlayer {
    participant: String,
}

#[derive(Deserialize)]
struct ExportParticipant {
    code: String,
}

/// The export's `provenance` block: the game's [`Provenance`] and the session's settings.
#[derive(Deserialize)]
struct ExportProvenance {
    #[serde(flatten)]
    game: Provenance,
    /// Whether `game` was kept at the session's creation (else it is the game loaded at export).
    recorded: bool,
    session: ExportSession,
    seed: Option<String>,
}

#[derive(Deserialize)]
struct ExportSession {
    players_per_group: u32,
    /// Sessions exported before groupings were: fixed.
    #[serde(default)]
    grouping: Grouping,
    treatment: Option<String>,
    config: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct ExportGroup {
    round: u32,
    group: u32,
    calls: Vec<CallEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(provenance: &str) -> String {
        format!(
            r#"{{"session":"S","game":"g","participants":[{{"code":"a"}},{{"code":"b"}}],"provenance":{provenance},"live_log":[{{"round":1,"group":1,"calls":[]}},{{"round":1,"group":0,"calls":[]}}]}}"#
        )
    }

    fn provenance(seed: &str, players: u32) -> String {
        format!(
            r#"{{"component":"c.wasm","component_sha256":"00","manifest":"","templates":[],"host":{{"version":"0","commit":"x"}},"wasmtime":"48","recorded":true,"session":{{"players_per_group":{players},"treatment":null,"config":{{}}}}{seed}}}"#
        )
    }

    #[test]
    fn an_export_gives_its_session_seed_and_groups_in_order_and_is_refused_without_what_a_replay_needs() {
        let r = Recorded::from_export(export(&provenance(r#","seed":"18446744073709551615""#, 2)).as_bytes()).expect("an export");
        assert_eq!(r.session.seed, u64::MAX, "a seed as text keeps all 64 bits");
        assert_eq!(r.session.participants, ["a", "b"]);
        assert_eq!(r.groups.iter().map(|(k, _)| k.group).collect::<Vec<_>>(), [0, 1], "each round's group 0 first");
        assert!(r.provenance.is_some());
        let refused = |text: String| Recorded::from_export(text.as_bytes()).expect_err("refused");
        assert!(refused(export(&provenance("", 2))).contains("has no seed"));
        assert!(refused(export(&provenance(r#","seed":"x""#, 2))).contains("is not a number"));
        assert!(refused(export(&provenance(r#","seed":"1""#, 3))).contains("do not make groups of 3"));
        assert!(refused(export("null")).contains("has no `provenance`"));
        assert!(refused("[]".into()).starts_with("the export is not a session's JSON export"));
    }
}
