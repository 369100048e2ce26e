//! A client's live frame, as `/live/{participant}` receives it: any bytes. Binary frames are
//! refused outright; a text frame goes through `check_frame` (size, JSON). What is accepted
//! must be JSON within the cap, and every refusal must make a JSON error frame.
#![no_main]

use libfuzzer_sys::fuzz_target;

const CAP: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match stoa::server::check_frame(text, CAP) {
        Ok(()) => {
            assert!(text.len() <= CAP, "accepted a frame over the cap");
            let value: serde_json::Value = serde_json::from_str(text).expect("accepted frames are JSON");
            // The group actor stores the payload as raw JSON: it must round-trip.
            let raw: Box<serde_json::value::RawValue> = serde_json::from_str(text).expect("raw JSON");
            assert_eq!(serde_json::from_str::<serde_json::Value>(raw.get()).expect("raw reparses"), value);
        }
        Err(reason) => {
            assert!(!reason.is_empty());
            let frame = serde_json::json!({ "error": reason }).to_string();
            assert!(serde_json::from_str::<serde_json::Value>(&frame).is_ok(), "error frame is JSON");
        }
    }
});
