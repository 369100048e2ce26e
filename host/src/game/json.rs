//! JSON a game or a client hands the host: checked once, where it enters, so that whatever is
//! stored (fields, the live log) can always be read back; and shortened for error messages.

use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// Checks that `text` is one JSON value that any JSON reader takes back. Skimmed without
/// building anything, except where skimming is too lenient, which gets a full parse: a `\u`
/// escape (skimming takes a lone surrogate, `"\ud800"`, which no string can hold) and a
/// number with an exponent or 300 digits (skimming takes `1e999`, which no f64 can hold).
/// Either kind in a field or the log could never be read back (both found by `make fuzz`,
/// target client_frame).
pub(crate) fn check_json(text: &str) -> Result<(), serde_json::Error> {
    serde_json::from_str::<IgnoredAny>(text)?;
    check_deeply(text)
}

/// [`check_json`] that keeps the checked text, for what is stored as it is: skimmed once,
/// while becoming a `RawValue`.
pub(crate) fn raw_json(text: String) -> Result<Box<RawValue>, serde_json::Error> {
    let raw = RawValue::from_string(text)?;
    check_deeply(raw.get())?;
    Ok(raw)
}

/// The full parse of [`check_json`], where skimming is not enough.
fn check_deeply(text: &str) -> Result<(), serde_json::Error> {
    if skimming_is_not_enough(text.as_bytes()) {
        serde_json::from_str::<serde_json::Value>(text)?;
    }
    Ok(())
}

/// Whether `text` may hold a `\u` escape or a number out of f64's range (false positives,
/// say `"a1e"` inside a string, only cost a full parse).
fn skimming_is_not_enough(text: &[u8]) -> bool {
    let mut digits = 0usize;
    let mut prev = 0u8;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits >= 300 {
                    return true;
                }
            }
            b'e' | b'E' if prev.is_ascii_digit() => return true,
            b'u' if prev == b'\\' => return true,
            _ => digits = 0,
        }
        prev = b;
    }
    false
}

/// At most `max` characters of `text`, for error messages.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
