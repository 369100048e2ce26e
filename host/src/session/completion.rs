//! Where a participant who has finished is sent: the session config's `completion_url`
//! (Prolific's completion link), with their label appended when it ends in `=`.

use serde_json::{Map, Value};

/// The config key.
pub(crate) const KEY: &str = "completion_url";

/// Whether `url` may be a completion URL: an absolute `http(s)://` URL without spaces,
/// quotes or angle brackets (it goes into a `Location` header as it is).
pub(crate) fn check(url: &str) -> Result<(), String> {
    let scheme = url.starts_with("https://") || url.starts_with("http://");
    let clean = url.len() <= 2000 && !url.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '"' | '<' | '>' | '\\'));
    if scheme && clean {
        Ok(())
    } else {
        Err(format!("`{KEY}` must be an http:// or https:// URL of at most 2000 characters without spaces or quotes, not `{url}`"))
    }
}

/// The config's completion URL, checked: `None` when the config has none (or an empty one).
pub(crate) fn configured(config: &Map<String, Value>) -> Result<Option<&str>, String> {
    match config.get(KEY) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(url)) if url.is_empty() => Ok(None),
        Some(Value::String(url)) => check(url).map(|()| Some(url.as_str())),
        Some(other) => Err(format!("`{KEY}` must be a text (a URL), not {other}")),
    }
}

/// Where a finished participant with `label` goes: the completion URL, the label appended
/// when it ends in `=` (labels are URL-safe: `crate::store::rooms::check_label`).
pub(crate) fn target(config: &Map<String, Value>, label: Option<&str>) -> Option<String> {
    let url = configured(config).ok()??;
    match label {
        Some(label) if url.ends_with('=') => Some(format!("{url}{label}")),
        _ => Some(url.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(url: Value) -> Map<String, Value> {
        json!({ "endowment": 10, KEY: url }).as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_label_is_appended_only_to_a_url_ending_in_equals() {
        let prolific = config(json!("https://app.prolific.com/submissions/complete?cc=C1234&pid="));
        assert_eq!(target(&prolific, Some("5f3a")).as_deref(), Some("https://app.prolific.com/submissions/complete?cc=C1234&pid=5f3a"));
        assert_eq!(target(&prolific, None).as_deref(), Some("https://app.prolific.com/submissions/complete?cc=C1234&pid="));
        let plain = config(json!("https://example.org/thanks"));
        assert_eq!(target(&plain, Some("5f3a")).as_deref(), Some("https://example.org/thanks"));
        assert_eq!(target(&config(json!("")), Some("x")), None);
        assert_eq!(target(&Map::new(), Some("x")), None);
    }

    #[test]
    fn a_url_that_is_not_http_or_holds_spaces_or_quotes_is_refused() {
        for bad in [json!("javascript:alert(1)"), json!("/local"), json!("https://a b"), json!("https://x\"y"), json!(5)] {
            assert!(configured(&config(bad.clone())).is_err(), "{bad}");
            assert_eq!(target(&config(bad), None), None);
        }
    }
}
