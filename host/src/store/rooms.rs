//! [`Rooms`]: the `rooms` tree — rooms (a link `/room/{name}` that outlives sessions), the
//! session open in each, and which participant each arrival was given.
//!
//! Keys: `r/{name}` → [`Room`]; `n/{session}` → the index of the session's next free
//! participant (u32, big-endian); `s/{session}/{label}` → the participant code a label was
//! given; `l/{participant}` → that participant's label. An arrival is seated in one sled
//! transaction (the label's seat, the cursor and the reverse label together), so two at once
//! never get one participant and a crash never leaves a label half given.

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::clock::now_ms;
use crate::store::{Session, Store, StoreError, decode, encode};

/// Labels a room may list (a lab's guest list, or a cohort of an online panel).
pub const MAX_LABELS: usize = 10_000;
/// Characters of a participant label: Prolific's ids are 24, MTurk's 12–14.
pub const MAX_LABEL_CHARS: usize = 100;
/// Characters of a room name, which is part of its link.
pub const MAX_NAME_CHARS: usize = 64;
/// Characters of a room's display name.
pub const MAX_DISPLAY_CHARS: usize = 200;

/// A room: a link that never changes, the labels it admits, and the session open in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Room {
    /// The name in its link, `/room/{name}`.
    pub name: String,
    /// What participants and the admin pages show.
    pub display_name: String,
    /// The researcher it belongs to; `None`: the operator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The labels admitted, in the order given; empty: anyone with the link.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The session open in the room, which arrivals join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: u64,
}

/// Why a room request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    /// A bad name, display name or label list; the text says which and why.
    #[error("{0}")]
    Invalid(String),
    /// A room with that name exists.
    #[error("{0}")]
    Exists(String),
    /// No such room.
    #[error("{0}")]
    NotFound(String),
    /// The room holds an open session already (one session per room, as in oTree).
    #[error("{0}")]
    Busy(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where an arrival was seated.
#[derive(Debug, Clone, PartialEq)]
pub enum Seat {
    /// The participant this label was given before (a refresh, another device).
    Again(String),
    /// The session's next free participant, given now.
    New(String),
    /// Every participant of the session is taken.
    Full,
}

/// Whether `name` may name a room: 1–64 of `A-Z a-z 0-9 _ -`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!("bad room name `{}`: use 1 to {MAX_NAME_CHARS} letters, digits, `_` or `-`, starting with a letter or digit", shown(name)))
    }
}

/// Whether `label` may be a participant label: 1–100 of `A-Z a-z 0-9 _ - . @` (every one of
/// them safe in a URL's query and a CSV cell, so a label never needs escaping where it goes).
pub fn check_label(label: &str) -> Result<(), String> {
    let ok =
        !label.is_empty() && label.len() <= MAX_LABEL_CHARS && label.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(format!("bad participant label `{}`: use 1 to {MAX_LABEL_CHARS} letters, digits, `_`, `-`, `.` or `@`", shown(label)))
    }
}

/// At most 40 characters of what was sent, for an error message.
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() { format!("{cut}…") } else { cut }
}

/// A new room, checked: its name, display name (default: the name) and labels (no duplicate,
/// at most [`MAX_LABELS`]).
pub fn new_room(name: &str, display_name: Option<&str>, labels: Vec<String>, owner: Option<String>) -> Result<Room, RoomError> {
    check_name(name).map_err(RoomError::Invalid)?;
    let display_name = display_name.map(str::trim).filter(|d| !d.is_empty()).unwrap_or(name).to_string();
    if display_name.chars().count() > MAX_DISPLAY_CHARS || display_name.chars().any(char::is_control) {
        return Err(RoomError::Invalid(format!("bad display name: at most {MAX_DISPLAY_CHARS} characters, none of them control characters")));
    }
    if labels.len() > MAX_LABELS {
        return Err(RoomError::Invalid(format!("too many labels: {} given, a room takes at most {MAX_LABELS}", labels.len())));
    }
    let mut seen = std::collections::HashSet::new();
    for (line, label) in labels.iter().enumerate() {
        check_label(label).map_err(|why| RoomError::Invalid(format!("label {}: {why}", line + 1)))?;
        if !seen.insert(label.as_str()) {
            return Err(RoomError::Invalid(format!("label {}: `{label}` is listed twice", line + 1)));
        }
    }
    Ok(Room { name: name.to_string(), display_name, owner, labels, session: None, created_ms: now_ms() })
}

/// Labels from text with one per line (a pasted list, a file): trimmed, blank lines skipped.
pub fn labels_from_lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// The `rooms` tree.
#[derive(Debug, Clone)]
pub struct Rooms {
    tree: sled::Tree,
}

fn room_key(name: &str) -> String {
    format!("r/{name}")
}

fn next_key(session: &str) -> String {
    format!("n/{session}")
}

fn seat_key(session: &str, label: &str) -> String {
    format!("s/{session}/{label}")
}

fn label_key(participant: &str) -> String {
    format!("l/{participant}")
}

impl Rooms {
    /// The rooms of `store`.
    pub fn open(store: &Store) -> Result<Rooms, StoreError> {
        Ok(Rooms { tree: store.tree("rooms")? })
    }

    /// Adds `room`, unless its name is taken.
    pub fn add(&self, room: &Room) -> Result<(), RoomError> {
        let key = room_key(&room.name);
        match self.tree.compare_and_swap(key.as_bytes(), None as Option<&[u8]>, Some(encode(room))).map_err(StoreError::from)? {
            Ok(()) => Ok(()),
            Err(_) => Err(RoomError::Exists(format!("a room named `{}` exists already", room.name))),
        }
    }

    /// The room named `name`.
    pub fn get(&self, name: &str) -> Result<Option<Room>, StoreError> {
        let key = room_key(name);
        self.tree.get(key.as_bytes())?.map(|v| decode(key.as_bytes(), &v)).transpose()
    }

    /// Every room, by name.
    pub fn list(&self) -> Result<Vec<Room>, StoreError> {
        self.tree
            .scan_prefix(b"r/")
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }

    /// Opens `session` in room `name`, unless one is open there already.
    pub fn open_session(&self, name: &str, session: &str) -> Result<Room, RoomError> {
        self.update(name, |room| match &room.session {
            Some(open) => Err(RoomError::Busy(format!("room `{name}` holds session `{open}`: close it first (POST /api/rooms/{name}/close)"))),
            None => {
                room.session = Some(session.to_string());
                Ok(())
            }
        })
    }

    /// Closes the room's session (it goes on for those in it; new arrivals wait for the next).
    pub fn close_session(&self, name: &str) -> Result<Room, RoomError> {
        self.update(name, |room| {
            room.session = None;
            Ok(())
        })
    }

    /// Changes room `name` with `change`, atomically.
    fn update(&self, name: &str, change: impl Fn(&mut Room) -> Result<(), RoomError>) -> Result<Room, RoomError> {
        let key = room_key(name);
        loop {
            let Some(old) = self.tree.get(key.as_bytes()).map_err(StoreError::from)? else {
                return Err(RoomError::NotFound(format!("no room `{name}`")));
            };
            let mut room: Room = decode(key.as_bytes(), &old)?;
            change(&mut room)?;
            if self.tree.compare_and_swap(key.as_bytes(), Some(&old), Some(encode(&room))).map_err(StoreError::from)?.is_ok() {
                return Ok(room);
            }
        }
    }

    /// Seats an arrival in `session`: the participant `label` was given before, else the next
    /// free one (given to `label` for good). Durable once the store is flushed.
    pub fn seat(&self, session: &Session, label: Option<&str>) -> Result<Seat, StoreError> {
        let next = next_key(&session.code);
        let seat = label.map(|l| seat_key(&session.code, l));
        let result = self.tree.transaction(|t| {
            if let Some(seat) = &seat
                && let Some(code) = t.get(seat.as_bytes())?
            {
                return Ok(Seat::Again(String::from_utf8_lossy(&code).into_owned()));
            }
            let index = t.get(next.as_bytes())?.and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok()).map_or(0, u32::from_be_bytes);
            let Some(code) = session.participants.get(index as usize) else { return Ok(Seat::Full) };
            t.insert(next.as_bytes(), &(index + 1).to_be_bytes())?;
            if let (Some(seat), Some(label)) = (&seat, label) {
                t.insert(seat.as_bytes(), code.as_bytes())?;
                t.insert(label_key(code).as_bytes(), label.as_bytes())?;
            }
            Ok::<_, ConflictableTransactionError<()>>(Seat::New(code.clone()))
        });
        match result {
            Ok(seat) => Ok(seat),
            Err(TransactionError::Storage(e)) => Err(e.into()),
            Err(TransactionError::Abort(())) => Err(StoreError::Invalid("seating was aborted".into())),
        }
    }

    /// Participants of `session` seated so far (those given a label and those without).
    pub fn seated(&self, session: &str) -> Result<u32, StoreError> {
        Ok(self.tree.get(next_key(session))?.and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok()).map_or(0, u32::from_be_bytes))
    }

    /// The label participant `code` was given, if any.
    pub fn label_of(&self, code: &str) -> Result<Option<String>, StoreError> {
        Ok(self.tree.get(label_key(code))?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The label of each of `session`'s participants, in order.
    pub fn labels_of(&self, session: &Session) -> Result<Vec<Option<String>>, StoreError> {
        session.participants.iter().map(|code| self.label_of(code)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(store: &Store, n: u32) -> Session {
        let manifest = crate::manifest::Manifest::parse(
            std::path::Path::new("t/game.toml"),
            "name = \"t\"\nplayers_per_group = 1\ncomponent = \"x.wasm\"\n[[page]]\nname = \"A\"\ntemplate = \"A.hbs\"\n",
        )
        .expect("manifest");
        store.create_session(&manifest, n).expect("session").0
    }

    #[test]
    fn a_label_keeps_its_participant_and_arrivals_take_the_next_free_one_until_full() {
        let store = Store::temporary().expect("store");
        let rooms = Rooms::open(&store).expect("rooms");
        let s = session(&store, 2);
        let first = rooms.seat(&s, Some("A1")).expect("seat");
        assert_eq!(first, Seat::New(s.participants[0].clone()));
        assert_eq!(rooms.seat(&s, Some("A1")).expect("seat"), Seat::Again(s.participants[0].clone()));
        assert_eq!(rooms.seat(&s, None).expect("seat"), Seat::New(s.participants[1].clone()));
        assert_eq!(rooms.seat(&s, Some("B2")).expect("seat"), Seat::Full);
        assert_eq!(rooms.seat(&s, Some("A1")).expect("seat"), Seat::Again(s.participants[0].clone()), "a full session still resumes");
        assert_eq!(rooms.labels_of(&s).expect("labels"), vec![Some("A1".to_string()), None]);
        assert_eq!(rooms.seated(&s.code).expect("seated"), 2);
    }

    #[test]
    fn names_and_labels_are_refused_naming_what_is_wrong() {
        assert!(check_name("econ101").is_ok() && check_name("lab_2-b").is_ok());
        for bad in ["", "-x", "a/b", "ä", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_label("5f3a9c0e1b2d4e6f7a8b9c0d").is_ok() && check_label("dana@lab.example").is_ok());
        for bad in ["", "a b", "a&b=c", "<script>", "a\nb", &"x".repeat(101)] {
            assert!(check_label(bad).is_err(), "{bad}");
        }
        let twice = new_room("r", None, vec!["A".into(), "B".into(), "A".into()], None).expect_err("duplicate").to_string();
        assert_eq!(twice, "label 3: `A` is listed twice");
        let many = new_room("r", None, (0..=MAX_LABELS).map(|i| format!("L{i}")).collect(), None).expect_err("too many").to_string();
        assert!(many.starts_with("too many labels: 10001 given"), "{many}");
        assert_eq!(new_room("r", Some("  "), vec![], None).expect("room").display_name, "r");
        assert_eq!(labels_from_lines("A1\r\n\n  A2  \n"), vec!["A1".to_string(), "A2".to_string()]);
    }

    #[test]
    fn a_room_holds_one_session_at_a_time_and_a_name_once() {
        let store = Store::temporary().expect("store");
        let rooms = Rooms::open(&store).expect("rooms");
        let room = new_room("econ101", Some("Econ 101"), vec![], None).expect("room");
        rooms.add(&room).expect("added");
        assert!(matches!(rooms.add(&room), Err(RoomError::Exists(_))));
        rooms.open_session("econ101", "s1").expect("open");
        let busy = rooms.open_session("econ101", "s2").expect_err("busy").to_string();
        assert!(busy.contains("holds session `s1`"), "{busy}");
        assert_eq!(rooms.close_session("econ101").expect("closed").session, None);
        assert_eq!(rooms.open_session("econ101", "s2").expect("open").session.as_deref(), Some("s2"));
        assert!(matches!(rooms.open_session("nope", "s"), Err(RoomError::NotFound(_))));
        assert_eq!(rooms.list().expect("list").len(), 1);
    }
}
