//! Page templates rendered with hostile field values: the input is split into a JSON value
//! (what a participant got stored in a field) and template text (what a game author wrote).
//! Rendering never panics, and a field shown with `{{...}}` never brings markup into the page.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

/// A template that shows a field, registered once.
static SHOWN: LazyLock<handlebars::Handlebars<'static>> = LazyLock::new(|| {
    let mut shown = stoa::game::render::registry();
    shown.register_template_string("Shown", "<p>{{group.note}}</p>").expect("fixed template parses");
    shown
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (value, template) = text.split_once('\u{0}').unwrap_or((text, "{{group.note}}"));
    let value: Value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
    let data = json!({
        "group": { "id": 1, "note": value.clone() },
        "player": { "id_in_group": 1, "note": value.clone() },
        "page": "Play", "round_number": 1, "num_rounds": 1, "participant": { "code": "abc" },
    });

    // The field shown escaped: whatever it holds, no tag, quote or entity comes through raw.
    let html = stoa::game::render::render_data(&SHOWN, "Shown", &data).expect("renders");
    let inner = html.strip_prefix("<p>").and_then(|h| h.strip_suffix("</p>")).expect("wrapper kept");
    assert!(!inner.contains(['<', '>', '"', '\'', '`']), "unescaped markup from a field: {inner}");

    // Any template text with the hostile value: an error or a page, never a panic.
    let mut any = stoa::game::render::registry();
    if any.register_template_string("Any", template).is_ok() {
        let _ = stoa::game::render::render_data(&any, "Any", &data);
    }
});
