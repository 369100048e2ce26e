//! The journal's own tests: on files in a temporary folder, as a restart or a crash leaves
//! them, and on [`Mem`] where the disk must fail.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Journal;
use super::checkpoint::Checkpoint;
use super::error::{BoxError, FirstFailedWrite};
use super::format;
use super::segments::mem::Mem;
use super::segments::{Fs, Segments};
use super::writer::Sizes;

/// Tests: runs `open` again while it fails on sled's lock, which the IO threads of a database
/// just dropped (or a store let go on another thread) may hold for a moment; 10 s at most.
pub(crate) fn retry_while_locked<T, E: std::fmt::Display>(mut open: impl FnMut() -> Result<T, E>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open() {
            Ok(opened) => return opened,
            Err(e) if Instant::now() < deadline && e.to_string().contains("lock") => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("open: {e}"),
        }
    }
}

/// The store of these tests: a sled database, nothing staged.
struct FlushDb(sled::Db);

impl Checkpoint for FlushDb {
    fn write_staged(&self) -> Result<(), BoxError> {
        Ok(())
    }

    fn flush(&self) -> Result<(), BoxError> {
        self.0.flush()?;
        Ok(())
    }
}

/// Opens sled in `dir` and the journal on `segments`, replaying into the `live` tree.
fn open_on(dir: &Path, segments: Arc<dyn Segments>, sizes: Sizes) -> (sled::Db, sled::Tree, Journal, usize) {
    let db = retry_while_locked(|| sled::Config::new().path(dir.join("db")).flush_every_ms(None).open());
    let live = db.open_tree("live").expect("tree");
    let mut replay = |k: &[u8], v: &[u8]| -> Result<(), BoxError> {
        live.insert(k, v)?;
        Ok(())
    };
    let (journal, replayed) =
        Journal::open_with(segments, &mut replay, Arc::new(FlushDb(db.clone())), FirstFailedWrite::default(), sizes).expect("journal");
    (db, live, journal, replayed)
}

/// Opens sled and the journal in the data folder `dir` (the journal in `dir/journal`).
fn open(dir: &Path, sizes: Sizes) -> (sled::Db, sled::Tree, Journal, usize) {
    open_on(dir, Arc::new(Fs::new(dir.join("journal"))), sizes)
}

/// The segments in the folder `dir`, oldest first, with their paths.
fn segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    Ok(Fs::new(dir.to_path_buf()).list()?.into_iter().map(|n| (n, dir.join(format::file_name(n)))).collect())
}

/// Copies the journal segments of the data folder `from` into `to` as the disk holds them
/// now (what a crash would leave); returns the last segment's number.
fn copy_segments(from: &Path, to: &Path) -> u64 {
    std::fs::create_dir_all(to.join("journal")).expect("mkdir");
    let mut last = 0;
    for (n, path) in segments(&from.join("journal")).expect("list") {
        std::fs::copy(&path, to.join("journal").join(path.file_name().expect("name"))).expect("copy");
        last = n;
    }
    last
}

#[test]
fn callbacks_run_in_order_after_the_fsync_that_covers_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_db, _live, journal, _) = open(dir.path(), Sizes::DEFAULT);
    let (tx, rx) = mpsc::channel();
    for i in 0..1000u32 {
        journal.append(&i.to_be_bytes(), b"value").expect("appended");
        let tx = tx.clone();
        journal.after(Box::new(move |r| {
            let _ = tx.send((i, r.is_ok()));
        }));
    }
    let got: Vec<(u32, bool)> = (0..1000).map(|_| rx.recv().expect("callback")).collect();
    assert_eq!(got, (0..1000).map(|i| (i, true)).collect::<Vec<_>>());
    // Shared fsyncs: far fewer than one per record.
    assert!(journal.flushes() >= 1 && journal.flushes() < 1000, "{} fsyncs", journal.flushes());
}

#[test]
fn a_restart_replays_records_sled_never_flushed() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (db, live, journal, replayed) = open(dir.path(), Sizes::DEFAULT);
        assert_eq!(replayed, 0);
        for i in 0..50u32 {
            live.insert(i.to_be_bytes(), &b"x"[..]).expect("insert");
            journal.append(&i.to_be_bytes(), b"x").expect("appended");
        }
        journal.wait().expect("durable");
        // A crash: sled's in-memory writes are lost (dropping without a flush does not
        // lose them in sled 0.34, so the folder is copied as the disk holds it now).
        drop(journal);
        let copy = dir.path().join("copy");
        let copied = copy_segments(dir.path(), &copy);
        drop((db, live));
        let (_db, live, journal, replayed) = open(&copy, Sizes::DEFAULT);
        assert_eq!(replayed, 50);
        assert_eq!(live.len(), 50);
        // The old segments deleted, a new one started (and the one after it, maybe, prepared).
        let left = segments(&copy.join("journal")).expect("list");
        assert!(!left.is_empty() && left.iter().all(|(n, _)| *n > copied), "{left:?} after {copied}");
        drop(journal);
    }
}

#[test]
fn segments_are_prepared_ahead_then_checkpointed_and_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal_dir = dir.path().join("journal");
    let sizes = Sizes { segment: 4096, checkpoint: 16 << 10 };
    let (_db, live, journal, _) = open(dir.path(), sizes);
    // The first segment grows until the second is ready; from then on every segment in
    // use was written as zeros ahead: it is full-size before its records fill it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut saw_prepared = false;
    for i in 0..400u32 {
        live.insert(i.to_be_bytes(), &[1u8; 100][..]).expect("insert");
        journal.append(&i.to_be_bytes(), &[1; 100]).expect("appended");
        journal.wait().expect("durable");
        let found = segments(&journal_dir).expect("list");
        if let Some((_, path)) = found.iter().rev().nth(1).filter(|(n, _)| *n > 1) {
            // The segment before the newest (being prepared) is the one in use.
            saw_prepared |= std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) == 4096;
        }
        if i > 100 && !saw_prepared {
            assert!(std::time::Instant::now() < deadline, "no prepared segment in use: {found:?}");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    assert!(saw_prepared);
    // 400 records of ~120 bytes (~48 KiB, ~12 segments) with a checkpoint every 16 KiB:
    // the checkpoint thread deletes the older segments; those since the last checkpoint
    // (at most 4), the one in use and the one being prepared stay.
    loop {
        let left = segments(&journal_dir).expect("list");
        if left.len() <= 6 {
            assert!(left[0].0 > 4, "rotated: {left:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "segments left: {left:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Everything replays from what is left plus sled: a restart sees every record.
    drop(journal);
    drop(live);
    drop(_db);
    let (_db, live, journal, _) = open(dir.path(), sizes);
    assert_eq!(live.len(), 400);
    drop(journal);
}

#[test]
fn records_in_prepared_segments_replay_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal_dir = dir.path().join("journal");
    let sizes = Sizes { segment: 8192, checkpoint: u64::MAX };
    let copy = dir.path().join("copy");
    {
        let (db, _live, journal, _) = open(dir.path(), sizes);
        for i in 0..300u32 {
            // Not in sled: only the journal has them.
            journal.append(&i.to_be_bytes(), &[2; 100]).expect("appended");
            journal.wait().expect("durable");
            if i % 50 == 0 {
                // Give the preparer time, so later records land in prepared segments.
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let found = segments(&journal_dir).expect("list");
        assert!(found.len() >= 4, "several segments: {found:?}");
        copy_segments(dir.path(), &copy);
        drop((journal, db));
    }
    let (_db, live, journal, replayed) = open(&copy, sizes);
    assert_eq!(replayed, 300);
    assert_eq!(live.len(), 300);
    drop(journal);
}

#[test]
fn after_a_failed_write_every_callback_gets_the_reason_until_reopened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = Mem::default();
    let (db, live, journal, _) = open_on(dir.path(), Arc::new(disk.clone()), Sizes::DEFAULT);
    journal.append(b"before", b"1").expect("appended");
    journal.wait().expect("a good disk");
    disk.fail_next_write();
    journal.append(b"lost", b"2").expect("appended");
    let first = journal.wait().expect_err("the write failed").to_string();
    assert!(first.contains("the live journal failed to write") && first.contains("No space left"), "{first}");
    // The disk is fine again, but what the kernel dropped is unknown: nothing after the
    // failure is acknowledged, with or without records of its own.
    journal.append(b"after", b"3").expect("appended");
    assert_eq!(journal.wait().expect_err("still refused").to_string(), first);
    assert_eq!(journal.wait().expect_err("still refused").to_string(), first);
    drop(journal);
    drop(live);
    drop(db);
    // A restart replays what was durable, and takes writes again.
    let (_db, live, journal, replayed) = open_on(dir.path(), Arc::new(disk), Sizes::DEFAULT);
    assert_eq!(replayed, 1, "only the record before the failure");
    assert!(live.get(b"before").expect("get").is_some());
    journal.append(b"next", b"4").expect("appended");
    journal.wait().expect("writes again after the restart");
}

#[test]
fn a_segment_written_before_segments_had_a_header_still_replays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal_dir = dir.path().join("journal");
    std::fs::create_dir_all(&journal_dir).expect("mkdir");
    // As the journal wrote them before: records from the first byte, then a prepared
    // segment's zeros.
    let mut legacy = Vec::new();
    for i in 0..10u32 {
        format::encode(&mut legacy, &i.to_be_bytes(), b"old").expect("fits");
    }
    legacy.resize(8192, 0);
    std::fs::write(journal_dir.join(format::file_name(7)), &legacy).expect("write");
    let (db, live, journal, replayed) = open(dir.path(), Sizes::DEFAULT);
    assert_eq!(replayed, 10);
    assert_eq!(live.len(), 10);
    // The old segment replaced by a new one, in the current format.
    journal.append(b"new", b"1").expect("appended");
    journal.wait().expect("durable");
    let left = segments(&journal_dir).expect("list");
    assert_eq!(left[0].0, 8, "{left:?}");
    let bytes = std::fs::read(&left[0].1).expect("read");
    assert_eq!(format::version(&bytes).expect("format"), format::Version::CURRENT);
    drop((journal, live, db));
    let (_db, live, journal, replayed) = open(dir.path(), Sizes::DEFAULT);
    assert_eq!(replayed, 1);
    assert_eq!(live.len(), 11);
    drop(journal);
}

#[test]
fn a_disabled_journal_runs_callbacks_at_once() {
    let journal = Journal::disabled();
    journal.append(b"k", b"v").expect("appended");
    journal.wait().expect("ran");
    assert_eq!(journal.flushes(), 0);
}

/// Writes `records` records (keys `first..`) in segment `number` of `dir`'s journal, as the
/// journal does: a header, the records, then a prepared segment's zeros.
fn write_segment(dir: &Path, number: u64, first: u32, records: u32) -> PathBuf {
    let journal_dir = dir.join("journal");
    std::fs::create_dir_all(&journal_dir).expect("mkdir");
    let mut bytes = format::header().to_vec();
    for i in first..first + records {
        format::encode(&mut bytes, &i.to_be_bytes(), &[5; 50]).expect("fits");
    }
    bytes.resize(8192, 0);
    let path = journal_dir.join(format::file_name(number));
    std::fs::write(&path, &bytes).expect("write");
    path
}

/// Flips a bit in the `nth` record (from 0) of a segment written by [`write_segment`].
fn damage(path: &Path, nth: usize) -> usize {
    let record = 8 + 4 + 4 + 50;
    let at = format::HEADER_LEN + nth * record;
    let mut bytes = std::fs::read(path).expect("read");
    bytes[at + 20] ^= 1;
    std::fs::write(path, &bytes).expect("write");
    at
}

/// Opens the journal of `dir` expecting a refusal; returns its text.
fn refused(dir: &Path) -> String {
    let db = retry_while_locked(|| sled::Config::new().path(dir.join("db")).flush_every_ms(None).open());
    let mut replay = |_: &[u8], _: &[u8]| -> Result<(), BoxError> { Ok(()) };
    let segments = Arc::new(Fs::new(dir.join("journal")));
    match Journal::open_with(segments, &mut replay, Arc::new(FlushDb(db)), FirstFailedWrite::default(), Sizes::DEFAULT) {
        Ok(_) => panic!("the damaged journal was opened"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_corrupt_record_with_more_segments_after_it_refuses_the_open_and_deletes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_segment(dir.path(), 1, 0, 10);
    let damaged = write_segment(dir.path(), 2, 10, 10);
    write_segment(dir.path(), 3, 20, 10);
    let at = damage(&damaged, 4);
    let before: Vec<(PathBuf, Vec<u8>)> =
        segments(&dir.path().join("journal")).expect("list").into_iter().map(|(_, p)| (p.clone(), std::fs::read(&p).expect("read"))).collect();
    let why = refused(dir.path());
    let file = format!("{}", damaged.display());
    assert!(why.contains(&file) && why.contains(&format!("failing its checksum at byte {at}")), "{why}");
    assert!(why.contains(&format::file_name(3)) && why.contains("nothing was replayed past it or deleted"), "{why}");
    // Every segment is still there, byte for byte.
    let after: Vec<(PathBuf, Vec<u8>)> =
        segments(&dir.path().join("journal")).expect("list").into_iter().map(|(_, p)| (p.clone(), std::fs::read(&p).expect("read"))).collect();
    assert!(before == after, "segments changed");
}

#[test]
fn damage_in_an_earlier_segment_is_refused_even_when_the_later_one_is_also_damaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = write_segment(dir.path(), 1, 0, 10);
    let last = write_segment(dir.path(), 2, 10, 3);
    damage(&first, 0);
    damage(&last, 0);
    let why = refused(dir.path());
    assert!(why.contains(&format!("{}", first.display())) && why.contains("at byte 12"), "{why}");
    assert_eq!(segments(&dir.path().join("journal")).expect("list").len(), 2, "nothing deleted");
}

#[test]
fn a_torn_tail_of_the_last_segment_still_replays_up_to_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_segment(dir.path(), 1, 0, 10);
    let last = write_segment(dir.path(), 2, 10, 10);
    // A crash mid-write: the last record half there.
    let mut bytes = std::fs::read(&last).expect("read");
    let end = format::HEADER_LEN + 10 * (8 + 4 + 4 + 50);
    bytes.truncate(end - 30);
    std::fs::write(&last, &bytes).expect("write");
    // A segment prepared after it, nothing written to it yet.
    let prepared = dir.path().join("journal").join(format::file_name(3));
    let mut empty = format::header().to_vec();
    empty.resize(8192, 0);
    std::fs::write(&prepared, &empty).expect("write");
    let (_db, live, journal, replayed) = open(dir.path(), Sizes::DEFAULT);
    assert_eq!(replayed, 19, "every record but the torn one");
    assert_eq!(live.len(), 19);
    // As before: replayed, flushed, and the old segments deleted.
    let left = segments(&dir.path().join("journal")).expect("list");
    assert!(left.iter().all(|(n, _)| *n > 3), "{left:?}");
    drop(journal);
}
