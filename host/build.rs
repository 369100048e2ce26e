//! Build facts the host reports in every session's provenance: the git commit it was built
//! from (`STOA_GIT_COMMIT`, "unknown" outside a git checkout or without git) and the wasmtime
//! version in Cargo.lock (`STOA_WASMTIME_VERSION`), the one the host links.

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=STOA_GIT_COMMIT={commit}");
    // A new commit or a branch switch changes HEAD or the ref it names.
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(p) = git(&["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r])) {
        println!("cargo:rerun-if-changed={p}");
    }
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let version = locked_version(&text, "wasmtime").unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=STOA_WASMTIME_VERSION={version}");
}

/// `git ARGS` run in the crate's directory, its trimmed output if it succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// The version of package `name` in a Cargo.lock's text.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            let next = lines.next()?.trim();
            return next.strip_prefix("version = \"")?.strip_suffix('"').map(str::to_string);
        }
    }
    None
}
