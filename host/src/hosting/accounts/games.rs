//! Researchers' uploaded games: each version kept whole by the SHA-256 of its archive, and
//! the game keys `owner/name@version` sessions record.

use serde::{Deserialize, Serialize};

use super::{AccountError, Accounts, sha256_hex};
use crate::store::{decode, encode, now_ms};

/// Hex digits of the content hash in a game key.
pub const VERSION_DIGITS: usize = 16;

/// One uploaded version of a game.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// Hex SHA-256 of the archive.
    pub hash: String,
    /// Bytes of the archive.
    pub bytes: u64,
    /// Upload time, ms since the Unix epoch.
    pub uploaded_ms: u64,
}

impl Version {
    /// The short form used in game keys and by `"version"` in requests.
    pub fn short(&self) -> &str {
        &self.hash[..VERSION_DIGITS.min(self.hash.len())]
    }
}

/// A researcher's game: its versions, oldest first (the last is the newest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GameRecord {
    /// The researcher.
    pub owner: String,
    /// The manifest's name.
    pub name: String,
    /// Uploads, oldest first.
    pub versions: Vec<Version>,
}

impl GameRecord {
    /// The version named by `wanted` (a prefix of its hash, at least 8 digits), or the newest.
    pub fn version(&self, wanted: Option<&str>) -> Result<&Version, AccountError> {
        match wanted {
            None => self.versions.last().ok_or_else(|| AccountError::NotFound(format!("game `{}` has no version", self.name))),
            Some(v) if v.len() < 8 => Err(AccountError::Invalid(format!("version `{v}`: give at least 8 hex digits of its hash"))),
            Some(v) => self.versions.iter().rev().find(|x| x.hash.starts_with(v)).ok_or_else(|| {
                let known: Vec<&str> = self.versions.iter().map(Version::short).collect();
                AccountError::NotFound(format!("game `{}` has no version `{v}`; its versions: {}", self.name, known.join(", ")))
            }),
        }
    }

    /// The game key of `version`.
    pub fn key(&self, version: &Version) -> String {
        game_key(&self.owner, &self.name, version.short())
    }
}

/// `owner/name@version`.
pub fn game_key(owner: &str, name: &str, version: &str) -> String {
    format!("{owner}/{name}@{version}")
}

/// `(owner, name, version)` of a hosted game key; `None` for an operator's game (a plain name).
pub fn parse_key(key: &str) -> Option<(&str, &str, &str)> {
    let (owner, rest) = key.split_once('/')?;
    let (name, version) = rest.split_once('@')?;
    Some((owner, name, version))
}

impl Accounts {
    /// `owner`'s game `name`.
    pub fn game(&self, owner: &str, name: &str) -> Result<Option<GameRecord>, AccountError> {
        let key = format!("{owner}/{name}");
        Ok(self.games.get(&key)?.map(|v| decode(key.as_bytes(), &v)).transpose()?)
    }

    /// Every game of `owner` (every researcher's when `None`), by owner and name.
    pub fn games(&self, owner: Option<&str>) -> Result<Vec<GameRecord>, AccountError> {
        let prefix = owner.map(|o| format!("{o}/")).unwrap_or_default();
        self.games.scan_prefix(prefix).map(|kv| kv.map_err(AccountError::from).and_then(|(k, v)| Ok(decode(&k, &v)?))).collect()
    }

    /// Bytes of `owner`'s kept archives (each version counted once).
    pub fn stored_bytes(&self, owner: &str) -> Result<u64, AccountError> {
        Ok(self.games(Some(owner))?.iter().flat_map(|g| &g.versions).map(|v| v.bytes).sum())
    }

    /// Records `archive` as the newest version of `owner`'s game `name`. An archive already
    /// uploaded (same hash) becomes the newest again without being stored twice. A new one
    /// must fit in `limit` bytes of `owner`'s uploads (`AccountError::Quota` otherwise).
    /// Returns the record and whether the version is new.
    pub fn put_version(&self, owner: &str, name: &str, archive: &[u8], limit: u64) -> Result<(GameRecord, Version, bool), AccountError> {
        let _one = self.write_lock()?;
        let hash = sha256_hex(archive);
        if !self.has_version(owner, &hash)? {
            self.fits(owner, archive.len() as u64, limit)?;
        }
        let mut record = self.game(owner, name)?.unwrap_or_else(|| GameRecord { owner: owner.into(), name: name.into(), versions: Vec::new() });
        let existing = record.versions.iter().position(|v| v.hash == hash);
        let version = match existing {
            Some(i) => record.versions.remove(i),
            None => Version { hash: hash.clone(), bytes: archive.len() as u64, uploaded_ms: now_ms() },
        };
        if !self.packages.contains_key(&hash)? {
            self.packages.insert(hash.as_bytes(), archive)?;
        }
        record.versions.push(version.clone());
        self.games.insert(format!("{owner}/{name}"), encode(&record))?;
        Ok((record, version, existing.is_none()))
    }

    /// Deletes version `version` (8+ hex digits) of `owner`'s game `name`, unless
    /// `in_use(key)` says a session records it (its pages and exports need it): then
    /// `AccountError::Exists`. The archive itself goes when no game holds it any more.
    /// Returns the deleted version's key.
    pub fn delete_version(&self, owner: &str, name: &str, version: &str, in_use: impl Fn(&str) -> bool) -> Result<String, AccountError> {
        let _one = self.write_lock()?;
        let mut record = self.game(owner, name)?.ok_or_else(|| AccountError::NotFound(format!("no game `{name}`")))?;
        let found = record.version(Some(version))?.clone();
        let key = record.key(&found);
        if in_use(&key) {
            return Err(AccountError::Exists(format!(
                "version {} of `{name}` is kept: a session runs it (its pages and exports need it)",
                found.short()
            )));
        }
        record.versions.retain(|v| v.hash != found.hash);
        if record.versions.is_empty() {
            self.games.remove(format!("{owner}/{name}"))?;
        } else {
            self.games.insert(format!("{owner}/{name}"), encode(&record))?;
        }
        if !self.games(None)?.iter().flat_map(|g| &g.versions).any(|v| v.hash == found.hash) {
            self.packages.remove(found.hash.as_bytes())?;
        }
        Ok(key)
    }

    /// Whether `owner` uploaded the archive with hash `hash` (any game).
    pub fn has_version(&self, owner: &str, hash: &str) -> Result<bool, AccountError> {
        Ok(self.games(Some(owner))?.iter().flat_map(|g| &g.versions).any(|v| v.hash == hash))
    }

    /// Ok when `bytes` more fit in `owner`'s stored-bytes quota `limit`.
    pub fn fits(&self, owner: &str, bytes: u64, limit: u64) -> Result<(), AccountError> {
        let stored = self.stored_bytes(owner)?;
        if stored.saturating_add(bytes) > limit {
            return Err(AccountError::Quota(format!(
                "quota: researcher `{owner}` may keep {limit} bytes of uploads and has {stored}; this archive of {bytes} bytes does not fit"
            )));
        }
        Ok(())
    }

    /// The archive with hash `hash` (full hex, or the short form of a game key).
    pub fn package(&self, owner: &str, name: &str, version: &str) -> Result<Option<Vec<u8>>, AccountError> {
        let Some(record) = self.game(owner, name)? else { return Ok(None) };
        let Some(v) = record.versions.iter().find(|v| v.hash.starts_with(version)) else { return Ok(None) };
        Ok(self.packages.get(&v.hash)?.map(|b| b.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn accounts() -> Accounts {
        Accounts::open(&Store::temporary().expect("store")).expect("accounts")
    }

    #[test]
    fn versions_are_kept_by_hash_and_the_newest_is_last() {
        let a = accounts();
        let (_, v1, new1) = a.put_version("alice", "g", b"one", 100).expect("put");
        let (_, v2, _) = a.put_version("alice", "g", b"two!", 100).expect("put");
        let (record, again, new_again) = a.put_version("alice", "g", b"one", 100).expect("put");
        assert!(new1 && !new_again);
        assert_eq!(again.hash, v1.hash);
        assert_eq!(record.version(None).expect("newest").hash, v1.hash, "a re-upload is the newest again");
        assert_eq!(record.version(Some(&v2.hash[..8])).expect("named").hash, v2.hash);
        assert_eq!(a.stored_bytes("alice").expect("bytes"), 7);
        assert!(matches!(a.put_version("alice", "g", b"three", 11), Err(AccountError::Quota(_))), "7 + 5 > 11");
        assert!(a.put_version("alice", "g", b"two!", 7).is_ok(), "a known archive costs nothing");
        assert_eq!(a.package("alice", "g", v2.short()).expect("package").as_deref(), Some(&b"two!"[..]));
        let used = v2.short().to_string();
        assert!(matches!(a.delete_version("alice", "g", &used, |k| k.ends_with(&used)), Err(AccountError::Exists(_))));
        a.delete_version("alice", "g", &used, |_| false).expect("delete");
        assert_eq!(a.stored_bytes("alice").expect("bytes"), 3, "only `one` is left");
        assert_eq!(a.package("alice", "g", &used).expect("package"), None);
        assert_eq!(parse_key(&record.key(&v2)), Some(("alice", "g", v2.short())));
        assert_eq!(parse_key("auction"), None);
    }
}
