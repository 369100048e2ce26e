//! `stoa new`: for each language, the game it writes builds with its own Makefile against
//! this checkout and passes `stoa bots`; bad names and existing folders are refused.
//!
//! Slow: each language builds once (Rust compiles the SDK for wasm, its dependencies cached
//! under `target/stoa-new`; Python and JavaScript run componentize-py/-js, which `make
//! games` set up). Each such build is a new component (the builds are not byte-identical), so
//! `stoa bots` compiles it afresh into a cache that goes away with the test's folder. Builds
//! and bots run under `nice`, so they take spare CPU from, not time away from, the suite's
//! timing-sensitive tests running beside them.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use crate::support::root;

/// `program` at the lowest CPU priority.
fn niced(program: &str) -> Command {
    let mut command = Command::new("nice");
    command.args(["-n", "19", program]);
    command
}

/// Runs the `stoa` binary with `args` in `dir`, caching compiled components in `dir/.cache`.
fn stoa(dir: &Path, args: &[&str]) -> Output {
    niced(env!("CARGO_BIN_EXE_stoa")).args(args).current_dir(dir).env("STOA_CACHE_DIR", dir.join(".cache")).output().expect("run stoa")
}

fn text(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `stoa new NAME --lang LANG` in a fresh folder, `make` in the game's folder (its own
/// recipe), then `stoa bots` on it.
fn new_game_builds_and_passes_its_bots(lang: &str) {
    let parent = tempfile::tempdir().expect("tempdir");
    let name = format!("counter-{lang}");
    let out = stoa(parent.path(), &["new", &name, "--lang", lang]);
    assert!(out.status.success(), "stoa new: {}", text(&out));
    let game = parent.path().join(&name);
    assert!(game.join("game.toml").is_file() && game.join("Makefile").is_file() && game.join("README.md").is_file());

    let started = Instant::now();
    let built = niced("make")
        .current_dir(&game)
        // Rust: the game's own workspace, its dependencies compiled once for every test run
        // (not the suite's own target folder, which the running `cargo test` holds).
        .env("CARGO_TARGET_DIR", root().join("target/stoa-new"))
        // Not the jobserver of a `make test` this suite may run under.
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .output()
        .expect("run make");
    assert!(built.status.success(), "make in the new {lang} game: {}", text(&built));
    let component = game.join("target").join(format!("{name}.wasm"));
    assert!(component.is_file(), "the build put the component where game.toml says: {}", component.display());
    eprintln!("{lang}: built in {:.1} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let bots = stoa(parent.path(), &["bots", &name]);
    assert!(bots.status.success(), "stoa bots on the new {lang} game: {}", text(&bots));
    assert!(String::from_utf8_lossy(&bots.stdout).contains("passed"), "{}", text(&bots));
    // Its form, wait page and payoff: each bot pressed once and guessed the count right.
    let json = stoa(parent.path(), &["bots", &name, "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&json)));
    let group = &doc["runs"][0]["groups"][0];
    assert_eq!(group["player_fields"]["1"]["guess"], serde_json::json!(2), "{group}");
    assert_eq!(group["player_fields"]["1"]["payoff"].as_f64(), Some(6.0), "1 press + 5 for the right guess: {group}");
    eprintln!("{lang}: bots passed in {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn a_new_rust_game_builds_and_passes_its_bots() {
    new_game_builds_and_passes_its_bots("rust");
}

#[test]
fn a_new_python_game_builds_and_passes_its_bots() {
    new_game_builds_and_passes_its_bots("python");
}

#[test]
fn a_new_js_game_builds_and_passes_its_bots() {
    new_game_builds_and_passes_its_bots("js");
}

#[test]
fn stoa_new_refuses_a_bad_name_an_unknown_language_and_an_existing_folder() {
    let parent = tempfile::tempdir().expect("tempdir");
    let cases: [(&[&str], &str); 3] = [
        (&["new", "my game", "--lang", "rust"], "ASCII letters, digits"),
        (&["new", "1st", "--lang", "js"], "start with a letter"),
        (&["new", "ok", "--lang", "cobol"], "rust, python or js"),
    ];
    for (args, reason) in cases {
        let out = stoa(parent.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains(reason), "{args:?}: {}", text(&out));
    }
    assert_eq!(std::fs::read_dir(parent.path()).expect("read_dir").count(), 0, "nothing was written");

    std::fs::create_dir(parent.path().join("taken")).expect("mkdir");
    let out = stoa(parent.path(), &["new", "taken", "--lang", "python", "--dir", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"), "{}", text(&out));
    assert_eq!(std::fs::read_dir(parent.path().join("taken")).expect("read_dir").count(), 0, "the folder was left alone");

    // --dir: the game goes into DIR/NAME, creating DIR.
    let out = stoa(parent.path(), &["new", "elsewhere", "--lang", "js", "--dir", "games/new"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(parent.path().join("games/new/elsewhere/src/game.js").is_file());
}
