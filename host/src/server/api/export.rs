//! Session export: every group and player field per round, and the live log.
//!
//! - `format=json`: `{"session", "game", "rounds": [{"round", "groups": [{"group", "fields",
//!   "players": [{"id_in_group", "participant", "fields"}]}]}], "live_log": [{"round", "group",
//!   "calls": [CallEntry...], "messages": [{"seq", "to", "payload"}]}]}` (groups with no calls
//!   are left out of `live_log`).
//! - `format=csv` (`table=players`, the default): one row per player per round — `session, round,
//!   group, id_in_group, participant, group.FIELD..., player.FIELD...`, each value as JSON text.
//! - `format=csv&table=log`: one row per live call — `round, group, call, time_ms, page,
//!   sender, payload, seqs` (`first-last`, empty when none) `, error`.
//!
//! Rounds not reached yet show their fields' initial values.

use serde::Deserialize;
use serde_json::{Value, json};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::manifest::Manifest;
use crate::server::api::error::ApiError;
use crate::server::state::AppState;
use crate::store::{GroupKey, Session, Store, StoreError};

/// `?format=json|csv&table=players|log`.
#[derive(Debug, Deserialize)]
pub(crate) struct ExportQuery {
    format: Option<String>,
    table: Option<String>,
}

/// The export `query` asks for, as a download.
pub(crate) async fn respond(state: &AppState, session: &Session, query: &ExportQuery) -> Result<Response, ApiError> {
    let game = state.game(&session.game).ok_or_else(|| {
        ApiError(StatusCode::CONFLICT, format!("the game `{}` of session `{}` is not loaded: its fields are unknown", session.game, session.code))
    })?;
    let (store, manifest, session2) = (state.store.clone(), game.manifest.clone(), session.clone());
    let format = query.format.clone().unwrap_or_else(|| "json".into());
    let table = query.table.clone().unwrap_or_else(|| "players".into());
    let (kind, body) = match (format.as_str(), table.as_str()) {
        ("json", _) => ("application/json", blocking(move || json_export(&store, &manifest, &session2).map(|v| v.to_string())).await?),
        ("csv", "players") => ("text/csv; charset=utf-8", blocking(move || players_csv(&store, &manifest, &session2)).await?),
        ("csv", "log") => ("text/csv; charset=utf-8", blocking(move || log_csv(&store, &manifest, &session2)).await?),
        ("csv", other) => return Err(ApiError(StatusCode::BAD_REQUEST, format!("unknown table `{other}`: use table=players or table=log"))),
        (other, _) => return Err(ApiError(StatusCode::BAD_REQUEST, format!("unknown format `{other}`: use format=json or format=csv"))),
    };
    let suffix = if format == "csv" && table == "log" { "-log" } else { "" };
    let disposition = format!("attachment; filename=\"stoa-{}{suffix}.{format}\"", session.code);
    Ok(([(header::CONTENT_TYPE, kind.to_string()), (header::CONTENT_DISPOSITION, disposition)], body).into_response())
}

/// Runs a store scan off the async threads.
async fn blocking(f: impl FnOnce() -> Result<String, StoreError> + Send + 'static) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("export failed: {e}")))?
        .map_err(ApiError::from)
}

/// Every (round, group) key of the session.
fn groups(manifest: &Manifest, session: &Session) -> impl Iterator<Item = GroupKey> {
    let count = session.participants.len() as u32 / session.players_per_group.max(1);
    let code = session.code.clone();
    (1..=manifest.num_rounds).flat_map(move |round| {
        let code = code.clone();
        (1..=count).map(move |group| GroupKey { session: code.clone(), round, group })
    })
}

/// The participant code of player `id` in group `group`.
fn code_of(session: &Session, group: u32, id: u32) -> &str {
    let index = (group as usize).saturating_sub(1) * session.players_per_group as usize + (id as usize).saturating_sub(1);
    session.participants.get(index).map_or("", String::as_str)
}

fn json_export(store: &Store, manifest: &Manifest, session: &Session) -> Result<Value, StoreError> {
    let mut rounds: Vec<Value> = Vec::new();
    let mut log = Vec::new();
    for key in groups(manifest, session) {
        if rounds.last().is_none_or(|r| r["round"] != json!(key.round)) {
            rounds.push(json!({ "round": key.round, "groups": [] }));
        }
        let mut players = Vec::new();
        for id in 1..=session.players_per_group {
            let fields = store.player_fields(manifest, &key, id)?;
            players.push(json!({ "id_in_group": id, "participant": code_of(session, key.group, id), "fields": fields }));
        }
        let group = json!({ "group": key.group, "fields": store.group_fields(manifest, &key)?, "players": players });
        if let Some(Value::Array(list)) = rounds.last_mut().and_then(|r| r.get_mut("groups")) {
            list.push(group);
        }
        let calls = store.calls(&key)?;
        if !calls.is_empty() {
            let messages: Vec<Value> = store
                .messages(&key)?
                .into_iter()
                .map(
                    |m| json!({ "seq": m.seq, "to": m.to, "payload": serde_json::from_str::<Value>(&m.payload).unwrap_or(Value::String(m.payload)) }),
                )
                .collect();
            log.push(json!({ "round": key.round, "group": key.group, "calls": calls, "messages": messages }));
        }
    }
    Ok(json!({ "session": session.code, "game": session.game, "rounds": rounds, "live_log": log }))
}

/// One CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_string() }
}

fn csv_row(out: &mut String, fields: impl IntoIterator<Item = String>) {
    let row: Vec<String> = fields.into_iter().map(|f| csv_field(&f)).collect();
    out.push_str(&row.join(","));
    out.push_str("\r\n");
}

fn players_csv(store: &Store, manifest: &Manifest, session: &Session) -> Result<String, StoreError> {
    let mut out = String::new();
    let head = ["session", "round", "group", "id_in_group", "participant"].map(String::from);
    let group_cols = manifest.group_fields.keys().map(|k| format!("group.{k}"));
    let player_cols = manifest.player_fields.keys().map(|k| format!("player.{k}"));
    csv_row(&mut out, head.into_iter().chain(group_cols).chain(player_cols));
    for key in groups(manifest, session) {
        let group = store.group_fields(manifest, &key)?;
        for id in 1..=session.players_per_group {
            let player = store.player_fields(manifest, &key, id)?;
            let lead =
                [session.code.clone(), key.round.to_string(), key.group.to_string(), id.to_string(), code_of(session, key.group, id).to_string()];
            csv_row(&mut out, lead.into_iter().chain(group.values().map(Value::to_string)).chain(player.values().map(Value::to_string)));
        }
    }
    Ok(out)
}

fn log_csv(store: &Store, manifest: &Manifest, session: &Session) -> Result<String, StoreError> {
    let mut out = String::new();
    csv_row(&mut out, ["round", "group", "call", "time_ms", "page", "sender", "payload", "seqs", "error"].map(String::from));
    for key in groups(manifest, session) {
        for c in store.calls(&key)? {
            let seqs = c.seqs.map(|(a, b)| format!("{a}-{b}")).unwrap_or_default();
            csv_row(
                &mut out,
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
            );
        }
    }
    Ok(out)
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
