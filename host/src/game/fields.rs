//! `impl fields::Host`: a game's reads and writes of its fields — the group's, its players',
//! their participants' and the session's — and, in `creating-session`, of the whole round.
//!
//! Reads see committed values plus this call's own writes; writes stay in the call's overlay
//! ([`CallState::writes`]) until the call commits them with its log entry (a live call, a
//! page hook) or the session's creation stores them. Nothing leaves a store whose call
//! failed, so a trap or an `err` rolls back by construction.

use crate::game::bindings::v0_1::stoa::game::fields as fields_v0_1;
use crate::game::bindings::v0_2::stoa::game::fields;
use crate::game::json::{raw_json, shorten};
use crate::game::state::{CallState, Mode, Owner, Write};
use crate::live::GroupKey;
use crate::manifest::{FieldSpec, FieldType, Manifest};

/// Why creating-session cannot write a group's or a player's fields of a game grouping by arrival.
const NO_GROUPS_YET: &str =
    "this game's groups form by arrival time, so creating-session has no groups or players yet: write participant or session fields";

/// Which of the manifest's field tables a field is declared in.
#[derive(Clone, Copy)]
enum Table {
    Group,
    Player,
    Participant,
    Session,
}

impl Table {
    fn section(self) -> &'static str {
        match self {
            Table::Group => "group",
            Table::Player => "player",
            Table::Participant => "participant",
            Table::Session => "session",
        }
    }
}

/// The declaration of field `name` of `table` in `m`, or the err naming what is missing.
fn spec<'m>(m: &'m Manifest, table: Table, name: &str) -> Result<&'m FieldSpec, String> {
    let fields = match table {
        Table::Group => &m.group_fields,
        Table::Player => &m.player_fields,
        Table::Participant => &m.participant_fields,
        Table::Session => &m.session_fields,
    };
    fields.get(name).ok_or_else(|| format!("no {} field `{name}` in game.toml ([{}.fields])", table.section(), table.section()))
}

impl CallState {
    /// The key of `owner`'s field `name`, where this call may read or write it.
    fn key(&self, owner: Owner, name: &str) -> Result<Vec<u8>, String> {
        let g = &self.group;
        if let Mode::Creating(c) = &self.mode {
            // The whole round: players and participants by position in the session.
            return match owner {
                Owner::Group => {
                    Err("creating-session runs for the whole round, not one group: write a group's fields with fields.group-set-in".into())
                }
                Owner::GroupIn(id) => {
                    let groups = c.seating.groups().len() as u32;
                    if id == 0 || id > groups {
                        return Err(match groups {
                            0 => NO_GROUPS_YET.into(),
                            _ => format!("group {id} is not in this round (groups 1..={groups})"),
                        });
                    }
                    Ok(GroupKey { session: g.session.clone(), round: c.round, group: id }.group_field(name))
                }
                Owner::Player(position) => {
                    self.position(position)?;
                    let (group, id) = c.seating.seat(position).ok_or(NO_GROUPS_YET)?;
                    Ok(GroupKey { session: g.session.clone(), round: c.round, group }.player_field(id, name))
                }
                Owner::Participant(position) => {
                    self.position(position)?;
                    Ok(GroupKey::creation(&g.session).participant_field(position, name))
                }
                Owner::Session => Ok(g.session_field(name)),
            };
        }
        match owner {
            Owner::Group => Ok(g.group_field(name)),
            Owner::Player(id) => self.player_in_group(id).map(|()| g.player_field(id, name)),
            Owner::Participant(id) => self.player_in_group(id).map(|()| g.participant_field(id, name)),
            Owner::Session => Ok(g.session_field(name)),
            Owner::GroupIn(_) => Err(only_in_creating_session("fields.group-set-in")),
        }
    }

    /// Field `name` of `owner`: this call's write, else the committed value, else its initial one.
    fn get(&self, owner: Owner, table: Table, name: &str) -> Result<String, String> {
        let spec = spec(&self.manifest, table, name)?;
        let key = self.key(owner, name)?;
        if let Some(w) = self.writes.get(&key) {
            return Ok(w.value.get().to_string());
        }
        if let Mode::Creating(c) = &self.mode
            && let Some(v) = c.earlier.get(&key)
        {
            return Ok(v.get().to_string());
        }
        let committed = match owner {
            // A participant's value may come from any earlier round, or from the creation.
            Owner::Participant(id) if !matches!(self.mode, Mode::Creating(_)) => self.store.participant_record(&self.group, self.players, id, name),
            _ => self.store.field_record(&self.group, &key),
        };
        match committed {
            Ok(Some(v)) => Ok(String::from_utf8_lossy(&v).into_owned()),
            Ok(None) => Ok(spec.initial.clone()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// `group`'s committed value of field `key`, or its initial value.
    fn read_committed(&self, group: &GroupKey, key: &[u8], spec: &FieldSpec) -> Result<String, String> {
        match self.store.field_record(group, key) {
            Ok(Some(v)) => Ok(String::from_utf8_lossy(&v).into_owned()),
            Ok(None) => Ok(spec.initial.clone()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Writes `value` to `owner`'s field `name` in this call's overlay, checked against its
    /// declaration and the limits; `what` names the host function for the log.
    fn set(&mut self, owner: Owner, table: Table, name: &str, value: String, what: &str) -> Result<(), String> {
        let result = self.try_set(owner, table, name, value);
        result.map_err(|r| self.refused(what, r))
    }

    fn try_set(&mut self, owner: Owner, table: Table, name: &str, value: String) -> Result<(), String> {
        // Named only when a write is refused: no allocation on the path that succeeds.
        let what = || match owner {
            Owner::Group | Owner::GroupIn(_) | Owner::Session => format!("{} field `{name}`", table.section()),
            Owner::Player(id) | Owner::Participant(id) => format!("{} field `{name}` of player {id}", table.section()),
        };
        match (&self.mode, owner) {
            (Mode::Live, Owner::Session) => return Err(only_in_creating_session("fields.session-set")),
            (Mode::Live | Mode::Creating(_), _) => {}
            (Mode::ReadOnly(export), _) => {
                return Err(format!(
                    "fields are read-only in {export}; write them in live-method, before-next-page, after-all-players-arrive or creating-session"
                ));
            }
            (Mode::Bot(_), _) => {
                return Err("fields are read-only in call-live-method; bots change them through bot-driver.live-method".into());
            }
        }
        let manifest = self.manifest.clone();
        let spec = spec(&manifest, table, name)?;
        let key = self.key(owner, name)?;
        let cap = self.limits.field_bytes;
        if value.len() > cap {
            return Err(format!("value of {} is {} bytes, above the limit of {cap} bytes", what(), value.len()));
        }
        // The call's other writes (each field's last value) and this one.
        let total = self.writes.iter().filter(|(k, _)| **k != key).map(|(_, w)| w.value.get().len()).sum::<usize>() + value.len();
        let call_cap = self.limits.call_write_bytes;
        if total > call_cap {
            return Err(format!(
                "writing {} would bring this call's field writes to {total} bytes, above the limit of {call_cap} bytes (limits.call_write_bytes)",
                what()
            ));
        }
        if spec.ty != FieldType::Json {
            match serde_json::from_str::<serde_json::Value>(&value) {
                Err(e) => return Err(format!("value of {} is not JSON: {e}", what())),
                Ok(v) if !spec.ty.accepts(&v) => return Err(format!("{} is {}, and {} is not", what(), spec.ty, shorten(&value, 60))),
                Ok(_) => {}
            }
        }
        let value = raw_json(value).map_err(|e| format!("value of {} is not JSON: {e}", what()))?;
        self.writes.insert(key, Write { owner, name: name.to_string(), value });
        Ok(())
    }

    /// The calling group as it was in `round`, an earlier round (read-only).
    fn in_round(&self, round: u32) -> Result<GroupKey, String> {
        if matches!(self.mode, Mode::Creating(_)) {
            return Err("creating-session has no earlier rounds to read".into());
        }
        let now = self.group.round;
        if round == 0 || round >= now {
            return Err(match now {
                1 => format!("round {round} is not an earlier round: this is round 1"),
                _ => format!("round {round} is not an earlier round: this is round {now}, earlier ones are 1..={}", now - 1),
            });
        }
        Ok(GroupKey { round, ..self.group.clone() })
    }

    fn player_in_group(&self, id: u32) -> Result<(), String> {
        if id == 0 || id > self.players {
            return Err(format!("player {id} is not in this group (ids 1..={})", self.players));
        }
        Ok(())
    }

    /// In creating-session: a participant's position in the session.
    fn position(&self, position: u32) -> Result<(), String> {
        if position == 0 || position > self.players {
            return Err(format!(
                "no participant at position {position}: in creating-session players are the session's positions 1..={}",
                self.players
            ));
        }
        Ok(())
    }
}

impl fields_v0_1::Host for CallState {
    fn group_get(&mut self, name: String) -> Result<String, String> {
        self.get(Owner::Group, Table::Group, &name)
    }

    fn group_set(&mut self, name: String, value: String) -> Result<(), String> {
        self.set(Owner::Group, Table::Group, &name, value, "fields.group-set")
    }

    fn player_get(&mut self, id_in_group: u32, name: String) -> Result<String, String> {
        self.get(Owner::Player(id_in_group), Table::Player, &name)
    }

    fn player_set(&mut self, id_in_group: u32, name: String, value: String) -> Result<(), String> {
        self.set(Owner::Player(id_in_group), Table::Player, &name, value, "fields.player-set")
    }
}

/// What `creating-session` alone may do, refused elsewhere.
fn only_in_creating_session(what: &str) -> String {
    format!("{what} is only available in creating-session")
}

impl fields::Host for CallState {
    fn group_get(&mut self, name: String) -> Result<String, String> {
        fields_v0_1::Host::group_get(self, name)
    }

    fn group_set(&mut self, name: String, value: String) -> Result<(), String> {
        fields_v0_1::Host::group_set(self, name, value)
    }

    fn player_get(&mut self, id_in_group: u32, name: String) -> Result<String, String> {
        fields_v0_1::Host::player_get(self, id_in_group, name)
    }

    fn player_set(&mut self, id_in_group: u32, name: String, value: String) -> Result<(), String> {
        fields_v0_1::Host::player_set(self, id_in_group, name, value)
    }

    fn participant_get(&mut self, id_in_group: u32, name: String) -> Result<String, String> {
        self.get(Owner::Participant(id_in_group), Table::Participant, &name)
    }

    fn participant_set(&mut self, id_in_group: u32, name: String, value: String) -> Result<(), String> {
        self.set(Owner::Participant(id_in_group), Table::Participant, &name, value, "fields.participant-set")
    }

    fn session_get(&mut self, name: String) -> Result<String, String> {
        self.get(Owner::Session, Table::Session, &name)
    }

    fn session_set(&mut self, name: String, value: String) -> Result<(), String> {
        self.set(Owner::Session, Table::Session, &name, value, "fields.session-set")
    }

    fn group_get_in_round(&mut self, round: u32, name: String) -> Result<String, String> {
        let group = self.in_round(round)?;
        let spec = spec(&self.manifest, Table::Group, &name)?;
        self.read_committed(&group, &group.group_field(&name), spec)
    }

    /// The same participant's player in an earlier round (oTree's `player.in_round`): with
    /// regrouping, in another group and at another id.
    fn player_get_in_round(&mut self, round: u32, id_in_group: u32, name: String) -> Result<String, String> {
        self.player_in_group(id_in_group)?;
        self.in_round(round)?;
        let spec = spec(&self.manifest, Table::Player, &name)?;
        let (session, players) = (&self.group.session, self.players);
        let position = self.store.position_of(&self.group, id_in_group, players).map_err(|e| e.to_string())?;
        let seat = match position {
            Some(position) => self.store.seat_in_round(session, round, position, players).map_err(|e| e.to_string())?,
            None => None,
        };
        match seat {
            Some((group, id)) => self.read_committed(&group, &group.player_field(id, &name), spec),
            None => Ok(spec.initial.clone()),
        }
    }

    /// Each group's positions in the session, in id order; outside creating-session there is
    /// no round to list: empty.
    fn round_groups(&mut self) -> Vec<Vec<u32>> {
        match &self.mode {
            Mode::Creating(c) => c.seating.groups().to_vec(),
            _ => Vec::new(),
        }
    }

    fn group_set_in(&mut self, group_id: u32, name: String, value: String) -> Result<(), String> {
        if !matches!(self.mode, Mode::Creating(_)) {
            return Err(self.refused("fields.group-set-in", only_in_creating_session("fields.group-set-in")));
        }
        self.set(Owner::GroupIn(group_id), Table::Group, &name, value, "fields.group-set-in")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::limits::Limits;
    use crate::live::GroupKey;
    use crate::manifest::Manifest;
    use crate::store::Store;

    #[test]
    fn writes_past_the_call_total_are_an_err_naming_the_limit() {
        let toml = "name = 'g'\nplayers_per_group = 2\nnum_rounds = 1\ncomponent = 'g.wasm'\n\
                    [group.fields]\na = { type = 'json' }\nb = { type = 'json' }\nc = { type = 'json' }\n\
                    [[page]]\nname = 'P'\ntemplate = 'P.hbs'\n";
        let manifest = Manifest::parse(std::path::Path::new("game.toml"), toml).expect("manifest");
        let limits = Limits { field_bytes: 100, call_write_bytes: 250, ..Limits::DEFAULT };
        let key = GroupKey { session: "s".into(), round: 1, group: 1 };
        let store = Store::temporary().expect("store");
        let mut state = CallState::new(Arc::new(manifest), limits, store, key, 2, Mode::Live);
        let value = |n: usize| format!("\"{}\"", "x".repeat(n - 2));
        fields::Host::group_set(&mut state, "a".into(), value(100)).expect("100 of 250");
        fields::Host::group_set(&mut state, "b".into(), value(100)).expect("200 of 250");
        // Writing `a` again replaces its value: the total counts each field's last value.
        fields::Host::group_set(&mut state, "a".into(), value(50)).expect("150 of 250");
        fields::Host::group_set(&mut state, "c".into(), value(100)).expect("250 of 250");
        let refused = fields::Host::group_set(&mut state, "a".into(), value(51)).expect_err("251 of 250");
        assert!(refused.contains("251 bytes, above the limit of 250 bytes (limits.call_write_bytes)") && refused.contains("`a`"), "{refused}");
        // The refused write left the call's writes as they were.
        assert_eq!(fields::Host::group_get(&mut state, "a".into()).expect("read"), value(50));
    }

    #[test]
    fn earlier_rounds_are_read_and_later_ones_refused() {
        let toml = "name = 'g'\nplayers_per_group = 2\nnum_rounds = 3\ncomponent = 'g.wasm'\n\
                    [group.fields]\na = { type = 'integer', initial = 0 }\n[player.fields]\nb = { type = 'integer', initial = 0 }\n\
                    [[page]]\nname = 'P'\ntemplate = 'P.hbs'\n";
        let manifest = Arc::new(Manifest::parse(std::path::Path::new("game.toml"), toml).expect("manifest"));
        let store = Store::temporary().expect("store");
        let (session, _) = store.create_session(&manifest, 2).expect("session");
        let round = |r: u32| GroupKey { session: session.code.clone(), round: r, group: 1 };
        // Round 1 ends with a = 5 and player 2's b = 7.
        let mut group = store.group(round(1), 2).expect("group");
        let mut writes = crate::live::FieldWrites::default();
        writes.group.insert("a".into(), raw_json("5".into()).expect("json"));
        writes.players.entry(2).or_default().insert("b".into(), raw_json("7".into()).expect("json"));
        store.commit_call(crate::clock::now_ms(), &mut group, "P", 1, raw_json("{}".into()).expect("json"), writes, Vec::new()).expect("commit");
        let mut state = CallState::new(manifest, Limits::DEFAULT, store, round(2), 2, Mode::Live);
        assert_eq!(fields::Host::group_get_in_round(&mut state, 1, "a".into()).as_deref(), Ok("5"));
        assert_eq!(fields::Host::player_get_in_round(&mut state, 1, 2, "b".into()).as_deref(), Ok("7"));
        assert_eq!(fields::Host::player_get_in_round(&mut state, 1, 1, "b".into()).as_deref(), Ok("0"));
        // This round's own value is not an earlier round's.
        fields::Host::group_set(&mut state, "a".into(), "9".into()).expect("write");
        assert_eq!(fields::Host::group_get_in_round(&mut state, 1, "a".into()).as_deref(), Ok("5"));
        for r in [0, 2, 3] {
            let refused = fields::Host::group_get_in_round(&mut state, r, "a".into()).expect_err("not earlier");
            assert!(refused.contains("earlier ones are 1..=1"), "{refused}");
        }
        assert!(fields::Host::player_get_in_round(&mut state, 1, 3, "b".into()).is_err(), "player 3 is not in the group");
        assert!(fields::Host::group_get_in_round(&mut state, 1, "zz".into()).is_err(), "no such field");
    }
}
