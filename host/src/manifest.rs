//! `game.toml`: a game's name, grouping, typed fields, pages and limits.
//!
//! A bad manifest is refused at load with the file, the key and the reason, so a researcher
//! never finds out about a typo in the middle of a lab session.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
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

/// A declared field: its type and its value before any write (null when omitted).
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// The declared type.
    pub ty: FieldType,
    /// The initial value as JSON text.
    pub initial: String,
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
    /// Submit automatically after this many seconds.
    pub timeout_seconds: Option<u32>,
}

/// A parsed and checked `game.toml`.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The game's key in the API and on disk.
    pub name: String,
    /// Players in each group.
    pub players_per_group: u32,
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
    /// The page sequence of one round.
    pub pages: Vec<Page>,
    /// Limits the game asks for, checked against the host maxima when the game is loaded.
    pub limits: LimitOverrides,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    players_per_group: u32,
    #[serde(default = "one")]
    num_rounds: u32,
    component: PathBuf,
    #[serde(default)]
    bot_cases: Vec<String>,
    #[serde(default)]
    warm_instances: bool,
    #[serde(default)]
    group: RawFields,
    #[serde(default)]
    player: RawFields,
    #[serde(default, rename = "page")]
    pages: Vec<RawPage>,
    #[serde(default)]
    limits: LimitOverrides,
}

fn one() -> u32 {
    1
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
        if raw.players_per_group == 0 || raw.players_per_group > 10_000 {
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
            if page.template.is_absolute() || page.template.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                return Err(err(&format!("page[{i}].template"), "must be a path inside the game directory".into()));
            }
        }
        if raw.component.is_absolute() || raw.component.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(err("component", "must be a path inside the game directory".into()));
        }
        let group_fields = fields(&raw.group.fields, "group.fields", &err)?;
        let player_fields = fields(&raw.player.fields, "player.fields", &err)?;
        Ok(Manifest {
            name: raw.name,
            players_per_group: raw.players_per_group,
            num_rounds: raw.num_rounds,
            component: raw.component,
            bot_cases: raw.bot_cases,
            warm_instances: raw.warm_instances,
            group_fields,
            player_fields,
            pages: raw
                .pages
                .into_iter()
                .map(|p| Page { name: p.name, template: p.template, live: p.live, kind: p.kind, timeout_seconds: p.timeout_seconds })
                .collect(),
            limits: raw.limits,
        })
    }

    /// The page named `name` and its index in the sequence.
    pub fn page(&self, name: &str) -> Option<(usize, &Page)> {
        self.pages.iter().enumerate().find(|(_, p)| p.name == name)
    }
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
        out.insert(name.clone(), FieldSpec { ty: field.ty, initial: initial.to_string() });
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
}
