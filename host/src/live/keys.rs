//! The key scheme of the `live` tree: every record of a group starts with a [`Tag`] (one byte)
//! and the group's key body (`session \0 round group`, see [`GroupKey::prefix`]), so one
//! group's records of one kind are one contiguous range.
//!
//! - `C` + group + call number (u64 BE) → the call's entry, or a run of entries ending with
//!   it ([`crate::live::entry`]);
//! - `A` + group → the number of the last call whose effects are materialized (the marker);
//! - `G` + group + field name → a group field's current value;
//! - `P` + group + id in group (u32 BE) + field name → a player field's current value;
//! - `Q` + group + id in group (u32 BE) + field name → the value a call of this group (this
//!   round) gave a field of that player's participant. A participant's field is the value of
//!   its latest round that wrote it ([`crate::store::Store::participant_field`]), or the one
//!   `creating-session` gave it, kept under the session's round-0 key with the participant's
//!   position ([`GroupKey::creation`]): a group's writes stay in its own range, so they are
//!   committed, cached and recovered like its other fields;
//! - `S` + session + `\0` + field name → a session field's value (written at creation only).

/// The kind of a record in the `live` tree: its key's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Tag {
    /// A call entry, or a run of them, keyed by its (last) call number.
    Call = b'C',
    /// The group's marker: the last call applied to its field values.
    Applied = b'A',
    /// A group field's value.
    GroupField = b'G',
    /// A player field's value.
    PlayerField = b'P',
    /// A participant field's value as a group's call (or the session's creation) wrote it.
    ParticipantField = b'Q',
    /// A session field's value.
    SessionField = b'S',
}

impl Tag {
    /// The tag's byte, as keys begin with it.
    pub(crate) const fn byte(self) -> u8 {
        self as u8
    }

    /// The key `tag + body`: a group's record of this kind, from the key body of a record of
    /// another kind.
    pub(crate) fn with_body(self, body: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(body.len() + 1);
        k.push(self.byte());
        k.extend_from_slice(body);
        k
    }
}

/// Identifies a group: its session, round and number. Groups are formed per round.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// Session code.
    pub session: String,
    /// 1-based round.
    pub round: u32,
    /// 1-based group number within the round.
    pub group: u32,
}

impl GroupKey {
    /// The key prefix of one kind of record (`tag`) of this group in the `live` tree.
    pub(crate) fn prefix(&self, tag: Tag) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.session.len() + 10);
        k.push(tag.byte());
        k.extend_from_slice(self.session.as_bytes());
        k.push(0);
        k.extend_from_slice(&self.round.to_be_bytes());
        k.extend_from_slice(&self.group.to_be_bytes());
        k
    }

    /// The group of a key body (`session \0 round group`, the prefix without its tag).
    pub(crate) fn from_body(body: &[u8]) -> Option<GroupKey> {
        let zero = body.iter().position(|&b| b == 0)?;
        let rest = body.get(zero + 1..)?;
        if rest.len() != 8 {
            return None;
        }
        Some(GroupKey {
            session: String::from_utf8(body[..zero].to_vec()).ok()?,
            round: u32::from_be_bytes(rest[..4].try_into().ok()?),
            group: u32::from_be_bytes(rest[4..].try_into().ok()?),
        })
    }

    /// The key of call `call`'s entry (or of the run of entries ending with it).
    pub(crate) fn call(&self, call: u64) -> Vec<u8> {
        numbered(&self.prefix(Tag::Call), call)
    }

    /// The key of the group's marker.
    pub(crate) fn marker(&self) -> Vec<u8> {
        self.prefix(Tag::Applied)
    }

    /// The key of a group field.
    pub(crate) fn group_field(&self, name: &str) -> Vec<u8> {
        let mut k = self.prefix(Tag::GroupField);
        k.extend_from_slice(name.as_bytes());
        k
    }

    /// The key of a player field.
    pub(crate) fn player_field(&self, id_in_group: u32, name: &str) -> Vec<u8> {
        let mut k = self.prefix(Tag::PlayerField);
        k.extend_from_slice(&id_in_group.to_be_bytes());
        k.extend_from_slice(name.as_bytes());
        k
    }

    /// The key of the value this group gave a participant field of its player `id_in_group`.
    pub(crate) fn participant_field(&self, id_in_group: u32, name: &str) -> Vec<u8> {
        let mut k = self.prefix(Tag::ParticipantField);
        k.extend_from_slice(&id_in_group.to_be_bytes());
        k.extend_from_slice(name.as_bytes());
        k
    }

    /// The session's creation as a group (round 0, group 0): its participant field values
    /// are kept by position in the session (1-based) in place of an id in group.
    pub(crate) fn creation(session: &str) -> GroupKey {
        GroupKey { session: session.to_string(), round: 0, group: 0 }
    }

    /// The key of a session field of this group's session.
    pub(crate) fn session_field(&self, name: &str) -> Vec<u8> {
        let mut k = Tag::SessionField.with_body(self.session.as_bytes());
        k.push(0);
        k.extend_from_slice(name.as_bytes());
        k
    }
}

impl std::fmt::Display for GroupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session {} round {} group {}", self.session, self.round, self.group)
    }
}

/// `prefix` followed by `n` (u64 BE): a call key from its group's `C` prefix.
pub(crate) fn numbered(prefix: &[u8], n: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// The call number at the end of a `C` key.
pub(crate) fn call_of(key: &[u8]) -> Option<u64> {
    key.len().checked_sub(8).and_then(|at| key[at..].try_into().ok()).map(u64::from_be_bytes)
}

/// A `C` key split into its group's prefix (tag and body) and its call number; `None` for a
/// key of another kind or too short to hold a number after its tag.
pub(crate) fn split_call(key: &[u8]) -> Option<(&[u8], u64)> {
    if key.first() != Some(&Tag::Call.byte()) || key.len() < 9 {
        return None;
    }
    let (prefix, _) = key.split_at(key.len() - 8);
    Some((prefix, call_of(key)?))
}
