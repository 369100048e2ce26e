//! A page's form: its submitted text parsed by each field's type and attributes
//! (`form_fields` of the page; the attributes are oTree's: `min`, `max`, `choices`, `blank`).
//! Pure: the server calls it before the game, which then gets typed values.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::manifest::{FieldSpec, FieldType, Manifest, Page};

/// Longest text a form field takes.
pub(crate) const MAX_TEXT: usize = 10_000;

/// The typed values of `page`'s form fields in `submitted`, in the page's order; or, for each
/// field that does not parse or break a rule, the reason to show beside it. With `lenient`
/// (a timeout submits the form as it stands) fields that fail are left out instead.
pub(crate) fn parse(
    manifest: &Manifest,
    page: &Page,
    submitted: &Map<String, Value>,
    lenient: bool,
) -> Result<Vec<(String, Value)>, BTreeMap<String, String>> {
    let mut values = Vec::new();
    let mut errors = BTreeMap::new();
    for name in &page.form_fields {
        let Some(spec) = manifest.player_fields.get(name) else { continue };
        let text = submitted.get(name).and_then(Value::as_str).unwrap_or("").trim();
        match parse_one(spec, text) {
            Ok(v) => values.push((name.clone(), v)),
            Err(why) if !lenient => {
                errors.insert(name.clone(), why);
            }
            Err(_) => {}
        }
    }
    if errors.is_empty() { Ok(values) } else { Err(errors) }
}

/// A bot's submission (typed JSON values) as a browser would post it: each value as text
/// (`null` as empty), so it is checked exactly as a participant's form is.
pub(crate) fn as_posted(values: &Value) -> Map<String, Value> {
    let Some(map) = values.as_object() else { return Map::new() };
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), Value::String(text))
        })
        .collect()
}

/// One field's value from its text, or why not.
pub(crate) fn parse_one(spec: &FieldSpec, text: &str) -> Result<Value, String> {
    let attrs = &spec.form;
    if text.is_empty() {
        return if attrs.blank { Ok(Value::Null) } else { Err("This field is required.".into()) };
    }
    if text.chars().count() > MAX_TEXT {
        return Err(format!("Enter at most {MAX_TEXT} characters."));
    }
    let value = match spec.ty {
        FieldType::Integer => json!(text.parse::<i64>().map_err(|_| "Enter a whole number.".to_string())?),
        FieldType::Float => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => json!(f),
            _ => return Err("Enter a number.".into()),
        },
        FieldType::Boolean => match text {
            "true" | "True" | "1" | "on" | "yes" => json!(true),
            "false" | "False" | "0" | "no" => json!(false),
            _ => return Err("Choose yes or no.".into()),
        },
        FieldType::String => json!(text),
        FieldType::Json => serde_json::from_str::<Value>(text).map_err(|_| "Enter JSON.".to_string())?,
    };
    if let Some(n) = value.as_f64() {
        if let Some(min) = attrs.min
            && n < min
        {
            return Err(format!("Enter a value of at least {}.", number(min)));
        }
        if let Some(max) = attrs.max
            && n > max
        {
            return Err(format!("Enter a value of at most {}.", number(max)));
        }
    }
    if !attrs.choices.is_empty() && !attrs.choices.iter().any(|c| same(c, &value)) {
        return Err("Choose one of the choices.".into());
    }
    Ok(value)
}

/// `5` for 5.0, `2.5` for 2.5.
fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { n.to_string() }
}

/// Whether two values are the same choice (numbers by value: `2` is `2.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        let text = "name = 'g'\nplayers_per_group = 1\ncomponent = 'g.wasm'\n\
            [player.fields]\n\
            contribution = { type = 'integer', min = 0, max = 100 }\n\
            color = { type = 'string', choices = ['red', 'blue'] }\n\
            note = { type = 'string', blank = true }\n\
            share = { type = 'float', max = 1 }\n\
            agree = { type = 'boolean' }\n\
            [[page]]\nname = 'P'\ntemplate = 'P.hbs'\nform_fields = ['contribution', 'color', 'note', 'share', 'agree']\n";
        Manifest::parse(std::path::Path::new("game.toml"), text).expect("manifest")
    }

    fn form(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()
    }

    #[test]
    fn values_are_typed_in_the_pages_order() {
        let m = manifest();
        let ok = parse(&m, &m.pages[0], &form(&[("contribution", " 40 "), ("color", "blue"), ("note", ""), ("share", "0.5"), ("agree", "1")]), false)
            .expect("valid");
        assert_eq!(
            ok,
            vec![
                ("contribution".into(), json!(40)),
                ("color".into(), json!("blue")),
                ("note".into(), Value::Null),
                ("share".into(), json!(0.5)),
                ("agree".into(), json!(true)),
            ]
        );
    }

    #[test]
    fn each_bad_value_gets_its_reason_and_a_timeout_leaves_them_out() {
        let m = manifest();
        let bad = form(&[("contribution", "101"), ("color", "green"), ("share", "x"), ("agree", "maybe")]);
        let errors = parse(&m, &m.pages[0], &bad, false).expect_err("refused");
        assert_eq!(errors["contribution"], "Enter a value of at most 100.");
        assert_eq!(errors["color"], "Choose one of the choices.");
        assert_eq!(errors["share"], "Enter a number.");
        assert_eq!(errors["agree"], "Choose yes or no.");
        assert!(!errors.contains_key("note"), "note may be blank");
        assert_eq!(parse(&m, &m.pages[0], &form(&[("contribution", "-1")]), false).expect_err("min")["contribution"], "Enter a value of at least 0.");
        assert_eq!(parse(&m, &m.pages[0], &form(&[("contribution", "2.5")]), false).expect_err("int")["contribution"], "Enter a whole number.");
        assert_eq!(parse(&m, &m.pages[0], &form(&[]), false).expect_err("required")["contribution"], "This field is required.");
        let lenient = parse(&m, &m.pages[0], &bad, true).expect("a timeout keeps what parses");
        assert_eq!(lenient, vec![("note".into(), Value::Null)]);
    }
}
