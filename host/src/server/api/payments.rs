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
    let seatings = (1..=manifest.num_rounds).map(|round| store.seating(session, round)).collect::<Result<Vec<_>, _>>()?;
    for ((position, code), label) in (1..).zip(&session.participants).zip(labels) {
        let mut points = 0.0;
        // Round by round, wherever the participant sat (a round not grouped yet pays nothing).
        for (round, seating) in (1..).zip(&seatings) {
            let Some((group, id)) = seating.seat(position) else { continue };
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
