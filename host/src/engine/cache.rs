//! The on-disk cache of compiled components: compiling a large component (a Python or
//! JavaScript runtime) takes seconds, loading its compiled form far less. Entries are keyed by
//! the component's SHA-256, the wasmtime version and the engine's settings, so a stale one is
//! never used.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The pinned wasmtime version, part of every cache key.
const WASMTIME_VERSION: &str = "wasmtime-48.0.8";

/// `$STOA_CACHE_DIR`, else `$XDG_CACHE_HOME/stoa`, else `~/.cache/stoa`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = set("STOA_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = set("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("stoa"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("stoa"))
}

/// Compiles `bytes` for `engine`, or loads their compiled form from `dir` (None: no cache);
/// a fresh compilation is written to the cache, and a cache that cannot be written only warns.
pub(crate) fn compile(engine: &Engine, dir: Option<&Path>, bytes: &[u8]) -> anyhow::Result<Component> {
    let Some(dir) = dir else {
        return Ok(Component::new(engine, bytes)?);
    };
    let mut hash = Sha256::new();
    hash.update(bytes);
    let mut settings = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    let file = dir.join(format!("{}-{}-{:016x}.cwasm", hex::encode(hash.finalize()), WASMTIME_VERSION, settings.finish()));
    if file.is_file() {
        // SAFETY: the file is one this function wrote (atomically, by rename) from the
        // engine's own `serialize` under a name that includes the source hash and the
        // engine's compatibility hash; wasmtime still checks its header and version.
        #[allow(unsafe_code)]
        match unsafe { Component::deserialize_file(engine, &file) } {
            Ok(c) => return Ok(c),
            Err(e) => tracing::warn!("ignoring unusable cached component {}: {e:#}", file.display()),
        }
    }
    let component = Component::new(engine, bytes)?;
    if let Err(e) = store(dir, &file, &component) {
        tracing::warn!("cannot cache compiled component in {}: {e:#}", dir.display());
    }
    Ok(component)
}

/// Writes `component`'s compiled form to `file` in `dir`: to a temporary file first, then
/// renamed, so a reader never sees half a file.
fn store(dir: &Path, file: &Path, component: &Component) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    std::io::Write::write_all(&mut tmp, &component.serialize()?)?;
    tmp.persist(file)?;
    Ok(())
}
