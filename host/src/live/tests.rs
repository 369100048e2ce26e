//! The live log's tests: commits, the write-behind cache, the journal's failures, crashes and
//! reopening.

use std::path::Path;

use super::commit::raw;
use super::entry::CallRecord;
use super::keys::Tag;
use super::recovery::{Replay, recover};
use super::write_behind::{RUN_BYTES, write_back_calls};
use super::*;

/// The log of a database in `dir`, with its journal where the store keeps it.
fn open(dir: &Path) -> Result<LiveLog, LiveError> {
    open_on(dir, crate::journal::Fs::new(dir.join("journal")))
}

/// The log of a database in `dir`, its journal in `segments`.
fn open_on(dir: &Path, segments: impl crate::journal::Segments + 'static) -> Result<LiveLog, LiveError> {
    let db = sled::Config::new().path(dir).open()?;
    LiveLog::open(&db, Some(std::sync::Arc::new(segments)))
}

/// The log of a temporary database (no journal), configured as a temporary store's.
fn temporary() -> Result<LiveLog, LiveError> {
    let db = sled::Config::new().temporary(true).flush_every_ms(None).open()?;
    LiveLog::open(&db, None)
}

fn entry_writes() -> FieldWrites {
    let mut w = FieldWrites::default();
    w.group.insert("max_bid".into(), raw("10").expect("json"));
    w.players.entry(2).or_default().insert("bids".into(), raw("1").expect("json"));
    w
}

fn bid(log: &LiveLog, group: &mut Group, n: i64) {
    let mut w = FieldWrites::default();
    w.group.insert("max_bid".into(), raw(&n.to_string()).expect("json"));
    log.commit_call(crate::clock::now_ms(), group, "Bid", 1, raw(&n.to_string()).expect("json"), w, vec![(0, raw(&n.to_string()).expect("json"))])
        .expect("commit");
}

fn max_bid(log: &LiveLog, key: &GroupKey) -> Option<Vec<u8>> {
    log.tree.get(key.group_field("max_bid")).expect("get").map(|v| v.to_vec())
}

#[test]
fn wait_durable_waits_for_the_live_call_entries_and_reports_their_failed_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = crate::journal::mem::Mem::default();
    let log = open_on(dir.path(), disk.clone()).expect("open");
    let key = GroupKey { session: "s1".into(), round: 1, group: 1 };
    let mut group = log.group(key.clone(), 1).expect("group");
    bid(&log, &mut group, 10);
    log.wait_durable().expect("a good disk");
    // The entry's write fails (a full disk): whoever waits for durability hears of it.
    disk.fail_next_write();
    bid(&log, &mut group, 20);
    let err = log.wait_durable().expect_err("the call entry was not written").to_string();
    assert!(err.contains("No space left"), "{err}");
}

#[test]
fn after_a_failed_journal_write_no_call_is_taken_and_nothing_staged_reaches_sled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = GroupKey { session: "s1".into(), round: 1, group: 1 };
    let disk = crate::journal::mem::Mem::default();
    {
        let log = open_on(dir.path(), disk.clone()).expect("open");
        let mut group = log.group(key.clone(), 1).expect("group");
        bid(&log, &mut group, 10);
        log.wait_durable().expect("a good disk");
        // The next write fails: its sender is told so (the actor routes nothing) ...
        disk.fail_next_write();
        bid(&log, &mut group, 20);
        log.wait_durable().expect_err("the call entry was not written");
        // ... every later call is refused before anything is staged ...
        let err = log
            .commit_call(crate::clock::now_ms(), &mut group, "Bid", 1, raw("30").expect("json"), FieldWrites::default(), vec![])
            .expect_err("a call after the failure")
            .to_string();
        assert!(err.contains("No space left") && err.contains("restart the server after fixing the disk"), "{err}");
        // ... and the failed call's values never reach sled, neither when written back nor at
        // close (here, when the log is dropped).
        log.write_back_all().expect("write back");
        assert!(max_bid(&log, &key).is_none(), "a value staged before the failure reached sled");
    }
    // Reopened: the durable call is back from the journal, the failed one is not.
    let log = open_on(dir.path(), disk).expect("reopen");
    assert_eq!(max_bid(&log, &key).as_deref(), Some(&b"10"[..]));
    assert_eq!(log.calls(&key).expect("calls").len(), 1);
    assert_eq!(log.group(key, 1).expect("group").next_call, 2);
}

#[test]
fn reopening_recovers_a_committed_call_whose_derived_records_were_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = GroupKey { session: "s1".into(), round: 1, group: 3 };
    {
        let log = open(dir.path()).expect("open");
        let mut group = log.group(key.clone(), 3).expect("group");
        log.commit_call(
            crate::clock::now_ms(),
            &mut group,
            "Bid",
            2,
            raw(r#"{"bid":10}"#).expect("json"),
            entry_writes(),
            vec![(0, raw(r#"{"new_max":10}"#).expect("json"))],
        )
        .expect("commit");
        // What a crash right after the commit record would leave: the entry alone.
        log.write_behind.forget();
        assert!(max_bid(&log, &key).is_none());
        log.wait_durable().expect("flush");
    }
    let log = open(dir.path()).expect("reopen");
    assert_eq!(max_bid(&log, &key).as_deref(), Some(&b"10"[..]));
    assert_eq!(log.tree.get(key.player_field(2, "bids")).expect("get").as_deref(), Some(&b"1"[..]));
    let replay = log.messages_after(&key, 1, None, 0).expect("replay");
    assert_eq!(replay.len(), 1);
    assert_eq!(replay[0].seq, 1);
    assert_eq!(log.group(key, 3).expect("group").next_seq, 2);
}

#[test]
fn a_crash_with_several_calls_in_the_cache_recovers_the_last_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = GroupKey { session: "s1".into(), round: 1, group: 2 };
    {
        let log = open(dir.path()).expect("open");
        let mut group = log.group(key.clone(), 1).expect("group");
        bid(&log, &mut group, 10);
        log.write_back(&key).expect("write back");
        bid(&log, &mut group, 20);
        bid(&log, &mut group, 30);
        log.write_behind.forget();
        log.wait_durable().expect("flush");
        assert_eq!(max_bid(&log, &key).as_deref(), Some(&b"10"[..]));
    }
    let log = open(dir.path()).expect("reopen");
    assert_eq!(max_bid(&log, &key).as_deref(), Some(&b"30"[..]));
    assert_eq!(log.tree.get(key.prefix(Tag::Applied)).expect("marker").as_deref(), Some(&3u64.to_be_bytes()[..]));
}

#[test]
fn a_server_log_writes_back_on_its_write_back_thread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = open(dir.path()).expect("open");
    let key = GroupKey { session: "s1".into(), round: 1, group: 4 };
    let mut group = log.group(key.clone(), 1).expect("group");
    let due = write_back_calls(&key);
    for n in 0..i64::from(due) {
        bid(&log, &mut group, n + 1);
    }
    // The last call asked the write-back thread; the caller did not write to sled itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // (The marker is written last.)
    while log.tree.get(key.prefix(Tag::Applied)).expect("marker").as_deref() != Some(&u64::from(due).to_be_bytes()[..]) {
        assert!(std::time::Instant::now() < deadline, "the settler never wrote the entries");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // In runs of at most RUN_BYTES, far fewer records than calls, each call once in order.
    let records: Vec<_> = log.tree.scan_prefix(key.prefix(Tag::Call)).map(|kv| kv.expect("record")).collect();
    assert!(records.len() > 1 && records.len() < due as usize / 8, "{} records", records.len());
    assert!(records.iter().all(|(_, v)| v.len() <= RUN_BYTES + 2), "a run over {RUN_BYTES} bytes");
    assert_eq!(max_bid(&log, &key), Some(due.to_string().into_bytes()));
    let calls: Vec<u64> = log.calls(&key).expect("calls").iter().map(|e| e.call).collect();
    assert_eq!(calls, (1..=u64::from(due)).collect::<Vec<_>>());
    assert_eq!(log.messages(&key).expect("messages").len(), due as usize);
}

#[test]
fn a_failed_call_is_never_applied_by_recovery() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = GroupKey { session: "s1".into(), round: 1, group: 1 };
    {
        let log = open(dir.path()).expect("open");
        let mut group = log.group(key.clone(), 3).expect("group");
        log.log_failure(crate::clock::now_ms(), &mut group, "Bid", 1, "1", false, "nope").expect("log");
        log.wait_durable().expect("flush");
    }
    let log = open(dir.path()).expect("reopen");
    assert!(log.tree.get(key.prefix(Tag::Applied)).expect("get").is_none());
    assert_eq!(log.calls(&key).expect("calls").len(), 1);
}

/// Journal records: keys and values.
type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// The `live` value of calls `first..=last`, as a group's write-back writes them, and their journal records.
fn run_and_records(key: &GroupKey, first: u64, last: u64) -> (Vec<u8>, Records) {
    let mut group = Group { key: key.clone(), players: 1, next_seq: first, next_call: first };
    let mut entries = Vec::new();
    for n in first..=last {
        let message = raw(&n.to_string()).expect("json");
        let mut w = FieldWrites::default();
        w.group.insert("max_bid".into(), raw(&n.to_string()).expect("json"));
        let entry = CallEntry {
            call: group.next_call,
            time_ms: 0,
            page: "Bid".into(),
            sender: 1,
            payload: raw(&n.to_string()).expect("json"),
            hook: false,
            seqs: Some((group.next_seq, group.next_seq)),
            error: None,
            writes: w,
            messages: vec![(0, message)],
        };
        group.next_call += 1;
        group.next_seq += 1;
        entries.push((n, sled::IVec::from(serde_json::to_vec(&entry).expect("entry"))));
    }
    let records = entries.iter().map(|(n, v)| (key.call(*n), v.to_vec())).collect();
    (CallRecord::run(&entries), records)
}

#[test]
fn a_restart_replays_only_the_journal_entries_sled_lacks() {
    // A group wrote back calls 60..=70 in one run before a crash; a checkpoint had dropped
    // the journal's records of calls up to 65, so the journal replays 66..=72. Inserted
    // alone, record 70 would replace the run (losing 60..=65) and 66..=69 would be listed
    // twice.
    let log = temporary().expect("store");
    let key = GroupKey { session: "s1".into(), round: 1, group: 1 };
    let (earlier, earlier_records) = run_and_records(&key, 1, 59);
    log.tree.insert(key.call(59), earlier).expect("insert");
    let (run, _) = run_and_records(&key, 60, 70);
    log.tree.insert(key.call(70), run).expect("insert");
    let (_, journal) = run_and_records(&key, 66, 72);
    let mut replay = Replay::new(&log.tree);
    for (k, v) in &journal {
        replay.record(k, v).expect("replay");
    }
    // A value of no entries (never written, but sled's bytes are not ours to trust) is no run.
    let other = GroupKey { session: "s1".into(), round: 1, group: 2 };
    log.tree.insert(other.call(5), &b"[]"[..]).expect("insert");
    let (_, other_records) = run_and_records(&other, 3, 3);
    replay.record(&other_records[0].0, &other_records[0].1).expect("replay");
    assert!(log.tree.get(&other_records[0].0).expect("get").is_some());
    // Records of another group, and older ones of this group already in a run, change nothing.
    for (k, v) in &earlier_records[..3] {
        replay.record(k, v).expect("replay");
    }
    let calls: Vec<u64> = log.calls(&key).expect("calls").iter().map(|e| e.call).collect();
    assert_eq!(calls, (1..=72).collect::<Vec<_>>());
    let seqs: Vec<u64> = log.messages(&key).expect("messages").iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=72).collect::<Vec<_>>());
    // Old single-entry records (as the journal writes them, and as sled held every entry
    // before runs) read like runs: 71 and 72 are singles here.
    assert_eq!(log.tree.scan_prefix(key.prefix(Tag::Call)).count(), 4);
    let reread = log.group(key, 1).expect("group");
    assert_eq!((reread.next_call, reread.next_seq), (73, 73));
}

#[test]
fn recovery_applies_the_calls_of_a_run_past_the_marker() {
    // A crash after a write-back wrote its runs but before its marker: the run's calls past
    // the old marker are applied again.
    let dir = tempfile::tempdir().expect("tempdir");
    let key = GroupKey { session: "s1".into(), round: 1, group: 5 };
    {
        let log = open(dir.path()).expect("open");
        let mut group = log.group(key.clone(), 1).expect("group");
        for n in [10, 20, 30] {
            bid(&log, &mut group, n);
        }
        log.write_back(&key).expect("write back");
        log.tree.insert(key.prefix(Tag::Applied), &1u64.to_be_bytes()).expect("marker");
        log.tree.insert(key.group_field("max_bid"), &b"10"[..]).expect("field");
        assert_eq!(recover(&log.tree).expect("recover"), 2);
        assert_eq!(max_bid(&log, &key).as_deref(), Some(&b"30"[..]));
        assert_eq!(log.tree.get(key.prefix(Tag::Applied)).expect("marker").as_deref(), Some(&3u64.to_be_bytes()[..]));
        log.wait_durable().expect("flush");
    }
    // And after a restart (the journal replays calls the run holds): each call once.
    let log = open(dir.path()).expect("reopen");
    assert_eq!(log.calls(&key).expect("calls").iter().map(|e| e.call).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(max_bid(&log, &key).as_deref(), Some(&b"30"[..]));
}

#[test]
fn a_replay_reads_a_bounded_number_of_entries_back() {
    let log = temporary().expect("log");
    let key = GroupKey { session: "s1".into(), round: 1, group: 1 };
    let mut group = log.group(key.clone(), 3).expect("group");
    bid(&log, &mut group, 5);
    for _ in 0..crate::live::read::MAX_REPLAY_SCAN - 1 {
        log.log_failure(crate::clock::now_ms(), &mut group, "Bid", 1, "1", false, "nope").expect("log");
    }
    // The message is the oldest of the last MAX_REPLAY_SCAN entries: still replayed.
    assert_eq!(log.messages_after(&key, 1, None, 0).expect("replay").len(), 1);
    log.log_failure(crate::clock::now_ms(), &mut group, "Bid", 1, "1", false, "nope").expect("log");
    // One refused call more and it is past what a replay reads; the export still has it.
    assert_eq!(log.messages_after(&key, 1, None, 0).expect("replay").len(), 0);
    assert_eq!(log.messages(&key).expect("all").len(), 1);
}
