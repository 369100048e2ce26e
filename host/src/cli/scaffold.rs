//! `stoa new`: writes a new game package — manifest, templates, source and build recipe —
//! from the templates under `host/scaffold/` (embedded in the binary; their README lists
//! the placeholders).
//!
//! The generated game builds out of the box against the Stoa checkout this binary was built
//! from ([`checkout`]): a Rust game depends on its `sdk/` by path, a Python or JavaScript
//! game's Makefile calls its `sdk/python/build.py` or `sdk/js/build.mjs`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A language `stoa new` can write a game in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// `src/lib.rs` against `stoa-sdk`, built with cargo.
    Rust,
    /// `src/app.py`, built with componentize-py by `sdk/python/build.py`.
    Python,
    /// `src/game.js`, built with componentize-js by `sdk/js/build.mjs`.
    Js,
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rust" => Ok(Lang::Rust),
            "python" => Ok(Lang::Python),
            "js" => Ok(Lang::Js),
            other => Err(format!("`{other}` is not a language stoa can write: rust, python or js")),
        }
    }
}

impl Lang {
    fn name(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
            Lang::Js => "JavaScript",
        }
    }

    /// The suffix of the language's guide, `docs/writing-a-game-{doc}.md`.
    fn doc(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::Rust => "src/lib.rs",
            Lang::Python => "src/app.py",
            Lang::Js => "src/game.js",
        }
    }

    /// What the build needs from the checkout, relative to it.
    fn needs(self) -> &'static str {
        match self {
            Lang::Rust => "sdk/Cargo.toml",
            Lang::Python => "sdk/python/build.py",
            Lang::Js => "sdk/js/build.mjs",
        }
    }

    /// The files of this language's games: (path in the game, template).
    fn files(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Lang::Rust => &[
                ("Cargo.toml", include_str!("../../scaffold/rust/Cargo.toml.in")),
                ("Makefile", include_str!("../../scaffold/rust/Makefile")),
                ("src/lib.rs", include_str!("../../scaffold/rust/src/lib.rs")),
            ],
            Lang::Python => {
                &[("Makefile", include_str!("../../scaffold/python/Makefile")), ("src/app.py", include_str!("../../scaffold/python/src/app.py"))]
            }
            Lang::Js => &[("Makefile", include_str!("../../scaffold/js/Makefile")), ("src/game.js", include_str!("../../scaffold/js/src/game.js"))],
        }
    }
}

/// Files every game gets: (path in the game, template).
const COMMON: &[(&str, &str)] = &[
    ("game.toml", include_str!("../../scaffold/common/game.toml")),
    ("templates/Counter.hbs", include_str!("../../scaffold/common/templates/Counter.hbs")),
    ("templates/Guess.hbs", include_str!("../../scaffold/common/templates/Guess.hbs")),
    ("templates/ResultsWait.hbs", include_str!("../../scaffold/common/templates/ResultsWait.hbs")),
    ("templates/Results.hbs", include_str!("../../scaffold/common/templates/Results.hbs")),
    ("README.md", include_str!("../../scaffold/common/README.md")),
    (".gitignore", include_str!("../../scaffold/common/gitignore")),
];

/// Longest game name `stoa new` accepts.
const MAX_NAME: usize = 64;

/// Why `stoa new` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not a game name.
    #[error("`{name}` cannot name a game: {reason}")]
    BadName { name: String, reason: &'static str },
    /// Something is already at the game's path.
    #[error("`{}` already exists: stoa new never overwrites; pick another name or --dir", .0.display())]
    Exists(PathBuf),
    /// The checkout the generated build would use lacks the language's SDK.
    #[error("the Stoa checkout at `{}` has no {needs}, which the new game's build needs", root.display())]
    NoCheckout { root: PathBuf, needs: &'static str },
    /// Writing failed (what was written is removed again).
    #[error("cannot write `{}`: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// The Stoa checkout this binary was built from (the parent of `host/`).
pub fn checkout() -> PathBuf {
    let host = Path::new(env!("CARGO_MANIFEST_DIR"));
    host.parent().unwrap_or(host).to_path_buf()
}

/// Checks a game name: ASCII letters, digits, `-` and `_`, starting with a letter (Cargo
/// refuses a package name starting with a digit), at most 64 characters.
pub fn validate_name(name: &str) -> Result<(), ScaffoldError> {
    let bad = |reason| Err(ScaffoldError::BadName { name: name.to_string(), reason });
    if name.is_empty() {
        return bad("the name is empty");
    }
    if name.len() > MAX_NAME {
        return bad("names are at most 64 characters");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return bad("names are ASCII letters, digits, `-` and `_`");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return bad("names start with a letter");
    }
    if name.replace('-', "_") == "stoa_sdk" {
        return bad("that is the SDK's own name");
    }
    Ok(())
}

/// Writes the game `name` in `lang` to `parent/name`, its build pointed at the checkout
/// `stoa`; returns the game's folder. Refuses a bad name and an existing path; on failure
/// removes what it wrote.
pub fn new_game(name: &str, lang: Lang, parent: &Path, stoa: &Path) -> Result<PathBuf, ScaffoldError> {
    validate_name(name)?;
    if !stoa.join(lang.needs()).is_file() {
        return Err(ScaffoldError::NoCheckout { root: stoa.to_path_buf(), needs: lang.needs() });
    }
    let dir = parent.join(name);
    if dir.symlink_metadata().is_ok() {
        return Err(ScaffoldError::Exists(dir));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    // create_dir, not create_dir_all: it fails if the folder appeared since the check above.
    std::fs::create_dir(&dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => ScaffoldError::Exists(dir.clone()),
        _ => io(&dir)(e),
    })?;
    let written = write_files(&dir, name, lang, stoa);
    if written.is_err() {
        // Only this call created `dir`, so removing it removes nothing of anyone else's.
        let _ = std::fs::remove_dir_all(&dir);
    }
    written.map(|()| dir)
}

fn write_files(dir: &Path, name: &str, lang: Lang, stoa: &Path) -> Result<(), ScaffoldError> {
    let sdk_path = toml::Value::String(stoa.join("sdk").display().to_string()).to_string();
    let stoa_text = stoa.display().to_string();
    let substitutions = [
        ("@NAME@", name),
        ("@CRATE@", &name.replace('-', "_")),
        ("@SDK_PATH@", &sdk_path),
        ("@STOA@", &stoa_text),
        ("@LANGUAGE@", lang.name()),
        ("@SOURCE@", lang.source()),
        ("@DOC@", lang.doc()),
    ];
    for (path, template) in COMMON.iter().chain(lang.files()) {
        let target = dir.join(path);
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder).map_err(|source| ScaffoldError::Io { path: folder.to_path_buf(), source })?;
        }
        let text = substitutions.iter().fold(template.to_string(), |t, (from, to)| t.replace(from, to));
        std::fs::write(&target, text).map_err(|source| ScaffoldError::Io { path: target.clone(), source })?;
    }
    if lang == Lang::Rust {
        // The checkout's lock file pins the versions its SDK was tested with and lets the
        // first build work offline; Cargo drops the entries the game does not use.
        let lock = stoa.join("Cargo.lock");
        if lock.is_file() {
            let target = dir.join("Cargo.lock");
            std::fs::copy(&lock, &target).map_err(|source| ScaffoldError::Io { path: target, source })?;
        }
    }
    Ok(())
}

/// What to do next with a game just written to `dir`, for the terminal.
pub fn next_steps(dir: &Path, lang: Lang) -> String {
    let shown = dir.display();
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(
        "wrote the {lang} game `{name}` to {shown}: a counter the group shares, with a bot\n\
         next:\n  \
         make -C {shown}          # builds {shown}/target/{name}.wasm\n  \
         stoa bots {shown}        # a headless bot session, exit 0 = pass (or: make -C {shown} bots)\n  \
         edit {shown}/{source} and {shown}/templates/; the guide is {guide}\n",
        lang = lang.name(),
        source = lang.source(),
        guide = checkout().join("docs").join(format!("writing-a-game-{}.md", lang.doc())).display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_letters_digits_dashes_and_underscores_starting_with_a_letter() {
        for good in ["counter", "my-game", "Game_2", "a"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "2fast", "-x", "my game", "a/b", "..", "é", "stoa-sdk", &"x".repeat(65)] {
            assert!(matches!(validate_name(bad), Err(ScaffoldError::BadName { .. })), "{bad:?}");
        }
    }

    #[test]
    fn every_placeholder_is_replaced_in_every_language() {
        for lang in [Lang::Rust, Lang::Python, Lang::Js] {
            let parent = tempfile::tempdir().expect("tempdir");
            let dir = new_game("my-game", lang, parent.path(), &checkout()).expect("written");
            for (path, _) in COMMON.iter().chain(lang.files()) {
                let text = std::fs::read_to_string(dir.join(path)).expect("read");
                for word in ["@NAME@", "@CRATE@", "@SDK_PATH@", "@STOA@", "@LANGUAGE@", "@SOURCE@", "@DOC@"] {
                    assert!(!text.contains(word), "{lang:?} {path} still has {word}");
                }
            }
            let manifest = std::fs::read_to_string(dir.join("game.toml")).expect("game.toml");
            assert!(manifest.contains("name = \"my-game\"") && manifest.contains("target/my-game.wasm"));
        }
    }

    #[test]
    fn the_rust_game_depends_on_this_checkouts_sdk_in_its_own_workspace() {
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = new_game("g", Lang::Rust, parent.path(), &checkout()).expect("written");
        let cargo: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml")).expect("read").parse().expect("TOML");
        let sdk = cargo["dependencies"]["stoa-sdk"]["path"].as_str().expect("a path");
        assert!(Path::new(sdk).join("Cargo.toml").is_file(), "{sdk}");
        assert!(cargo["workspace"].as_table().is_some_and(|t| t.is_empty()));
        assert!(dir.join("Cargo.lock").is_file());
    }

    #[test]
    fn an_existing_folder_is_left_alone() {
        let parent = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(parent.path().join("taken")).expect("mkdir");
        std::fs::write(parent.path().join("taken/mine.txt"), "keep").expect("write");
        let err = new_game("taken", Lang::Python, parent.path(), &checkout()).expect_err("refused");
        assert!(matches!(err, ScaffoldError::Exists(_)), "{err}");
        assert_eq!(std::fs::read_to_string(parent.path().join("taken/mine.txt")).expect("read"), "keep");
        let entries = std::fs::read_dir(parent.path().join("taken")).expect("read_dir").count();
        assert_eq!(entries, 1, "nothing was added");
    }

    #[test]
    fn a_checkout_without_the_sdk_is_refused_before_writing() {
        let parent = tempfile::tempdir().expect("tempdir");
        let err = new_game("g", Lang::Js, parent.path(), parent.path()).expect_err("refused");
        assert!(err.to_string().contains("sdk/js/build.mjs"), "{err}");
        assert!(!parent.path().join("g").exists());
    }
}
