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

/// The deepest nesting of arrays and objects a client or a game may hand the host. What is
/// stored goes inside more levels (a log entry, an export), and a reader stops at 128: a
/// value at the limit must still be read back from inside them.
pub(crate) const MAX_JSON_DEPTH: usize = 64;

/// Whether `text` (JSON) nests arrays and objects deeper than [`MAX_JSON_DEPTH`]; brackets
/// inside strings do not count.
pub(crate) fn too_deep(text: &str) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text.as_bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The error of a value nested too deep.
fn deep_error() -> serde_json::Error {
    <serde_json::Error as serde::de::Error>::custom(format!("it nests arrays and objects more than {MAX_JSON_DEPTH} levels deep"))
}

/// [`check_json`] that keeps the checked text, for what is stored as it is: skimmed once,
/// while becoming a `RawValue`.
pub(crate) fn raw_json(text: String) -> Result<Box<RawValue>, serde_json::Error> {
    let raw = RawValue::from_string(text)?;
    check_deeply(raw.get())?;
    Ok(raw)
}

/// The depth check and the full parse of [`check_json`], where skimming is not enough.
fn check_deeply(text: &str) -> Result<(), serde_json::Error> {
    if too_deep(text) {
        return Err(deep_error());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn json_deeper_than_the_limit_is_refused_and_brackets_in_strings_do_not_count() {
        assert!(check_json(&nested(MAX_JSON_DEPTH)).is_ok());
        let err = check_json(&nested(MAX_JSON_DEPTH + 1)).expect_err("too deep").to_string();
        assert!(err.contains("more than 64 levels deep"), "{err}");
        assert!(raw_json(nested(200)).is_err());
        let strings = format!("[\"{}\", \"\\\"[[\"]", "[".repeat(500));
        assert!(check_json(&strings).is_ok(), "{strings}");
        let objects = format!("{}1{}", "{\"a\":".repeat(MAX_JSON_DEPTH + 1), "}".repeat(MAX_JSON_DEPTH + 1));
        assert!(check_json(&objects).is_err());
    }
}
