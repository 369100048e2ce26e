//! The replay itself: a scratch store (a temporary sled database) holding the session as it
//! was made — same codes, size, config and seed — then every logged call re-issued through
//! the game's own call paths (`creating-session`, live calls, page hooks) at its logged
//! time and position, each one's new entry compared with the logged one.
//!
//! Order: every round's `creating-session` first (the server runs them all when the session
//! is made), then round by round, group by group, each group's calls in their logged order.
//! Groups of one round share no state, and a round's calls see only earlier rounds' fields,
//! so this order gives every call the fields it saw. A game with `warm_instances` keeps one
//! instance per group across the group's live calls, as the server's group actor does, and
//! drops it where the server would (a trap, a refused reply, a host error).

use serde_json::value::RawValue;

use crate::game::{Game, Hook, Instance, World};
use crate::live::{CallEntry, Group, GroupKey};
use crate::replay::compare::difference;
use crate::replay::recorded::Recorded;
use crate::replay::{Failure, Mismatch};
use crate::store::Store;

/// What a logged error starts with when the host, not the game, refused the call (a full
/// pool, a failed disk): such a call is logged again as it was, without running the game.
const HOST_ERROR: &str = "host error: ";

/// Replays `recorded` through `game`; `progress(done, total)` after each call. The number
/// of calls reproduced, or the first that differs.
pub(crate) fn run(game: &Game, recorded: &Recorded, progress: &mut dyn FnMut(u64, u64)) -> Result<u64, Failure> {
    let total = recorded.calls();
    let scratch = Store::temporary().map_err(|e| Failure::NotReplayable(format!("cannot open a scratch store: {e}")))?;
    let mut done = create(game, &scratch, recorded)?;
    progress(done, total);
    for (key, calls) in recorded.groups.iter().filter(|(key, _)| key.group != 0) {
        let mut group = scratch.group(key.clone(), recorded.session.players_per_group).map_err(host)?;
        let mut warm = None;
        for entry in calls {
            if entry.call != group.next_call {
                return Err(Failure::NotReplayable(format!("the log of {key} goes from call {} to call {}", group.next_call - 1, entry.call)));
            }
            reissue(game, &scratch, &mut group, &mut warm, entry)?;
            let got = scratch.last_call(key).map_err(host)?.filter(|c| c.call == entry.call);
            check(key, entry, got.as_ref())?;
            done += 1;
            progress(done, total);
        }
    }
    Ok(done)
}

/// Makes the session in `scratch` as it was made, running every round's `creating-session`
/// at its logged time; checks each round's entry. The number of calls it reproduced.
fn create(game: &Game, scratch: &Store, recorded: &Recorded) -> Result<u64, Failure> {
    let session = &recorded.session;
    let creations: Vec<(&GroupKey, &CallEntry)> =
        recorded.groups.iter().filter(|(key, _)| key.group == 0).flat_map(|(key, calls)| calls.iter().map(move |c| (key, c))).collect();
    let records = match game.world() {
        World::V0_1 => Vec::new(),
        World::V0_2 => {
            let time_of = |round: u32| creations.iter().find(|(key, _)| key.round == round).map_or(0, |(_, c)| c.time_ms);
            game.creating_session(scratch, session, &time_of).map_err(|why| {
                Failure::Differs(Mismatch {
                    round: 1,
                    group: 0,
                    call: 1,
                    sender: 0,
                    what: format!("the session's creation failed in the replay ({why}); the log has it made"),
                })
            })?
        }
    };
    scratch.insert_session(session, &[], records).map_err(host)?;
    // Groups formed by arrival, as they formed, before any call made in them.
    for (round, groups) in &recorded.formed {
        for members in groups {
            scratch.form_group(session, *round, members.clone()).map_err(host)?;
        }
    }
    let mut rounds: Vec<u32> = creations.iter().map(|(key, _)| key.round).collect();
    if game.world() == World::V0_2 {
        rounds.extend(1..=game.manifest.num_rounds);
    }
    rounds.sort_unstable();
    rounds.dedup();
    for round in rounds {
        let key = GroupKey { session: session.code.clone(), round, group: 0 };
        let logged = creations.iter().find(|(k, _)| **k == key).map(|(_, c)| *c);
        let got = scratch.calls(&key).map_err(host)?;
        match logged {
            Some(entry) => check(&key, entry, got.first())?,
            None => {
                return Err(Failure::Differs(Mismatch {
                    round,
                    group: 0,
                    call: 1,
                    sender: 0,
                    what: "the replay ran creating-session for this round; the log has no such call".into(),
                }));
            }
        }
    }
    Ok(creations.len() as u64)
}

/// Re-issues the logged call `entry` on `group` of `scratch` as the server issued it.
fn reissue(game: &Game, scratch: &Store, group: &mut Group, warm: &mut Option<Instance>, entry: &CallEntry) -> Result<(), Failure> {
    let (page, sender, time_ms) = (entry.page.as_str(), entry.sender, entry.time_ms);
    if let Some(error) = entry.error.as_deref().filter(|e| e.starts_with(HOST_ERROR)) {
        // The game did not answer this one: the host refused it, and dropped the instance.
        *warm = None;
        scratch.log_failure(time_ms, group, page, sender, entry.payload.get(), entry.hook, error).map_err(host)?;
        return Ok(());
    }
    // Each call's own result is in its new entry, which is what is compared.
    if !entry.hook {
        let _ = game.live_call_at(warm, scratch, group, page, sender, &live_payload(entry), time_ms);
        return Ok(());
    }
    let Some(hook) = hook_of(&entry.payload) else {
        return Err(Failure::NotReplayable(format!(
            "call {} of {} is a page hook whose payload names none ({})",
            entry.call,
            group.key,
            crate::game::json::shorten(entry.payload.get(), 80)
        )));
    };
    let _ = game.hook_call_at(&mut None, scratch, group, page, sender, &hook, time_ms);
    Ok(())
}

/// The page hook a hook entry's payload names (`{"hook": ...}` as the host writes it).
fn hook_of(payload: &RawValue) -> Option<Hook> {
    let v: serde_json::Value = serde_json::from_str(payload.get()).ok()?;
    match v.get("hook")?.as_str()? {
        "after-all-players-arrive" => Some(Hook::Arrive),
        "before-next-page" => {
            let values = v.get("values")?.as_object()?;
            let values = values.iter().map(|(k, v)| Some((k.clone(), RawValue::from_string(v.to_string()).ok()?))).collect::<Option<Vec<_>>>()?;
            Some(Hook::Submit { values, timeout_happened: v.get("timeout_happened")?.as_bool()? })
        }
        _ => None,
    }
}

/// The text a live call was sent with: its logged payload, or, for one refused as not JSON
/// (logged as a JSON string of the text), that text.
fn live_payload(entry: &CallEntry) -> String {
    let not_json = entry.error.as_deref().is_some_and(|e| e.starts_with("payload is not JSON"));
    match serde_json::from_str::<serde_json::Value>(entry.payload.get()) {
        Ok(serde_json::Value::String(text)) if not_json => text,
        _ => entry.payload.get().to_string(),
    }
}

/// The logged `expected` against the replay's `got`, as a [`Failure::Differs`] naming the call.
fn check(key: &GroupKey, expected: &CallEntry, got: Option<&CallEntry>) -> Result<(), Failure> {
    match difference(expected, got) {
        None => Ok(()),
        Some(what) => Err(Failure::Differs(Mismatch { round: key.round, group: key.group, call: expected.call, sender: expected.sender, what })),
    }
}

/// A scratch store's failure: the replay cannot go on.
fn host(e: crate::store::StoreError) -> Failure {
    Failure::NotReplayable(format!("the scratch store failed: {e}"))
}
