//! Page rendering: a page's template with `vars-for-template`'s keys at the top level, plus
//! `player` (id_in_group and its fields), `group` (id and its fields), `participant` (code,
//! id_in_session and its `[participant.fields]`), `session` (code, config and its
//! `[session.fields]`), `page`, `round_number` and `num_rounds`.

use serde_json::{Map, Value, json};

use crate::game::error::CallError;
use crate::game::forms::{FormState, fields_html};
use crate::game::state::Instance;
use crate::game::{Game, Seat};
use crate::store::Store;

pub use crate::game::templates::{registry, render_data};

/// The variables a page's template sees, for the player at `seat`; `vars-for-template` runs
/// on the read-only instance kept in `slot` (pass `&mut None` for a fresh one).
pub fn template_data(slot: &mut Option<Instance>, game: &Game, store: &Store, seat: Seat<'_>, participant: &str) -> Result<Value, CallError> {
    template_data_with(slot, game, store, seat, participant, None)
}

/// [`template_data`] with the page's form fields (`stoa_form`, for `{{formfield}}`) shown
/// again with a refused submission's `form`.
fn template_data_with(
    slot: &mut Option<Instance>,
    game: &Game,
    store: &Store,
    seat: Seat<'_>,
    participant: &str,
    form: Option<&FormState>,
) -> Result<Value, CallError> {
    // A participant still waiting to be grouped by arrival has no player for the game to see.
    let mut data: Map<String, Value> = match seat.group.group {
        0 => Map::new(),
        _ => game.vars_for_template(slot, store, seat)?,
    };
    let mut player = Map::new();
    player.insert("id_in_group".into(), json!(seat.id_in_group));
    for (k, v) in store.player_fields(&game.manifest, seat.group, seat.id_in_group)? {
        player.insert(k, v);
    }
    let mut group_fields = Map::new();
    group_fields.insert("id".into(), json!(seat.group.group));
    for (k, v) in store.group_fields(&game.manifest, seat.group)? {
        group_fields.insert(k, v);
    }
    if let Some((_, page)) = game.manifest.page(seat.page)
        && !page.form_fields.is_empty()
    {
        data.insert("stoa_form".into(), Value::Object(fields_html(&game.manifest, page, &player, form)));
        data.insert("stoa_form_order".into(), json!(page.form_fields));
    }
    data.insert("player".into(), Value::Object(player));
    data.insert("group".into(), Value::Object(group_fields));
    data.insert("page".into(), json!(seat.page));
    data.insert("round_number".into(), json!(seat.group.round));
    data.insert("num_rounds".into(), json!(game.manifest.num_rounds));
    let mut participant_fields = Map::new();
    participant_fields.insert("code".into(), json!(participant));
    let position = store.position_of(seat.group, seat.id_in_group, seat.players)?;
    participant_fields.insert("id_in_session".into(), json!(position));
    for (k, v) in store.participant_fields(&game.manifest, seat.group, seat.players, seat.id_in_group)? {
        participant_fields.insert(k, v);
    }
    let mut session = Map::new();
    session.insert("code".into(), json!(seat.group.session));
    session.insert("config".into(), serde_json::from_str(&store.session_config_text(&seat.group.session)).unwrap_or(Value::Null));
    for (k, v) in store.session_fields(&game.manifest, &seat.group.session)? {
        session.insert(k, v);
    }
    data.insert("participant".into(), Value::Object(participant_fields));
    data.insert("session".into(), Value::Object(session));
    Ok(Value::Object(data))
}

/// Renders the page of the player at `seat` (the inner HTML; the server wraps it in its
/// layout), running `vars-for-template` on the read-only instance kept in `slot` (`&mut
/// None`: a fresh one).
pub fn render(slot: &mut Option<Instance>, game: &Game, store: &Store, seat: Seat<'_>, participant: &str) -> Result<String, CallError> {
    render_form(slot, game, store, seat, participant, None)
}

/// [`render`] showing a refused submission's `form` again (its text, each field's reason).
pub fn render_form(
    slot: &mut Option<Instance>,
    game: &Game,
    store: &Store,
    seat: Seat<'_>,
    participant: &str,
    form: Option<&FormState>,
) -> Result<String, CallError> {
    let data = template_data_with(slot, game, store, seat, participant, form)?;
    render_data(&game.templates, seat.page, &data)
}
