//! Session export: every group and player field per round, and the live log.
//!
//! - `format=json`: `{"session", "game", "treatment", "config", "provenance", "session_fields",
//!   "participants": [{"code", "label"}], "rounds": [{"round", "groups": [{"group", "fields",
//!   "players": [{"id_in_group", "participant", "label", "fields", "participant_fields"}]}]}],
//!   "live_log": [{"round", "group", "calls": [CallEntry...], "messages": [{"seq", "to",
//!   "payload"}]}], "page_times": [PageTime...], "payments": [{"code", "points", "money"}]}`
//!   (groups with no calls are left out of `live_log`; a round's group 0 holds its
//!   `creating-session` call; a player's `participant_fields` are as they were in that round;
//!   payments as [`super::payments`] computes them; `provenance` as [`super::provenance`]
//!   writes it, with the seed once every participant has finished or with `seed=1`).
//! - `format=csv` (`table=players`, the default): one row per player per round — `session, round,
//!   group, id_in_group, participant, participant.label, session.config.KEY...,
//!   session.FIELD..., group.FIELD..., player.FIELD..., participant.FIELD...`, each value as
//!   JSON text (the label as it is, empty when none).
//! - `format=csv&table=pages`: one row per page a participant left — `session, participant,
//!   position, round, page, arrived_ms, viewed_ms, left_ms, seconds_on_page` (from the first
//!   view, else the arrival) `, timeout_happened`; the JSON export has the same as `page_times`.
//! - `format=csv&table=log`: one row per call in the log (live calls, page hooks, and group 0's
//!   `creating-session`) — `round, group, call, time_ms, page, sender, payload, seqs`
//!   (`first-last`, empty when none) `, error`.
//!
//! Each round lists its groups as seated that round (with regrouping, a participant's group
//! and id change from round to round; groups forming by arrival are listed once formed).
//! Rounds not reached yet show their fields' initial values. Every export is streamed as it is
//! read from the store: it holds a few chunks and one group's values in memory at a time.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::game::Game;
use crate::manifest::Manifest;
use crate::server::api::error::ApiError;
use crate::server::state::AppState;
use crate::store::{GroupKey, Rooms, RoundSeating, Session, Store, StoreError};

/// `?format=json|csv&table=players|log[&seed=1]`.
#[derive(Debug, Deserialize)]
pub(crate) struct ExportQuery {
    format: Option<String>,
    table: Option<String>,
    /// `1`: the JSON export's provenance holds the seed, finished or not (its owner asks).
    seed: Option<String>,
}

/// Which export.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Json,
    PlayersCsv,
    LogCsv,
    PagesCsv,
}

/// Chunks of an export in flight: the writer blocks past this many (each about
/// [`CHUNK_BYTES`]) until the client reads, so an export holds a few chunks and one group's
/// values in memory, whatever the session's size.
const CHUNKS_IN_FLIGHT: usize = 4;
/// Bytes gathered before a chunk is sent.
const CHUNK_BYTES: usize = 64 << 10;

/// The export `query` asks for, as a download, streamed as it is read from the store.
pub(crate) async fn respond(state: &AppState, session: &Session, query: &ExportQuery) -> Result<Response, ApiError> {
    let game = state.game(&session.game).ok_or_else(|| {
        ApiError(StatusCode::CONFLICT, format!("the game `{}` of session `{}` is not loaded: its fields are unknown", session.game, session.code))
    })?;
    let format = query.format.as_deref().unwrap_or("json");
    let table = query.table.as_deref().unwrap_or("players");
    let (kind, mime) = match (format, table) {
        ("json", _) => (Kind::Json, "application/json"),
        ("csv", "players") => (Kind::PlayersCsv, "text/csv; charset=utf-8"),
        ("csv", "log") => (Kind::LogCsv, "text/csv; charset=utf-8"),
        ("csv", "pages") => (Kind::PagesCsv, "text/csv; charset=utf-8"),
        ("csv", other) => {
            return Err(ApiError(StatusCode::BAD_REQUEST, format!("unknown table `{other}`: use table=players, table=pages or table=log")));
        }
        (other, _) => return Err(ApiError(StatusCode::BAD_REQUEST, format!("unknown format `{other}`: use format=json or format=csv"))),
    };
    let suffix = match kind {
        Kind::LogCsv => "-log",
        Kind::PagesCsv => "-pages",
        Kind::Json | Kind::PlayersCsv => "",
    };
    let asked = match query.seed.as_deref() {
        None | Some("0") => false,
        Some("1") => true,
        Some(other) => return Err(ApiError(StatusCode::BAD_REQUEST, format!("seed={other}: use seed=1 to include the session's seed"))),
    };
    let disposition = format!("attachment; filename=\"stoa-{}{suffix}.{format}\"", session.code);
    let (store, manifest, session) = (state.store.clone(), game.manifest.clone(), session.clone());
    let (tx, rx) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
    // A store scan, off the async threads.
    tokio::task::spawn_blocking(move || {
        let mut out = Chunks { tx: Some(tx), buf: String::with_capacity(CHUNK_BYTES * 2) };
        let written = match kind {
            Kind::Json => provenance_of(&store, &game, &session, asked).and_then(|p| json_export(&store, &manifest, &session, &p, &mut out)),
            Kind::PlayersCsv => players_csv(&store, &manifest, &session, &mut out),
            Kind::LogCsv => log_csv(&store, &manifest, &session, &mut out),
            Kind::PagesCsv => pages_csv(&store, &session, &mut out),
        }
        .and_then(|()| out.send());
        if let Err(Stop::Failed(e)) = written {
            // The answer has begun: the client sees the download break off, not a short file.
            tracing::error!(session = %session.code, "export failed: {e}");
            if let Some(tx) = &out.tx {
                let _ = tx.blocking_send(Err(std::io::Error::other(format!("export failed: {e}"))));
            }
        }
    });
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) });
    Ok(([(header::CONTENT_TYPE, mime.to_string()), (header::CONTENT_DISPOSITION, disposition)], Body::from_stream(chunks)).into_response())
}

/// Why an export stopped before its end.
enum Stop {
    /// The store (or the encoding of what it holds) failed: the reason.
    Failed(String),
    /// The client went away.
    Gone,
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Failed(e.to_string())
    }
}

/// The export's text, sent on in chunks as it grows (or, without a channel, kept whole).
struct Chunks {
    tx: Option<tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>>,
    buf: String,
}

/// The provenance block of `session` (with the seed when `asked` or every participant has
/// finished).
fn provenance_of(store: &Store, game: &Game, session: &Session, asked: bool) -> Result<Value, Stop> {
    let seed = asked || super::provenance::all_finished(store, &game.manifest, session)?;
    Ok(super::provenance::block(store, game, session, seed)?)
}

/// The JSON export of `session` as one text, its provenance `provenance` (for a bundle).
pub(crate) fn json_text(store: &Store, manifest: &Manifest, session: &Session, provenance: &Value) -> Result<String, String> {
    let mut out = Chunks { tx: None, buf: String::new() };
    match json_export(store, manifest, session, provenance, &mut out) {
        Ok(()) => Ok(out.buf),
        Err(Stop::Failed(e)) => Err(e),
        Err(Stop::Gone) => Err("the export stopped".into()),
    }
}

impl Chunks {
    /// Adds `text`; sends a chunk once there is enough.
    fn push(&mut self, text: &str) -> Result<(), Stop> {
        self.buf.push_str(text);
        if self.buf.len() >= CHUNK_BYTES { self.send() } else { Ok(()) }
    }

    /// Adds `value` as JSON text.
    fn json(&mut self, value: &impl serde::Serialize) -> Result<(), Stop> {
        let text = serde_json::to_string(value).map_err(|e| Stop::Failed(format!("cannot write a value as JSON: {e}")))?;
        self.push(&text)
    }

    /// Sends what is gathered (blocks while the client is [`CHUNKS_IN_FLIGHT`] behind).
    fn send(&mut self) -> Result<(), Stop> {
        let Some(tx) = &self.tx else { return Ok(()) };
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, String::with_capacity(CHUNK_BYTES * 2)));
        tx.blocking_send(Ok(chunk)).map_err(|_| Stop::Gone)
    }
}

/// Every (round, group) key of the session with the round's seating, groups numbered from
/// `first`: 1 for the groups of players, 0 to list each round's `creating-session` call
/// (group 0) first. A round whose groups form by arrival lists those formed so far.
fn groups<'a>(
    store: &'a Store,
    manifest: &Manifest,
    session: &'a Session,
    first: u32,
) -> impl Iterator<Item = Result<(GroupKey, Arc<RoundSeating>), StoreError>> + 'a {
    (1..=manifest.num_rounds).flat_map(move |round| {
        let keys: Vec<_> = match store.seating(session, round) {
            Err(e) => vec![Err(e)],
            Ok(seating) => (first..=seating.groups().len() as u32)
                .map(|group| Ok((GroupKey { session: session.code.clone(), round, group }, seating.clone())))
                .collect(),
        };
        keys.into_iter()
    })
}

/// The position in the session (0-based) of player `id` of `key`'s group.
fn index_of(seating: &RoundSeating, key: &GroupKey, id: u32) -> usize {
    seating.position(key.group, id).map_or(usize::MAX, |p| p.saturating_sub(1) as usize)
}

/// The participant code and label (from `labels`, the session's in order) of player `id` of
/// `key`'s group.
fn who<'a>(session: &'a Session, labels: &'a [Option<String>], seating: &RoundSeating, key: &GroupKey, id: u32) -> (&'a str, Option<&'a str>) {
    let index = index_of(seating, key, id);
    (session.participants.get(index).map_or("", String::as_str), labels.get(index).and_then(Option::as_deref))
}

fn json_export(store: &Store, manifest: &Manifest, session: &Session, provenance: &Value, out: &mut Chunks) -> Result<(), Stop> {
    out.push("{\"session\":")?;
    out.json(&session.code)?;
    out.push(",\"game\":")?;
    out.json(&session.game)?;
    out.push(",\"treatment\":")?;
    out.json(&session.treatment)?;
    out.push(",\"config\":")?;
    out.json(&session.config)?;
    out.push(",\"provenance\":")?;
    out.json(provenance)?;
    out.push(",\"session_fields\":")?;
    out.json(&store.session_fields(manifest, &session.code)?)?;
    let labels = Rooms::open(store)?.labels_of(session)?;
    out.push(",\"participants\":")?;
    let people: Vec<Value> = session.participants.iter().zip(&labels).map(|(code, label)| json!({ "code": code, "label": label })).collect();
    out.json(&people)?;
    out.push(",\"rounds\":[")?;
    let mut round = 0;
    for group in groups(store, manifest, session, 1) {
        let (key, seating) = group?;
        if key.round != round {
            out.push(if round == 0 { "{" } else { "]},{" })?;
            round = key.round;
            out.push(&format!("\"round\":{round},\"groups\":["))?;
        } else {
            out.push(",")?;
        }
        let mut players = Vec::new();
        for id in 1..=session.players_per_group {
            let fields = store.player_fields(manifest, &key, id)?;
            let participant_fields = store.participant_fields(manifest, &key, session.players_per_group, id)?;
            let (code, label) = who(session, &labels, &seating, &key, id);
            players
                .push(json!({ "id_in_group": id, "participant": code, "label": label, "fields": fields, "participant_fields": participant_fields }));
        }
        out.json(&json!({ "group": key.group, "fields": store.group_fields(manifest, &key)?, "players": players }))?;
    }
    out.push(if round == 0 { "],\"live_log\":[" } else { "]}],\"live_log\":[" })?;
    let mut first = true;
    for group in groups(store, manifest, session, 0) {
        let (key, _) = group?;
        let calls = store.calls(&key)?;
        if calls.is_empty() {
            continue;
        }
        let messages: Vec<Value> = store
            .messages(&key)?
            .into_iter()
            .map(|m| json!({ "seq": m.seq, "to": m.to, "payload": serde_json::from_str::<Value>(&m.payload).unwrap_or(Value::String(m.payload)) }))
            .collect();
        out.push(if std::mem::take(&mut first) { "" } else { "," })?;
        // The calls as the log holds them: payloads, messages and writes byte for byte, as
        // a replay compares them.
        out.push(&format!("{{\"round\":{},\"group\":{},\"calls\":", key.round, key.group))?;
        out.json(&calls)?;
        out.push(",\"messages\":")?;
        out.json(&messages)?;
        out.push("}")?;
    }
    out.push("],\"page_times\":")?;
    out.json(&store.page_times(&session.code)?)?;
    out.push(",\"payments\":")?;
    out.json(&crate::server::api::payments::payments(store, manifest, session)?["participants"])?;
    out.push("}")
}

/// One CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

fn csv_row(out: &mut Chunks, fields: impl IntoIterator<Item = String>) -> Result<(), Stop> {
    let row: Vec<String> = fields.into_iter().map(|f| csv_field(&f)).collect();
    out.push(&row.join(","))?;
    out.push("\r\n")
}

fn players_csv(store: &Store, manifest: &Manifest, session: &Session, out: &mut Chunks) -> Result<(), Stop> {
    let head = ["session", "round", "group", "id_in_group", "participant", "participant.label"].map(String::from);
    let labels = Rooms::open(store)?.labels_of(session)?;
    let config_cols = session.config.keys().map(|k| format!("session.config.{k}"));
    let config_values: Vec<String> = session.config.values().map(Value::to_string).collect();
    let session_cols = manifest.session_fields.keys().map(|k| format!("session.{k}"));
    let session_values: Vec<String> = store.session_fields(manifest, &session.code)?.values().map(Value::to_string).collect();
    let group_cols = manifest.group_fields.keys().map(|k| format!("group.{k}"));
    let player_cols = manifest.player_fields.keys().map(|k| format!("player.{k}"));
    let participant_cols = manifest.participant_fields.keys().map(|k| format!("participant.{k}"));
    csv_row(out, head.into_iter().chain(config_cols).chain(session_cols).chain(group_cols).chain(player_cols).chain(participant_cols))?;
    for group in groups(store, manifest, session, 1) {
        let (key, seating) = group?;
        let group = store.group_fields(manifest, &key)?;
        for id in 1..=session.players_per_group {
            let player = store.player_fields(manifest, &key, id)?;
            let participant = store.participant_fields(manifest, &key, session.players_per_group, id)?;
            let (code, label) = who(session, &labels, &seating, &key, id);
            let lead = [
                session.code.clone(),
                key.round.to_string(),
                key.group.to_string(),
                id.to_string(),
                code.to_string(),
                label.unwrap_or_default().to_string(),
            ];
            let values = group.values().chain(player.values()).chain(participant.values()).map(Value::to_string);
            csv_row(out, lead.into_iter().chain(config_values.iter().cloned()).chain(session_values.iter().cloned()).chain(values))?;
        }
    }
    Ok(())
}

fn pages_csv(store: &Store, session: &Session, out: &mut Chunks) -> Result<(), Stop> {
    let head = ["session", "participant", "position", "round", "page", "arrived_ms", "viewed_ms", "left_ms", "seconds_on_page", "timeout_happened"];
    csv_row(out, head.map(String::from))?;
    for t in store.page_times(&session.code)? {
        let from = t.viewed_ms.unwrap_or(t.arrived_ms);
        let seconds = t.left_ms.saturating_sub(from) as f64 / 1000.0;
        csv_row(
            out,
            [
                session.code.clone(),
                t.participant,
                t.position.to_string(),
                t.round.to_string(),
                t.page,
                t.arrived_ms.to_string(),
                t.viewed_ms.map(|v| v.to_string()).unwrap_or_default(),
                t.left_ms.to_string(),
                format!("{seconds:.3}"),
                t.timeout_happened.to_string(),
            ],
        )?;
    }
    Ok(())
}

fn log_csv(store: &Store, manifest: &Manifest, session: &Session, out: &mut Chunks) -> Result<(), Stop> {
    csv_row(out, ["round", "group", "call", "time_ms", "page", "sender", "payload", "seqs", "error"].map(String::from))?;
    for group in groups(store, manifest, session, 0) {
        let (key, _) = group?;
        for c in store.calls(&key)? {
            let seqs = c.seqs.map(|(a, b)| format!("{a}-{b}")).unwrap_or_default();
            csv_row(
                out,
                [
                    key.round.to_string(),
                    key.group.to_string(),
                    c.call.to_string(),
                    c.time_ms.to_string(),
                    c.page,
                    c.sender.to_string(),
                    c.payload.get().to_string(),
                    seqs,
                    c.error.unwrap_or_default(),
                ],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("12"), "12");
        assert_eq!(csv_field("\"a\""), "\"\"\"a\"\"\"");
        assert_eq!(csv_field("[1,2]"), "\"[1,2]\"");
        assert_eq!(csv_field("a\nb"), "\"a\nb\"");
    }
}
