//! `game.toml`: a game's name, grouping, typed fields, pages and limits.
//!
//! A bad manifest is refused at load with the file, the key and the reason, so a researcher
//! never finds out about a typo in the middle of a lab session.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::limits::LimitOverrides;

/// Why a manifest was refused: the file, the key (dotted path, empty for the whole file) and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}{reason}", file.display(), if key.is_empty() { String::new() } else { format!("key `{key}`: ") })]
pub struct ManifestError {
    /// The manifest file.
    pub file: PathBuf,
    /// The offending key, as a dotted path (`page[1].template`).
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A field's declared type. Writes that do not fit are refused, never coerced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// JSON integers only (`10`, not `10.0`).
    Integer,
    /// Any JSON number (`10` fits a float).
    Float,
    /// `true` or `false`.
    Boolean,
    /// A JSON string.
    String,
    /// Any JSON value.
    Json,
}

impl FieldType {
    /// Whether `value` may be stored in a field of this type. Null fits every type.
    pub fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) | (FieldType::Json, _) => true,
            (FieldType::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (FieldType::Float, Value::Number(_)) => true,
            (FieldType::Boolean, Value::Bool(_)) => true,
            (FieldType::String, Value::String(_)) => true,
            _ => false,
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::Integer => "integer",
            FieldType::Float => "float",
            FieldType::Boolean => "boolean",
            FieldType::String => "string",
            FieldType::Json => "json",
        })
    }
}

/// A declared field: its type, its value before any write (null when omitted) and, for a
/// field a page's form asks for, how the form shows and checks it.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// The declared type.
    pub ty: FieldType,
    /// The initial value as JSON text.
    pub initial: String,
    /// The form's attributes.
    pub form: FormAttrs,
}

/// How a form field is shown and checked (oTree's field arguments).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FormAttrs {
    /// The label beside the input (default: the field's name).
    pub label: Option<String>,
    /// Smallest number allowed.
    pub min: Option<f64>,
    /// Largest number allowed.
    pub max: Option<f64>,
    /// The values allowed, if only some are.
    pub choices: Vec<Value>,
    /// Whether it may be left empty (stored as null).
    pub blank: bool,
    /// `radio` for radio buttons over `choices`; default a select, a number or a text input.
    pub widget: Option<String>,
}

/// What a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PageKind {
    /// A page the participant submits.
    #[default]
    Normal,
    /// Waits until the whole group has arrived, then moves everyone on.
    Wait,
}

/// How a session's groups are drawn each round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grouping {
    /// The same groups, by position, every round.
    #[default]
    Fixed,
    /// New random groups and ids every round.
    Random,
    /// New random groups every round; each player keeps its id in group.
    RandomKeepId,
    /// Groups form in arrival order on the first page of each round.
    Arrival,
}

/// One page of the sequence.
#[derive(Debug, Clone)]
pub struct Page {
    /// Name, unique in the game.
    pub name: String,
    /// Template path relative to the game directory.
    pub template: PathBuf,
    /// Whether the page has a live channel routed to `live-method`.
    pub live: bool,
    /// Normal or wait page.
    pub kind: PageKind,
    /// Leave the page automatically this many seconds after the participant first sees it (a
    /// wait page: go on with the members there).
    pub timeout_seconds: Option<u32>,
    /// The player fields its form asks for, in order: the host renders, checks and stores them.
    pub form_fields: Vec<String>,
    /// On a live page: whether live.js replays the page's messages when it opens (`history`,
    /// default true).
    pub history: bool,
    /// On the first page, a wait page: groups form there in arrival order, each round.
    pub group_by_arrival_time: bool,
}

/// A parsed and checked `game.toml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The game's key in the API and on disk.
    pub name: String,
    /// Players in each group; `None` (left out of game.toml): the whole session is one group,
    /// oTree's `None` (a market). See [`Manifest::group_size`].
    pub players_per_group: Option<u32>,
    /// How a session's groups are drawn each round: `grouping` (fixed, random,
    /// random-keep-id), or by arrival when the first page has `group_by_arrival_time`.
    pub grouping: Grouping,
    /// Rounds the page sequence is played.
    pub num_rounds: u32,
    /// The component, relative to the game directory.
    pub component: PathBuf,
    /// Bot cases; the bot session is run once per case.
    pub bot_cases: Vec<String>,
    /// Whether one instance may serve successive live calls of one group (never of another
    /// group or session); it is dropped after a trap, a refused reply or idleness. Large
    /// guests (Python, JavaScript) start much faster this way; memory is not persisted.
    pub warm_instances: bool,
    /// Group fields by name.
    pub group_fields: BTreeMap<String, FieldSpec>,
    /// Player fields by name.
    pub player_fields: BTreeMap<String, FieldSpec>,
    /// `[participant.fields]`: a participant's fields, kept across rounds.
    pub participant_fields: BTreeMap<String, FieldSpec>,
    /// `[session.fields]`: the session's fields, written in `creating-session`.
    pub session_fields: BTreeMap<String, FieldSpec>,
    /// The page sequence of one round.
    pub pages: Vec<Page>,
    /// Limits the game asks for, checked against the host maxima when the game is loaded.
    pub limits: LimitOverrides,
    /// `[config]`: the session config's defaults; every key is in each call's `ctx.config`.
    pub config: serde_json::Map<String, Value>,
    /// `[[session_config]]`: named treatments, each overriding some of `[config]`'s values.
    pub treatments: Vec<Treatment>,
}

/// One `[[session_config]]`: a name and the values it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Treatment {
    /// Its name, chosen at session creation.
    pub name: String,
    /// The values it sets over `[config]`'s.
    pub values: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    players_per_group: Option<u32>,
    #[serde(default = "one")]
    num_rounds: u32,
    component: PathBuf,
    #[serde(default)]
    bot_cases: Vec<String>,
    #[serde(default)]
    warm_instances: bool,
    #[serde(default)]
    grouping: RawGrouping,
    #[serde(default)]
    group: RawFields,
    #[serde(default)]
    player: RawFields,
    #[serde(default)]
    participant: RawFields,
    #[serde(default)]
    session: RawFields,
    #[serde(default, rename = "page")]
    pages: Vec<RawPage>,
    #[serde(default)]
    limits: LimitOverrides,
    #[serde(default)]
    config: BTreeMap<String, Value>,
    #[serde(default, rename = "session_config")]
    treatments: Vec<BTreeMap<String, Value>>,
}

fn one() -> u32 {
    1
}

/// `grouping`: how a session's groups are drawn each round (arrival grouping is a page's).
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum RawGrouping {
    #[default]
    Fixed,
    Random,
    RandomKeepId,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFields {
    #[serde(default)]
    fields: BTreeMap<String, RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    #[serde(rename = "type")]
    ty: FieldType,
    initial: Option<Value>,
    label: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
    #[serde(default)]
    choices: Vec<Value>,
    #[serde(default)]
    blank: bool,
    widget: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPage {
    name: String,
    template: PathBuf,
    #[serde(default)]
    live: bool,
    #[serde(default)]
    kind: PageKind,
    timeout_seconds: Option<u32>,
    #[serde(default)]
    form_fields: Vec<String>,
    #[serde(default = "yes")]
    history: bool,
    #[serde(default)]
    group_by_arrival_time: bool,
}

fn yes() -> bool {
    true
}

impl Manifest {
    /// Reads and checks `dir/game.toml`; template and component files must exist.
    pub fn load(dir: &Path) -> Result<Manifest, ManifestError> {
        let file = dir.join("game.toml");
        let text = std::fs::read_to_string(&file).map_err(|e| ManifestError {
            file: file.clone(),
            key: String::new(),
            reason: format!("cannot read: {e}"),
        })?;
        let manifest = Manifest::parse(&file, &text)?;
        let err = |key: String, reason: String| ManifestError { file: file.clone(), key, reason };
        for (i, page) in manifest.pages.iter().enumerate() {
            if !dir.join(&page.template).is_file() {
                return Err(err(format!("page[{i}].template"), format!("template file `{}` not found", page.template.display())));
            }
        }
        if !dir.join(&manifest.component).is_file() {
            return Err(err("component".into(), format!("component file `{}` not found (is the game built?)", manifest.component.display())));
        }
        Ok(manifest)
    }

    /// Parses and checks manifest text; `file` only names it in errors. Files are not touched.
    pub fn parse(file: &Path, text: &str) -> Result<Manifest, ManifestError> {
        let err = |key: &str, reason: String| ManifestError { file: file.to_path_buf(), key: key.to_string(), reason };
        let table: toml::Table = toml::from_str(text).map_err(|e| err("", format!("not valid TOML: {}", e.message())))?;
        let raw: RawManifest = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            err(if path == "." { "" } else { &path }, e.into_inner().to_string())
        })?;

        if raw.name.is_empty() || !raw.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(err("name", format!("`{}` must be non-empty ASCII letters, digits, `-` or `_`", raw.name)));
        }
        if raw.players_per_group.is_some_and(|n| n == 0 || n > 10_000) {
            return Err(err("players_per_group", "must be between 1 and 10000".into()));
        }
        if raw.num_rounds == 0 || raw.num_rounds > 10_000 {
            return Err(err("num_rounds", "must be between 1 and 10000".into()));
        }
        if raw.pages.is_empty() {
            return Err(err("page", "a game needs at least one [[page]]".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, page) in raw.pages.iter().enumerate() {
            if page.name.is_empty() || !page.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(err(&format!("page[{i}].name"), format!("`{}` must be ASCII letters, digits, `-` or `_`", page.name)));
            }
            if !seen.insert(page.name.as_str()) {
                return Err(err(&format!("page[{i}].name"), format!("page `{}` is declared twice", page.name)));
            }
            if page.timeout_seconds == Some(0) {
                return Err(err(&format!("page[{i}].timeout_seconds"), "must be at least 1".into()));
            }
            if page.group_by_arrival_time {
                let key = format!("page[{i}].group_by_arrival_time");
                let why = if i != 0 || page.kind != PageKind::Wait {
                    Some("only the first page may group by arrival time, and it must be a wait page (kind = \"wait\")")
                } else if page.live {
                    Some("a page grouping by arrival time cannot be live: its players have no group yet")
                } else if page.timeout_seconds.is_some() {
                    Some("a page grouping by arrival time cannot time out: a group must be complete")
                } else if !matches!(raw.grouping, RawGrouping::Fixed) {
                    Some("groups formed by arrival time cannot also be drawn at random: leave `grouping` out")
                } else if raw.players_per_group.is_none() {
                    Some("grouping by arrival time needs `players_per_group`")
                } else {
                    None
                };
                if let Some(why) = why {
                    return Err(err(&key, why.into()));
                }
            }
            if page.template.is_absolute() || page.template.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                return Err(err(&format!("page[{i}].template"), "must be a path inside the game directory".into()));
            }
        }
        if raw.component.is_absolute() || raw.component.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(err("component", "must be a path inside the game directory".into()));
        }
        let config = config_values(&raw.config, "config", &err)?;
        let mut treatments: Vec<Treatment> = Vec::new();
        for (i, t) in raw.treatments.iter().enumerate() {
            let key = format!("session_config[{i}]");
            let name = match t.get("name") {
                Some(Value::String(n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => n.clone(),
                Some(other) => return Err(err(&format!("{key}.name"), format!("{other} must be a name of ASCII letters, digits, `-` or `_`"))),
                None => return Err(err(&key, "a [[session_config]] needs a `name`".into())),
            };
            if treatments.iter().any(|t| t.name == name) {
                return Err(err(&format!("{key}.name"), format!("session config `{name}` is declared twice")));
            }
            let mut values = t.clone();
            values.remove("name");
            let values = config_values(&values, &key, &err)?;
            treatments.push(Treatment { name, values });
        }
        let group_fields = fields(&raw.group.fields, "group.fields", &err)?;
        let mut player_fields = fields(&raw.player.fields, "player.fields", &err)?;
        let participant_fields = fields(&raw.participant.fields, "participant.fields", &err)?;
        let session_fields = fields(&raw.session.fields, "session.fields", &err)?;
        // Every game has oTree's player field `payoff`, unless it declares its own.
        player_fields.entry("payoff".into()).or_insert(FieldSpec { ty: FieldType::Float, initial: "0".into(), form: FormAttrs::default() });
        for (i, page) in raw.pages.iter().enumerate() {
            for (j, f) in page.form_fields.iter().enumerate() {
                if !player_fields.contains_key(f) {
                    return Err(err(&format!("page[{i}].form_fields[{j}]"), format!("`{f}` is not a player field of this game")));
                }
                if page.kind == PageKind::Wait {
                    return Err(err(&format!("page[{i}].form_fields"), "a wait page has no form".into()));
                }
            }
        }
        let grouping = match raw.grouping {
            _ if raw.pages.first().is_some_and(|p| p.group_by_arrival_time) => Grouping::Arrival,
            RawGrouping::Fixed => Grouping::Fixed,
            RawGrouping::Random => Grouping::Random,
            RawGrouping::RandomKeepId => Grouping::RandomKeepId,
        };
        Ok(Manifest {
            name: raw.name,
            players_per_group: raw.players_per_group,
            grouping,
            num_rounds: raw.num_rounds,
            component: raw.component,
            bot_cases: raw.bot_cases,
            warm_instances: raw.warm_instances,
            group_fields,
            player_fields,
            participant_fields,
            session_fields,
            pages: raw
                .pages
                .into_iter()
                .map(|p| Page {
                    name: p.name,
                    template: p.template,
                    live: p.live,
                    kind: p.kind,
                    timeout_seconds: p.timeout_seconds,
                    form_fields: p.form_fields,
                    history: p.history,
                    group_by_arrival_time: p.group_by_arrival_time,
                })
                .collect(),
            limits: raw.limits,
            config,
            treatments,
        })
    }

    /// The config of a session made with treatment `treatment` (a `[[session_config]]`'s name,
    /// or none: `[config]` alone) and `params` edited over it. Each edited key must be one the
    /// config has, with a value of the same kind; the error says what is wrong.
    pub fn session_config(&self, treatment: Option<&str>, params: &serde_json::Map<String, Value>) -> Result<serde_json::Map<String, Value>, String> {
        let mut config = self.config.clone();
        if let Some(name) = treatment {
            let Some(t) = self.treatments.iter().find(|t| t.name == name) else {
                let names: Vec<&str> = self.treatments.iter().map(|t| t.name.as_str()).collect();
                return Err(match names.as_slice() {
                    [] => format!("game `{}` has no [[session_config]], so not `{name}`", self.name),
                    _ => format!("game `{}` has no session config `{name}` (it has {})", self.name, names.join(", ")),
                });
            };
            config.extend(t.values.clone());
        }
        for (key, value) in params {
            let Some(old) = config.get(key) else {
                // The host's own key (`crate::session::completion`): a session may be given
                // a completion URL whether or not the game's config names one.
                if key == "completion_url" && value.is_string() {
                    config.insert(key.clone(), value.clone());
                    continue;
                }
                let keys: Vec<&str> = config.keys().map(String::as_str).collect();
                return Err(format!(
                    "`{key}` is not a key of this session's config (it has {})",
                    if keys.is_empty() { "none".into() } else { keys.join(", ") }
                ));
            };
            let same = matches!(
                (old, value),
                (Value::Number(_), Value::Number(_)) | (Value::String(_), Value::String(_)) | (Value::Bool(_), Value::Bool(_))
            );
            if !same {
                return Err(format!("config `{key}` is {old} in game.toml, so {value} is not a value for it"));
            }
            config.insert(key.clone(), value.clone());
        }
        Ok(config)
    }

    /// The size of a session's groups with `participants` participants: `players_per_group`,
    /// or all of them when the game has none (one group).
    pub fn group_size(&self, participants: u32) -> u32 {
        self.players_per_group.unwrap_or(participants).max(1)
    }

    /// Participants of a session made without a number (a demo, a bot run): two groups, or
    /// four players when the whole session is one group.
    pub fn default_participants(&self) -> u32 {
        self.players_per_group.map_or(4, |n| n * 2)
    }

    /// The page named `name` and its index in the sequence.
    pub fn page(&self, name: &str) -> Option<(usize, &Page)> {
        self.pages.iter().enumerate().find(|(_, p)| p.name == name)
    }
}

/// A config table's values: each a number, a string or a boolean, under a field-like name.
fn config_values(
    raw: &BTreeMap<String, Value>,
    section: &str,
    err: &dyn Fn(&str, String) -> ManifestError,
) -> Result<serde_json::Map<String, Value>, ManifestError> {
    let mut out = serde_json::Map::new();
    for (name, value) in raw {
        let key = format!("{section}.{name}");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(&key, "config keys are ASCII letters, digits and `_`".into()));
        }
        if !matches!(value, Value::Number(_) | Value::String(_) | Value::Bool(_)) {
            return Err(err(&key, format!("{value} is not a number, a string or a boolean")));
        }
        out.insert(name.clone(), value.clone());
    }
    Ok(out)
}

fn fields(
    raw: &BTreeMap<String, RawField>,
    section: &str,
    err: &dyn Fn(&str, String) -> ManifestError,
) -> Result<BTreeMap<String, FieldSpec>, ManifestError> {
    let mut out = BTreeMap::new();
    for (name, field) in raw {
        let key = format!("{section}.{name}");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(&key, "field names are ASCII letters, digits and `_`".into()));
        }
        let initial = field.initial.clone().unwrap_or(Value::Null);
        if !field.ty.accepts(&initial) {
            return Err(err(&format!("{key}.initial"), format!("{initial} is not a valid {}", field.ty)));
        }
        if let Some(w) = field.widget.as_deref()
            && w != "radio"
        {
            return Err(err(&format!("{key}.widget"), format!("`{w}` is not a widget: the one there is is `radio` (over `choices`)")));
        }
        if let Some(c) = field.choices.iter().find(|c| c.is_null() || !field.ty.accepts(c)) {
            return Err(err(&format!("{key}.choices"), format!("{c} is not a {}", field.ty)));
        }
        if (field.min.is_some() || field.max.is_some()) && !matches!(field.ty, FieldType::Integer | FieldType::Float) {
            return Err(err(&key, format!("min and max are for numbers, and this field is a {}", field.ty)));
        }
        let form = FormAttrs {
            label: field.label.clone(),
            min: field.min,
            max: field.max,
            choices: field.choices.clone(),
            blank: field.blank,
            widget: field.widget.clone(),
        };
        out.insert(name.clone(), FieldSpec { ty: field.ty, initial: initial.to_string(), form });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "auction"
players_per_group = 3
component = "target/auction.wasm"
[group.fields]
max_bid = { type = "integer", initial = 0 }
history = { type = "json", initial = [] }
note = { type = "string" }
[player.fields]
bids = { type = "integer", initial = 0 }
[[page]]
name = "Bid"
template = "templates/Bid.hbs"
live = true
timeout_seconds = 120
[[page]]
name = "Wait"
template = "templates/Wait.hbs"
kind = "wait"
"#;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(Path::new("games/x/game.toml"), text)
    }

    #[test]
    fn parses_fields_pages_and_defaults() {
        let m = parse(GOOD).expect("valid manifest");
        assert_eq!(m.num_rounds, 1);
        assert_eq!(m.group_fields["max_bid"].initial, "0");
        assert_eq!(m.group_fields["history"].initial, "[]");
        assert_eq!(m.group_fields["note"].initial, "null");
        assert_eq!(m.pages[1].kind, PageKind::Wait);
        assert_eq!(m.pages[0].timeout_seconds, Some(120));
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let e = parse(&GOOD.replace("live = true", "live = true\nlvie = 1")).expect_err("unknown key");
        let text = e.to_string();
        assert!(text.starts_with("games/x/game.toml: "), "{text}");
        assert!(text.contains("page[0]"), "{text}");
        assert!(text.contains("lvie"), "{text}");
    }

    #[test]
    fn wrong_type_of_key_is_refused_with_its_path() {
        let e = parse(&GOOD.replace("players_per_group = 3", "players_per_group = \"three\"")).expect_err("bad type");
        assert_eq!(e.key, "players_per_group");
    }

    #[test]
    fn initial_value_must_fit_its_type() {
        let e = parse(&GOOD.replace("initial = 0 }\nhistory", "initial = 1.5 }\nhistory")).expect_err("float in integer");
        assert_eq!(e.key, "group.fields.max_bid.initial");
    }

    #[test]
    fn duplicate_page_names_are_refused() {
        let e = parse(&GOOD.replace("name = \"Wait\"", "name = \"Bid\"")).expect_err("duplicate");
        assert_eq!(e.key, "page[1].name");
    }

    #[test]
    fn unknown_field_type_is_refused() {
        let e = parse(&GOOD.replace("type = \"string\"", "type = \"text\"")).expect_err("bad type");
        assert!(e.key.starts_with("group.fields.note"), "{e}");
    }

    #[test]
    fn paths_must_stay_inside_the_game() {
        let e = parse(&GOOD.replace("templates/Bid.hbs", "../../etc/passwd")).expect_err("traversal");
        assert_eq!(e.key, "page[0].template");
    }

    #[test]
    fn types_accept_exactly_their_values() {
        use serde_json::json;
        assert!(FieldType::Integer.accepts(&json!(3)));
        assert!(!FieldType::Integer.accepts(&json!(3.0)));
        assert!(FieldType::Float.accepts(&json!(10)));
        assert!(!FieldType::String.accepts(&json!(1)));
        assert!(FieldType::Boolean.accepts(&Value::Null));
        assert!(FieldType::Json.accepts(&json!({"a": [1]})));
    }

    #[test]
    fn config_and_treatments_are_parsed_and_a_session_config_resolved() {
        let text = format!(
            "{GOOD}\n[config]\nmultiplier = 2.0\nendowment = 100\nlabel = \"std\"\n\
            [[session_config]]\nname = \"high\"\nmultiplier = 3.0\n[[session_config]]\nname = \"poor\"\nendowment = 50\n"
        );
        let m = parse(&text).expect("manifest");
        assert_eq!(m.treatments.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["high", "poor"]);
        let none = serde_json::Map::new();
        let base = m.session_config(None, &none).expect("defaults");
        assert_eq!(Value::Object(base), serde_json::json!({"multiplier": 2.0, "endowment": 100, "label": "std"}));
        let high = m.session_config(Some("high"), &none).expect("high");
        assert_eq!(high["multiplier"], serde_json::json!(3.0));
        assert_eq!(high["endowment"], serde_json::json!(100));
        let edited = m.session_config(Some("poor"), serde_json::json!({"endowment": 70}).as_object().expect("object")).expect("edited");
        assert_eq!(edited["endowment"], serde_json::json!(70));
        let unknown = m.session_config(Some("rich"), &none).expect_err("no such treatment");
        assert!(unknown.contains("no session config `rich` (it has high, poor)"), "{unknown}");
        let typo = m.session_config(None, serde_json::json!({"endowmnet": 1}).as_object().expect("object")).expect_err("typo");
        assert!(typo.contains("`endowmnet` is not a key") && typo.contains("endowment"), "{typo}");
        let kind = m.session_config(None, serde_json::json!({"endowment": "lots"}).as_object().expect("object")).expect_err("kind");
        assert!(kind.contains("config `endowment` is 100"), "{kind}");
        for (bad, key) in [
            ("[config]\nx = [1]\n", "config.x"),
            ("[[session_config]]\nmultiplier = 1\n", "session_config[0]"),
            ("[[session_config]]\nname = \"a\"\n[[session_config]]\nname = \"a\"\n", "session_config[1].name"),
        ] {
            let e = parse(&format!("{GOOD}\n{bad}")).expect_err(bad);
            assert_eq!(e.key, key, "{bad}: {e}");
        }
    }
}
