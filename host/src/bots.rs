//! Headless bot runs (`stoa bots`): a session in a temporary store walks the page sequence as
//! oTree's bots do. On each live page, `call-live-method` runs once per group and round; each
//! `bot-driver.live-method` it makes is a real live call. Every page is rendered (so
//! `vars-for-template` and the template run) and submitted with each of its `bot-submissions`
//! (0.1 games: `{}`), checked as a participant's form is; `must-fail` ones must be refused.
//! A refusal a bot gets from `bot-driver.live-method` is a value it may check: the run fails on
//! it only if the bot returns `err`.
//! Rounds run in order, each round's groups in parallel (with regrouping, as the session's
//! seed draws them; groups forming by arrival arrive in position order); the run passes only
//! if every call succeeded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use crate::game::json::shorten;
use crate::game::render;
use crate::game::{CallError, Game, Hook, Seat};
use crate::manifest::{Page, PageKind};
use crate::session::form;
use crate::store::{GroupKey, Grouping, Store};

/// What one group did in one round.
#[derive(Debug, Serialize)]
pub struct GroupReport {
    /// Round number.
    pub round: u32,
    /// Group number.
    pub group: u32,
    /// Every nested live call, in order.
    pub calls: Vec<CallReport>,
    /// Group fields after the round.
    pub group_fields: BTreeMap<String, Value>,
    /// Player fields after the round, by id in group.
    pub player_fields: BTreeMap<u32, BTreeMap<String, Value>>,
    /// The first failure, naming page, player, payload and reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One nested live call.
#[derive(Debug, Serialize)]
pub struct CallReport {
    /// The live page.
    pub page: String,
    /// The player the bot acted as.
    pub player: u32,
    /// The payload, JSON.
    pub payload: Value,
    /// What was routed: `{"seq", "to", "payload"}` each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routed: Option<Vec<Value>>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The result of a bot run of one case.
#[derive(Debug, Serialize)]
pub struct BotReport {
    /// The game's name.
    pub game: String,
    /// The bot case, if the game has cases.
    pub case: Option<String>,
    /// Participants in the session.
    pub participants: u32,
    /// Whether every call succeeded.
    pub passed: bool,
    /// Nested live calls made.
    pub live_calls: usize,
    /// Wall time of the run.
    pub seconds: f64,
    /// Per round and group.
    pub groups: Vec<GroupReport>,
}

impl BotReport {
    /// The failures, one line each.
    pub fn failures(&self) -> Vec<String> {
        self.groups.iter().filter_map(|g| g.error.clone()).collect()
    }
}

/// Runs the bots of `game` with `participants` participants and bot `case`, in `store`
/// (normally [`Store::temporary`]), with up to `threads` groups at once.
pub fn run(game: &Arc<Game>, store: &Store, participants: u32, case: Option<&str>, threads: usize) -> Result<BotReport, String> {
    let started = Instant::now();
    let (session, _) = game.create_default_session(store, participants).map_err(|e| e.to_string())?;
    let ppg = game.manifest.group_size(participants);
    let groups = participants / ppg;
    let mut reports: Vec<GroupReport> = Vec::new();
    // Round by round (a round reads the participant fields the earlier ones wrote), its
    // groups in parallel; groups forming by arrival arrive in position order.
    for round in 1..=game.manifest.num_rounds {
        if session.grouping == Grouping::Arrival {
            for g in 0..groups {
                store.form_group(&session, round, (g * ppg + 1..=(g + 1) * ppg).collect()).map_err(|e| e.to_string())?;
            }
        }
        let next = AtomicUsize::new(1);
        reports.extend(std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.max(1))
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let group = next.fetch_add(1, Ordering::Relaxed) as u32;
                            if group > groups {
                                return done;
                            }
                            let key = GroupKey { session: session.code.clone(), round, group };
                            done.push(run_group(game, store, key, ppg, case));
                        }
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect::<Vec<_>>()
        }));
    }
    let jobs = (game.manifest.num_rounds * groups) as usize;
    reports.sort_by_key(|g| (g.round, g.group));
    let live_calls = reports.iter().map(|g| g.calls.len()).sum();
    Ok(BotReport {
        game: game.name().to_string(),
        case: case.map(str::to_string),
        participants,
        passed: reports.len() == jobs && reports.iter().all(|g| g.error.is_none()),
        live_calls,
        seconds: started.elapsed().as_secs_f64(),
        groups: reports,
    })
}

fn run_group(game: &Arc<Game>, store: &Store, key: GroupKey, ppg: u32, case: Option<&str>) -> GroupReport {
    let mut report = GroupReport {
        round: key.round,
        group: key.group,
        calls: Vec::new(),
        group_fields: BTreeMap::new(),
        player_fields: BTreeMap::new(),
        error: None,
    };
    let at = |page: &str| format!("round {} group {} page `{page}`", key.round, key.group);
    // Page renders and submissions are read-only: one instance serves them all for this group.
    let mut reader = None;
    let error = (|| -> Result<(), String> {
        for page in &game.manifest.pages {
            if page.live {
                let mut group = store.group(key.clone(), ppg).map_err(|e| format!("{}: {e}", at(&page.name)))?;
                let (calls, verdict) = game.bot_run(store, &mut group, &page.name, case);
                let mut first_failure = None;
                for call in calls {
                    let payload = serde_json::from_str(&call.payload).unwrap_or(Value::String(call.payload.clone()));
                    let (routed, error) = match call.result {
                        Ok(messages) => (
                            Some(messages.iter().map(|m| serde_json::json!({"seq": m.seq, "to": m.to, "payload": parse(&m.payload)})).collect()),
                            None,
                        ),
                        // A game's own refusal is a value the bot may check (it fails the run
                        // only if the bot returns `err`); a crash, a deadline or a limit fails it.
                        Err(e) => {
                            if !matches!(e, CallError::Refused(_)) {
                                first_failure.get_or_insert_with(|| {
                                    format!("{}: player {} sent {}: {e}", at(&page.name), call.player, shorten(&call.payload, 200))
                                });
                            }
                            (None, Some(e.to_string()))
                        }
                    };
                    report.calls.push(CallReport { page: page.name.clone(), player: call.player, payload, routed, error });
                }
                if let Some(f) = first_failure {
                    return Err(f);
                }
                verdict.map_err(|e| match e {
                    CallError::Refused(reason) => format!("{}: call-live-method failed: {reason}", at(&page.name)),
                    other => format!("{}: call-live-method failed: {other}", at(&page.name)),
                })?;
            }
            for id in 1..=ppg {
                let seat = Seat { group: &key, players: ppg, page: &page.name, id_in_group: id };
                if page.kind == PageKind::Normal
                    && !game.is_displayed(store, seat).map_err(|e| format!("{}: is-displayed for player {id} failed: {e}", at(&page.name)))?
                {
                    continue;
                }
                render::render(&mut reader, game, store, seat, "bot")
                    .map_err(|e| format!("{}: player {id}'s page does not render: {e}", at(&page.name)))?;
                if page.kind == PageKind::Normal {
                    submit(game, store, &mut reader, seat, page, case).map_err(|e| format!("{}: player {id}'s {e}", at(&page.name)))?;
                }
            }
            if page.kind == PageKind::Wait && game.world() == crate::game::World::V0_2 {
                let mut group = store.group(key.clone(), ppg).map_err(|e| format!("{}: {e}", at(&page.name)))?;
                game.hook_call_in(&mut None, store, &mut group, &page.name, 0, &Hook::Arrive)
                    .map_err(|e| format!("{}: after-all-players-arrive failed: {e}", at(&page.name)))?;
            }
        }
        Ok(())
    })();
    report.error = error.err();
    if let Ok(fields) = store.group_fields(&game.manifest, &key) {
        report.group_fields = fields;
    }
    for id in 1..=ppg {
        if let Ok(fields) = store.player_fields(&game.manifest, &key, id) {
            report.player_fields.insert(id, fields);
        }
    }
    report
}

/// The bot of the player at `seat` submits `page` with each of its `bot-submissions` in order,
/// checked as a participant's form is: a `must-fail` one must be refused (by the form's checks
/// or `error-message`), any other accepted; an accepted one stores its values and runs
/// `before-next-page`, and the player moves on. The error names the values and the reason.
fn submit(
    game: &Arc<Game>,
    store: &Store,
    reader: &mut Option<crate::game::Instance>,
    seat: Seat<'_>,
    page: &Page,
    case: Option<&str>,
) -> Result<(), String> {
    let submissions = game.bot_submissions(reader, store, seat, case).map_err(|e| format!("bot-submissions failed: {e}"))?;
    for sub in submissions {
        let values: Value =
            serde_json::from_str(&sub.values).map_err(|e| format!("bot submission is not JSON ({e}): {}", shorten(&sub.values, 200)))?;
        let posted = form::as_posted(&values);
        let refusal = match form::parse(&game.manifest, page, &posted, false) {
            Err(errors) => Some(errors.iter().map(|(k, why)| format!("{k}: {why}")).collect::<Vec<_>>().join("; ")),
            Ok(typed) => {
                let shown = if page.form_fields.is_empty() { values.to_string() } else { Value::Object(typed.iter().cloned().collect()).to_string() };
                match game.error_message(reader, store, seat, &shown).map_err(|e| format!("error-message failed: {e}"))? {
                    Some(text) => Some(text),
                    None if sub.must_fail => return Err(format!("must-fail submission {} was accepted", shorten(&sub.values, 200))),
                    None => {
                        if game.submits_with_hook(page) {
                            let values =
                                typed.into_iter().filter_map(|(k, v)| serde_json::value::to_raw_value(&v).ok().map(|raw| (k, raw))).collect();
                            let mut group = store.group(seat.group.clone(), seat.players).map_err(|e| e.to_string())?;
                            game.hook_call_in(
                                &mut None,
                                store,
                                &mut group,
                                seat.page,
                                seat.id_in_group,
                                &Hook::Submit { values, timeout_happened: false },
                            )
                            .map_err(|e| format!("before-next-page failed: {e}"))?;
                        }
                        return Ok(());
                    }
                }
            }
        };
        if let Some(reason) = refusal
            && !sub.must_fail
        {
            return Err(format!("submission {} was refused: {reason}", shorten(&sub.values, 200)));
        }
    }
    Err("bot made no submission that was accepted".into())
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or(Value::Null)
}

/// Human-readable summary of a report.
pub fn describe(report: &BotReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let case = report.case.as_deref().map(|c| format!(" case `{c}`")).unwrap_or_default();
    for g in &report.groups {
        let _ = writeln!(out, "round {} group {}:", g.round, g.group);
        for c in &g.calls {
            match (&c.routed, &c.error) {
                (Some(routed), _) => {
                    let _ = writeln!(out, "  [{}] player {} sent {}", c.page, c.player, c.payload);
                    for m in routed {
                        let to = match m["to"].as_u64() {
                            Some(0) => "everyone".to_string(),
                            Some(n) => format!("player {n}"),
                            None => "?".into(),
                        };
                        let _ = writeln!(out, "      seq {} to {to}: {}", m["seq"], m["payload"]);
                    }
                }
                (None, Some(e)) => {
                    let _ = writeln!(out, "  [{}] player {} sent {} -> error: {e}", c.page, c.player, c.payload);
                }
                (None, None) => {}
            }
        }
        let _ = writeln!(out, "  group fields: {}", serde_json::to_string(&g.group_fields).unwrap_or_default());
        for (id, f) in &g.player_fields {
            let _ = writeln!(out, "  player {id} fields: {}", serde_json::to_string(f).unwrap_or_default());
        }
        if let Some(e) = &g.error {
            let _ = writeln!(out, "  FAILED: {e}");
        }
    }
    let secs = report.seconds.max(1e-9);
    let _ = writeln!(
        out,
        "{}{case}: {} participants, {} groups x {} rounds, {} live calls in {:.3} s ({:.0} calls/s): {}",
        report.game,
        report.participants,
        report.groups.iter().map(|g| g.group).max().unwrap_or(0),
        report.groups.iter().map(|g| g.round).max().unwrap_or(0),
        report.live_calls,
        report.seconds,
        report.live_calls as f64 / secs,
        if report.passed { "passed" } else { "FAILED" }
    );
    out
}
