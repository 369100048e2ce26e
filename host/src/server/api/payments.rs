//! A session's payments: each participant's payoff in points (the sum of its players'
//! built-in `payoff` over the rounds) and in money, `points × real_world_currency_per_point +
//! participation_fee` from the session's config (oTree's defaults when it has none: 1 and 0).
//!
//! - `GET /api/sessions/{code}/payments` → `{"session", "real_world_currency_per_point",
//!   "participation_fee", "participants": [{"code", "label", "points", "money"}]}` (`label`:
//!   the participant label given in a room, else null);
//! - `GET /admin/sessions/{code}/payments`: the same as a page.

use serde_json::{Value, json};

use crate::manifest::Manifest;
use crate::store::{GroupKey, Rooms, Session, Store, StoreError};

/// The payments of `session` of `manifest`'s game.
pub(crate) fn payments(store: &Store, manifest: &Manifest, session: &Session) -> Result<Value, StoreError> {
    let number = |key: &str, default: f64| session.config.get(key).and_then(Value::as_f64).unwrap_or(default);
    let (rate, fee) = (number("real_world_currency_per_point", 1.0), number("participation_fee", 0.0));
    let labels = Rooms::open(store)?.labels_of(session)?;
    let mut people = Vec::with_capacity(session.participants.len());
    for ((index, code), label) in session.participants.iter().enumerate().zip(labels) {
        let (group, id) = crate::store::seating::seat(index as u32 + 1, session.players_per_group);
        let mut points = 0.0;
        for round in 1..=manifest.num_rounds {
            let key = GroupKey { session: session.code.clone(), round, group };
            points += store.player_fields(manifest, &key, id)?.get("payoff").and_then(Value::as_f64).unwrap_or(0.0);
        }
        let money = (points * rate + fee) * 100.0;
        people.push(json!({ "code": code, "label": label, "points": points, "money": money.round() / 100.0 }));
    }
    Ok(json!({
        "session": session.code,
        "real_world_currency_per_point": rate,
        "participation_fee": fee,
        "participants": people,
    }))
}
