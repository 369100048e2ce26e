//! `game.toml` text from a hostile game author: parsing must never panic, and a manifest that
//! parses must resolve its limits against the host's without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match stoa::Manifest::parse(std::path::Path::new("fuzz/game.toml"), text) {
        Ok(m) => {
            let _ = m.limits.resolve(&stoa::engine::limits::Limits::DEFAULT, &stoa::engine::limits::Limits::MAX);
            for page in &m.pages {
                assert!(m.page(&page.name).is_some(), "a listed page is found by name");
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
