//! The group actors against the auction game: a failed journal write, and the idle sweep.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::engine::{Runtime, RuntimeConfig};
use crate::game::Game;
use crate::server::actors::actor::{Actor, Command};
use crate::server::actors::frame::Frame;
use crate::server::actors::hub::GroupHub;
use crate::store::{GroupKey, Store};

fn auction() -> Arc<Game> {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-games/auction");
    Game::load(&runtime, &dir).expect("the auction (built by `make games`)")
}

/// Player `id` subscribes and bids `bid`; the first frame it gets.
fn live(actor: &Arc<Actor>, id: u32, bid: u32) -> Frame {
    let (frames, mut rx) = mpsc::channel(16);
    actor.send(Command::Subscribe { id, page: "Bid".into(), after: None, frames: frames.clone() });
    let permit = Arc::new(tokio::sync::Semaphore::new(1)).try_acquire_owned().expect("permit");
    actor.send(Command::Live { id, page: "Bid".into(), payload: format!("{{\"bid\": {bid}}}"), errors: frames, permit });
    rx.blocking_recv().expect("a reply")
}

#[test]
fn after_a_failed_journal_write_the_sender_is_told_and_later_calls_are_refused_unrun() {
    let game = auction();
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = crate::journal::mem::Mem::default();
    let key = GroupKey { session: "s".into(), round: 1, group: 1 };
    {
        let store = Store::open_on(dir.path(), disk.clone()).expect("store");
        let hub = GroupHub::new(store.clone(), 1000);
        let actor = hub.actor(&game, &key);
        assert!(live(&actor, 1, 10).text().contains("new_max"));
        disk.fail_next_write();
        let reply = live(&actor, 2, 20);
        assert!(matches!(reply, Frame::Error(_)), "{reply:?}");
        assert!(reply.text().contains("error") && reply.text().contains("No space left"), "{reply:?}");
        // A socket subscribing now is told it cannot be replayed; then its call is refused.
        let (frames, mut rx) = mpsc::channel(16);
        actor.send(Command::Subscribe { id: 3, page: "Bid".into(), after: None, frames: frames.clone() });
        let permit = Arc::new(tokio::sync::Semaphore::new(1)).try_acquire_owned().expect("permit");
        actor.send(Command::Live { id: 3, page: "Bid".into(), payload: r#"{"bid": 30}"#.into(), errors: frames, permit });
        let replies = [rx.blocking_recv().expect("a reply"), rx.blocking_recv().expect("a reply")];
        assert!(replies[0].text().contains("cannot replay the log"), "{replies:?}");
        assert!(replies[1].text().contains("restart the server after fixing the disk"), "{replies:?}");
        // The refused call left no entry: the game did not run for it.
        let calls = store.calls(&key).expect("calls");
        assert_eq!(calls.len(), 2, "bids 10 and 20 (whose write failed) only: {}", calls.len());
    }
    // Restarted: the fields are those of the last call whose write succeeded. (The last
    // handle may be let go on the journal's thread a moment later: sled's lock with it.)
    let store = crate::journal::retry_while_locked(|| Store::open_on(dir.path(), disk.clone()));
    assert_eq!(store.calls(&key).expect("calls").len(), 1);
    let hub = GroupHub::new(store, 1000);
    let reply = live(&hub.actor(&game, &key), 2, 15);
    assert!(reply.text().contains("new_max") && reply.text().contains("15"), "bid 20 was not kept: {reply:?}");
}

#[test]
fn the_sweep_forgets_idle_actors_nothing_holds_and_their_groups_go_on() {
    let game = auction();
    let hub = GroupHub::new(Store::temporary().expect("store"), 1000);
    let key = |group| GroupKey { session: "s".into(), round: 1, group };
    let (a, b) = (hub.actor(&game, &key(1)), hub.actor(&game, &key(2)));
    assert!(live(&a, 1, 10).text().contains("new_max"));
    assert!(live(&b, 1, 10).text().contains("new_max"));
    // Group 1's socket has gone; group 2's is still open (it holds its actor).
    drop(a);
    // The first sweep tells idle groups to write their fields; it or a later one forgets
    // those nothing holds (the first one too, when the runner did so before it looked).
    let mut forgotten = hub.sweep(Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(10);
    while forgotten == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        forgotten += hub.sweep(Duration::ZERO);
    }
    assert_eq!(forgotten, 1);
    assert_eq!(hub.actors().len(), 1);
    assert!(hub.actors().contains_key(&key(2)), "a held actor stays");
    // Group 1 goes on from where it was: a lower bid is rejected against the logged maximum.
    let again = hub.actor(&game, &key(1));
    let reply = live(&again, 2, 5);
    assert!(reply.text().contains("rejected") && reply.text().contains("\"max_bid\":10"), "{reply:?}");
    drop(b);
}

#[test]
fn a_dropped_subscription_leaves_its_group_at_once() {
    use crate::server::actors::subscription::Subscription;
    let game = auction();
    let hub = GroupHub::new(Store::temporary().expect("store"), 1000);
    let actor = hub.actor(&game, &GroupKey { session: "s".into(), round: 1, group: 1 });
    // Player 1's socket; and one that closes before its subscribe is even delivered.
    let (first, _first_errors) = Subscription::new(actor.clone(), 1, "Bid", None, 16);
    drop(Subscription::new(actor.clone(), 3, "Bid", None, 16));
    // Player 2's socket bids: its answer comes once every subscribe before it is delivered.
    let (mut second, errors) = Subscription::new(actor.clone(), 2, "Bid", None, 16);
    let permit = Arc::new(tokio::sync::Semaphore::new(1)).try_acquire_owned().expect("permit");
    actor.send(Command::Live { id: 2, page: "Bid".into(), payload: r#"{"bid": 10}"#.into(), errors, permit });
    assert!(second.frames.blocking_recv().expect("a reply").text().contains("new_max"));
    assert_eq!(actor.subscribed(), 2, "players 1 and 2; the socket closed early was never kept");
    // Player 1's socket closes: no message has to reach player 1 for it to go.
    drop(first);
    assert_eq!(actor.subscribed(), 1);
}
