//! A page's form fields as HTML, for the template helpers `{{formfield "name"}}` and
//! `{{formfields}}`: a label, an input shaped by the field's type and attributes, and the
//! reason a submitted value was refused. Everything from a field or a participant is
//! HTML-escaped here; the helpers write this text as it is.

use std::collections::BTreeMap;

use handlebars::html_escape;
use serde_json::{Map, Value};

use crate::manifest::{FieldSpec, FieldType, Manifest, Page};

/// A refused submission shown again: what was typed, and each refused field's reason.
#[derive(Debug, Clone, Default)]
pub struct FormState {
    /// The submitted text, by field.
    pub submitted: Map<String, Value>,
    /// Why each refused field was refused.
    pub errors: BTreeMap<String, String>,
}

/// Each of `page`'s form fields as HTML, by name, filled with `state`'s text when the page
/// is shown again after a refusal, else with the player's stored value (`player`).
pub(crate) fn fields_html(manifest: &Manifest, page: &Page, player: &Map<String, Value>, state: Option<&FormState>) -> Map<String, Value> {
    let mut out = Map::new();
    for name in &page.form_fields {
        let Some(spec) = manifest.player_fields.get(name) else { continue };
        let text = match state.and_then(|s| s.submitted.get(name)) {
            Some(Value::String(t)) => t.clone(),
            _ => match player.get(name) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            },
        };
        let error = state.and_then(|s| s.errors.get(name));
        out.insert(name.clone(), Value::String(field_html(name, spec, &text, error.map(String::as_str))));
    }
    out
}

fn field_html(name: &str, spec: &FieldSpec, text: &str, error: Option<&str>) -> String {
    let id = format!("id_{name}");
    let label = html_escape(spec.form.label.as_deref().unwrap_or(name));
    let required = if spec.form.blank { "" } else { " required" };
    let (n, value) = (html_escape(name), html_escape(text));
    let choice = |c: &Value| match c {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let input = if !spec.form.choices.is_empty() && spec.form.widget.as_deref() == Some("radio") {
        spec.form
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c = html_escape(&choice(c));
                let checked = if c == value { " checked" } else { "" };
                format!(r#"<label><input type="radio" name="{n}" id="{id}_{i}" value="{c}"{checked}{required}> {c}</label>"#)
            })
            .collect::<Vec<_>>()
            .join(" ")
    } else if !spec.form.choices.is_empty() || spec.ty == FieldType::Boolean {
        let choices: Vec<(String, String)> = if spec.ty == FieldType::Boolean && spec.form.choices.is_empty() {
            vec![("true".into(), "Yes".into()), ("false".into(), "No".into())]
        } else {
            spec.form.choices.iter().map(|c| (choice(c), choice(c))).collect()
        };
        let options: String = choices
            .iter()
            .map(|(v, shown)| {
                let v = html_escape(v);
                let selected = if v == value { " selected" } else { "" };
                format!(r#"<option value="{v}"{selected}>{}</option>"#, html_escape(shown))
            })
            .collect();
        format!(r#"<select name="{n}" id="{id}"{required}><option value="">---------</option>{options}</select>"#)
    } else {
        let kind = match spec.ty {
            FieldType::Integer => r#"type="number" step="1""#,
            FieldType::Float => r#"type="number" step="any""#,
            _ => r#"type="text""#,
        };
        let bound = |attr: &str, b: Option<f64>| b.map(|x| format!(r#" {attr}="{x}""#)).unwrap_or_default();
        format!(r#"<input {kind} name="{n}" id="{id}" value="{value}"{}{}{required}>"#, bound("min", spec.form.min), bound("max", spec.form.max))
    };
    let error = error.map(|e| format!(r#" <span class="stoa-error" id="error_{n}">{}</span>"#, html_escape(e))).unwrap_or_default();
    format!(r#"<div class="stoa-field" id="field_{n}"><label for="{id}">{label}</label> {input}{error}</div>"#)
}
