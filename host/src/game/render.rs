//! Page rendering: a page's template with `vars-for-template`'s keys at the top level, plus
//! `player` (id_in_group and its fields), `group` (its fields), `page`, `round_number` and
//! `participant` (`{code}`). Handlebars escapes every `{{value}}`, so a payload or field a
//! participant controls cannot inject markup.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::game::{CallError, Game, Instance};
use crate::store::{GroupKey, Store};

/// The variables a page's template sees; `vars-for-template` runs on the read-only instance
/// kept in `slot` (pass `&mut None` for a fresh one).
#[allow(clippy::too_many_arguments)]
pub fn template_data(
    slot: &mut Option<Instance>,
    game: &Arc<Game>,
    store: &Store,
    group: &GroupKey,
    players: u32,
    page: &str,
    id_in_group: u32,
    participant: &str,
) -> Result<Value, CallError> {
    let mut data: Map<String, Value> = game.vars_for_template(slot, store, group, players, page, id_in_group)?;
    let mut player = Map::new();
    player.insert("id_in_group".into(), json!(id_in_group));
    for (k, v) in store.player_fields(&game.manifest, group, id_in_group)? {
        player.insert(k, v);
    }
    let mut group_fields = Map::new();
    group_fields.insert("id".into(), json!(group.group));
    for (k, v) in store.group_fields(&game.manifest, group)? {
        group_fields.insert(k, v);
    }
    data.insert("player".into(), Value::Object(player));
    data.insert("group".into(), Value::Object(group_fields));
    data.insert("page".into(), json!(page));
    data.insert("round_number".into(), json!(group.round));
    data.insert("num_rounds".into(), json!(game.manifest.num_rounds));
    data.insert("participant".into(), json!({ "code": participant }));
    Ok(Value::Object(data))
}

/// Renders `page`'s template (the inner HTML; the server wraps it in its layout), running
/// `vars-for-template` on the read-only instance kept in `slot` (`&mut None`: a fresh one).
#[allow(clippy::too_many_arguments)]
pub fn render(
    slot: &mut Option<Instance>,
    game: &Arc<Game>,
    store: &Store,
    group: &GroupKey,
    players: u32,
    page: &str,
    id_in_group: u32,
    participant: &str,
) -> Result<String, CallError> {
    let data = template_data(slot, game, store, group, players, page, id_in_group, participant)?;
    render_data(&game.templates, page, &data)
}

/// An empty registry for a game's page templates, set up as every game's is (a missing
/// variable renders as nothing; every `{{value}}` is HTML-escaped).
pub fn registry() -> handlebars::Handlebars<'static> {
    let mut templates = handlebars::Handlebars::new();
    templates.set_strict_mode(false);
    templates
}

/// Renders template `page` of `templates` with `data` (as [`render`] does after gathering
/// the data; public for the fuzz target).
pub fn render_data(templates: &handlebars::Handlebars<'_>, page: &str, data: &Value) -> Result<String, CallError> {
    templates.render(page, data).map_err(|e| CallError::Output(format!("template of page `{page}` failed: {e}")))
}
