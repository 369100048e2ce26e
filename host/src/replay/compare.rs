//! How a replayed call is compared with its log entry: every part of the entry a call
//! decides — its page, sender, payload, kind (live call or hook), time, error, seqs, each
//! routed message (recipient and payload bytes) and each field write — bit for bit; the
//! first part that differs is named with what the log holds and what the replay made of it.

use serde::Serialize;

use crate::game::json::shorten;
use crate::live::CallEntry;

/// The longest an expected or a replayed value is shown.
const SHOWN: usize = 160;

/// What differs between the logged entry `expected` and the replay's `got` (none: no entry
/// was logged), or `None` when they agree.
pub(crate) fn difference(expected: &CallEntry, got: Option<&CallEntry>) -> Option<String> {
    let Some(got) = got else {
        return Some("the replay logged no entry for this call".into());
    };
    let parts: [(&str, String, String); 10] = [
        ("page", json(&expected.page), json(&got.page)),
        ("sender", json(&expected.sender), json(&got.sender)),
        ("payload", expected.payload.get().to_string(), got.payload.get().to_string()),
        ("hook", json(&expected.hook), json(&got.hook)),
        ("time_ms", json(&expected.time_ms), json(&got.time_ms)),
        ("error", json(&expected.error), json(&got.error)),
        ("seqs", json(&expected.seqs), json(&got.seqs)),
        ("messages", messages(expected), messages(got)),
        ("field writes", json(&expected.writes), json(&got.writes)),
        ("call number", json(&expected.call), json(&got.call)),
    ];
    parts.into_iter().find(|(_, e, g)| e != g).map(|(what, e, g)| format!("{what}: expected {}, got {}", shorten(&e, SHOWN), shorten(&g, SHOWN)))
}

/// A value as JSON text (our own plain types always serialize).
fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// An entry's messages as `to → payload` pairs, payloads as their bytes.
fn messages(entry: &CallEntry) -> String {
    let shown: Vec<String> = entry.messages.iter().map(|(to, payload)| format!("{to} → {}", payload.get())).collect();
    format!("[{}]", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(payload: &str, message: &str) -> CallEntry {
        let raw = |t: &str| serde_json::value::RawValue::from_string(t.to_string()).expect("json");
        CallEntry {
            call: 3,
            time_ms: 10,
            page: "Bid".into(),
            sender: 1,
            payload: raw(payload),
            hook: false,
            seqs: Some((1, 1)),
            error: None,
            writes: Default::default(),
            messages: vec![(0, raw(message))],
        }
    }

    #[test]
    fn the_first_part_that_differs_is_named_with_both_values() {
        let logged = entry("{\"bid\":5}", "{\"max\":5}");
        assert_eq!(difference(&logged, Some(&entry("{\"bid\":5}", "{\"max\":5}"))), None);
        assert_eq!(
            difference(&logged, Some(&entry("{\"bid\":5}", "{\"max\":6}"))).as_deref(),
            Some("messages: expected [0 → {\"max\":5}], got [0 → {\"max\":6}]")
        );
        // Bytes, not values: the same JSON written otherwise differs.
        assert!(difference(&logged, Some(&entry("{\"bid\": 5}", "{\"max\":5}"))).is_some_and(|d| d.starts_with("payload: ")));
        assert_eq!(difference(&logged, None).as_deref(), Some("the replay logged no entry for this call"));
    }
}
