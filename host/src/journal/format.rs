//! The journal's on-disk format, whole: segment names, the segment header, records.
//!
//! A segment is `NNNNNNNNNNNNNNNN.log` (its number, 16 digits): the header ([`MAGIC`], then
//! the [`Version`] as u32 LE), then records `[len u32 LE][crc32 u32 LE][key len u32 LE][key]
//! [value]` (len and crc of what follows them). A zero length ends the records: segments are
//! written as zeros before records go in, and no record has length 0. Segments written before
//! there was a header start with their first record ([`Version::Legacy`]): the magic cannot
//! begin one (read as a length, its first four bytes are over a gigabyte).

/// A segment's file name: its number, 16 digits, then `.log`.
pub(crate) fn file_name(number: u64) -> String {
    format!("{number:016}.log")
}

/// The number of the segment named `name`, or None if `name` is not a segment's.
pub(crate) fn segment_number(name: &str) -> Option<u64> {
    name.strip_suffix(".log")?.parse().ok()
}

/// The first bytes of every segment with a header.
pub(crate) const MAGIC: [u8; 8] = *b"STOAJRNL";

/// The header's length: [`MAGIC`] and the version.
pub(crate) const HEADER_LEN: usize = MAGIC.len() + 4;

/// The versions of the segment format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    /// No header: records from the first byte (segments written before headers).
    Legacy,
    /// The header, then records.
    V1,
}

impl Version {
    /// The version new segments are written in.
    pub(crate) const CURRENT: Version = Version::V1;

    /// The number a header gives the version (a legacy segment has no header).
    const fn number(self) -> u32 {
        match self {
            Version::Legacy => 0,
            Version::V1 => 1,
        }
    }

    /// The version a header names, if this server knows it.
    fn from_number(number: u32) -> Option<Version> {
        (number == Version::V1.number()).then_some(Version::V1)
    }
}

/// The header of a segment written now (in [`Version::CURRENT`]).
pub(crate) fn header() -> [u8; HEADER_LEN] {
    let mut header = [0; HEADER_LEN];
    header[..MAGIC.len()].copy_from_slice(&MAGIC);
    header[MAGIC.len()..].copy_from_slice(&Version::CURRENT.number().to_le_bytes());
    header
}

/// A segment whose header names a version this server does not know (a newer one wrote it):
/// replaying it by the rules of another version could lose or invent records.
#[derive(Debug, thiserror::Error)]
#[error("format version {0}, which this server does not know")]
pub(crate) struct UnknownVersion(pub(crate) u32);

/// Why the records of a segment end before its bytes do: the first torn or corrupt record,
/// at byte `at` of the segment. Replay keeps the records before it (a crash in the middle of a
/// write tears only records no caller was told were durable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Corruption {
    /// The bytes end inside the record.
    #[error("a record torn at byte {at}")]
    Torn { at: usize },
    /// The record's checksum does not match its bytes.
    #[error("a record failing its checksum at byte {at}")]
    Checksum { at: usize },
    /// The record's key runs past its end (its checksum matched).
    #[error("a malformed record at byte {at}")]
    Malformed { at: usize },
}

/// One record: key and value.
pub(crate) type Record<'a> = (&'a [u8], &'a [u8]);

/// A segment's records.
#[derive(Debug)]
pub(crate) struct Contents<'a> {
    /// Up to the end of the records or to `corruption`.
    pub(crate) records: Vec<Record<'a>>,
    /// The torn or corrupt record that ended them, if one did.
    pub(crate) corruption: Option<Corruption>,
}

/// A segment's version: the one its header names, or [`Version::Legacy`] without one.
pub(crate) fn version(bytes: &[u8]) -> Result<Version, UnknownVersion> {
    match bytes.get(..HEADER_LEN) {
        Some(header) if header[..MAGIC.len()] == MAGIC => {
            let number = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
            Version::from_number(number).ok_or(UnknownVersion(number))
        }
        _ => Ok(Version::Legacy),
    }
}

/// Reads a segment's bytes: its records, after the header of its version.
pub(crate) fn read(bytes: &[u8]) -> Result<Contents<'_>, UnknownVersion> {
    let start = match version(bytes)? {
        Version::Legacy => 0,
        Version::V1 => HEADER_LEN,
    };
    let (records, corruption) = decode(bytes, start);
    Ok(Contents { records, corruption })
}

/// A record too long for its length field (a u32): refused before anything is written, where
/// a cast would store a wrapped length and replay would read garbage after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a journal record of {bytes} bytes is above the format's limit of {} bytes", u32::MAX)]
pub(crate) struct TooLong {
    /// The record's length (key, value and the key's length).
    pub(crate) bytes: u64,
}

/// The lengths a record of a `key_len`-byte key and a `value_len`-byte value stores: its body
/// and its key, each as a u32, or why they do not fit.
pub(crate) fn lengths(key_len: usize, value_len: usize) -> Result<(u32, u32), TooLong> {
    let body = 4u64.saturating_add(key_len as u64).saturating_add(value_len as u64);
    let too_long = || TooLong { bytes: body };
    Ok((u32::try_from(body).map_err(|_| too_long())?, u32::try_from(key_len).map_err(|_| too_long())?))
}

/// Appends one record to `out`; one too long for the format leaves `out` as it was.
pub(crate) fn encode(out: &mut Vec<u8>, key: &[u8], value: &[u8]) -> Result<(), TooLong> {
    let (body_len, key_len) = lengths(key.len(), value.len())?;
    let start = out.len();
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&key_len.to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// The records in `bytes` from byte `at`, up to their end (a zero length, or the end of the
/// bytes) or the first torn or corrupt one.
pub(crate) fn decode(bytes: &[u8], mut at: usize) -> (Vec<Record<'_>>, Option<Corruption>) {
    let mut records = Vec::new();
    while let Some(left) = bytes.get(at..).filter(|left| !left.is_empty()) {
        let Some((head, rest)) = left.split_first_chunk::<8>() else {
            // Fewer bytes than a record's head: the end, if they are a prepared segment's zeros.
            return (records, left.iter().any(|&b| b != 0).then_some(Corruption::Torn { at }));
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len == 0 {
            return (records, None);
        }
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let Some(body) = rest.get(..len) else { return (records, Some(Corruption::Torn { at })) };
        if crc32fast::hash(body) != crc {
            return (records, Some(Corruption::Checksum { at }));
        }
        let Some((key_len, key_and_value)) = body.split_first_chunk::<4>() else {
            return (records, Some(Corruption::Malformed { at }));
        };
        let key_len = u32::from_le_bytes(*key_len) as usize;
        let Some(key) = key_and_value.get(..key_len) else { return (records, Some(Corruption::Malformed { at })) };
        records.push((key, &key_and_value[key_len..]));
        at += 8 + len;
    }
    (records, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_or_corrupt_tail_ends_the_replay() {
        let mut bytes = Vec::new();
        encode(&mut bytes, b"k1", b"v1").expect("fits");
        encode(&mut bytes, b"", b"").expect("fits");
        encode(&mut bytes, b"key-3", &[7; 1000]).expect("fits");
        let (records, corruption) = decode(&bytes, 0);
        assert!(corruption.is_none());
        assert_eq!(records.len(), 3);
        assert_eq!(records[0], (&b"k1"[..], &b"v1"[..]));
        assert_eq!(records[2].1.len(), 1000);
        // Cut anywhere inside the last record: the first two remain.
        for cut in [bytes.len() - 1, bytes.len() - 500, bytes.len() - 1010] {
            let (records, corruption) = decode(&bytes[..cut], 0);
            assert_eq!(corruption, Some(Corruption::Torn { at: 28 }), "cut at {cut}");
            assert_eq!(records.len(), 2, "cut at {cut}");
        }
        // A flipped bit in the second record: only the first remains.
        let mut bad = bytes.clone();
        bad[18 + 9] ^= 1;
        let (records, corruption) = decode(&bad, 0);
        assert_eq!(corruption, Some(Corruption::Checksum { at: 16 }));
        assert_eq!(records.len(), 1);
        // The zeros of a prepared segment end it cleanly, however many follow the records.
        for zeros in [1, 7, 8, 4096] {
            let mut padded = bytes.clone();
            padded.resize(bytes.len() + zeros, 0);
            let (records, corruption) = decode(&padded, 0);
            assert!(corruption.is_none(), "{zeros} zeros");
            assert_eq!(records.len(), 3, "{zeros} zeros");
        }
        // A torn record followed by zeros is still torn.
        let mut torn = bytes[..bytes.len() - 500].to_vec();
        torn.resize(torn.len() + 4096, 0);
        let (records, corruption) = decode(&torn, 0);
        assert!(corruption.is_some());
        assert_eq!(records.len(), 2);
    }

    #[test]
    fn a_record_whose_key_runs_past_its_end_is_malformed() {
        let mut bytes = Vec::new();
        encode(&mut bytes, b"key", b"value").expect("fits");
        // Claim a longer key, and give the record the checksum of what it now holds.
        bytes[8..12].copy_from_slice(&100u32.to_le_bytes());
        let crc = crc32fast::hash(&bytes[8..]);
        bytes[4..8].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&bytes, 0), (vec![], Some(Corruption::Malformed { at: 0 })));
    }

    /// A prepared segment holding `head`, the record `(key, value)`, then zeros.
    fn one_record(head: &[u8], key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut bytes = head.to_vec();
        encode(&mut bytes, key, value).expect("fits");
        bytes.resize(4096, 0);
        bytes
    }

    #[test]
    fn a_segment_with_the_header_is_read_past_it_in_its_version() {
        let bytes = one_record(&header(), b"k", b"v");
        assert_eq!(version(&bytes).expect("known"), Version::CURRENT);
        let contents = read(&bytes).expect("known version");
        assert_eq!((contents.records, contents.corruption), (vec![(&b"k"[..], &b"v"[..])], None));
        // Torn after the header: the offset counts the header.
        let contents = read(&bytes[..HEADER_LEN + 5]).expect("known version");
        assert_eq!(contents.corruption, Some(Corruption::Torn { at: HEADER_LEN }));
    }

    #[test]
    fn a_segment_without_the_header_is_read_as_the_legacy_version() {
        let bytes = one_record(&[], b"old", b"record");
        assert_eq!(version(&bytes).expect("known"), Version::Legacy);
        let contents = read(&bytes).expect("legacy");
        assert_eq!((contents.records, contents.corruption), (vec![(&b"old"[..], &b"record"[..])], None));
        // A prepared segment nothing was written to yet, of either version: no records.
        for empty in [vec![0; 4096], header().to_vec(), Vec::new()] {
            let contents = read(&empty).expect("known");
            assert!(contents.records.is_empty() && contents.corruption.is_none());
        }
    }

    #[test]
    fn a_header_of_an_unknown_version_is_refused() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&7u32.to_le_bytes());
        assert_eq!(read(&bytes).expect_err("unknown").0, 7);
        assert_eq!(version(&bytes).expect_err("unknown").0, 7);
    }

    #[test]
    fn a_record_over_4_gib_is_refused_not_wrapped() {
        // At the limit: stored as it is.
        assert_eq!(lengths(4, u32::MAX as usize - 8), Ok((u32::MAX, 4)));
        // One byte over, and far over (a cast would store 0 and 4 here): refused.
        assert_eq!(lengths(0, u32::MAX as usize - 3), Err(TooLong { bytes: u64::from(u32::MAX) + 1 }));
        assert_eq!(lengths(0, (4usize << 30) - 4), Err(TooLong { bytes: 4 << 30 }));
        let refused = lengths(usize::MAX, 1).expect_err("a key over the limit").to_string();
        assert!(refused.contains("above the format's limit of 4294967295 bytes"), "{refused}");
    }

    #[test]
    fn segment_names_are_their_numbers() {
        assert_eq!(file_name(42), "0000000000000042.log");
        assert_eq!(segment_number(&file_name(42)), Some(42));
        assert_eq!(segment_number("db"), None);
        assert_eq!(segment_number("notes.log"), None);
    }
}
