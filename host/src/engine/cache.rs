//! The on-disk cache of compiled components: compiling a large component (a Python or
//! JavaScript runtime) takes seconds, loading its compiled form far less. Entries are keyed by
//! the component's SHA-256, the wasmtime version and the engine's settings, so a stale one is
//! never used.
//!
//! The cache is bounded: past [`Cache::limit`] bytes the least recently used files go (a hit
//! touches its file), and a refused or deleted upload's file is removed by its owner
//! ([`Cache::remove`]). One component is compiled once at a time: callers asking for the same
//! one wait for the first and load what it wrote.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The pinned wasmtime version, part of every cache key.
const WASMTIME_VERSION: &str = concat!("wasmtime-", env!("STOA_WASMTIME_VERSION"));

/// The extension of a cache file (what eviction counts and removes; nothing else in the
/// folder is touched).
const EXTENSION: &str = "cwasm";

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

/// The cache folder of one runtime (or none: compile every time).
pub(crate) struct Cache {
    dir: Option<PathBuf>,
    /// Most bytes of cache files kept; past it the least recently used go.
    limit: u64,
    /// The compilations running, by cache file: a caller asking for one waits for it. A std
    /// mutex, held only to find or add a file's lock.
    compiling: Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>,
}

impl Cache {
    /// The cache in `dir`, holding at most `limit` bytes.
    pub(crate) fn new(dir: Option<PathBuf>, limit: u64) -> Cache {
        Cache { dir, limit, compiling: Mutex::default() }
    }

    /// Where `bytes`' compiled form for `engine` is (or would be) cached.
    pub(crate) fn file(&self, engine: &Engine, bytes: &[u8]) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut settings = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut settings);
        let hash = hex::encode(Sha256::digest(bytes));
        Some(dir.join(format!("{hash}-{WASMTIME_VERSION}-{:016x}.{EXTENSION}", settings.finish())))
    }

    /// Compiles `bytes` for `engine`, or loads their compiled form from the cache; a fresh
    /// compilation is written to the cache (then trimmed to its limit), and a cache that
    /// cannot be written only warns.
    pub(crate) fn compile(&self, engine: &Engine, bytes: &[u8]) -> anyhow::Result<Component> {
        let (Some(dir), Some(file)) = (self.dir.as_deref(), self.file(engine, bytes)) else {
            return Ok(Component::new(engine, bytes)?);
        };
        let lock = self.compiling().entry(file.clone()).or_default().clone();
        let compiled = {
            let _one = lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.load_or_compile(engine, dir, &file, bytes)
        };
        // The last one out forgets the file's lock (a waiter still holds a clone of it).
        let mut compiling = self.compiling();
        if Arc::strong_count(&lock) == 2 {
            compiling.remove(&file);
        }
        compiled
    }

    fn load_or_compile(&self, engine: &Engine, dir: &Path, file: &Path, bytes: &[u8]) -> anyhow::Result<Component> {
        if file.is_file() {
            // SAFETY: the file is one this function wrote (atomically, by rename) from the
            // engine's own `serialize` under a name that includes the source hash and the
            // engine's compatibility hash; wasmtime still checks its header and version.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize_file(engine, file) } {
                Ok(c) => {
                    // Used now: the last to be evicted.
                    let _ = std::fs::File::options().append(true).open(file).and_then(|f| f.set_modified(SystemTime::now()));
                    return Ok(c);
                }
                Err(e) => tracing::warn!("ignoring unusable cached component {}: {e:#}", file.display()),
            }
        }
        let component = Component::new(engine, bytes)?;
        match store(dir, file, &component) {
            Ok(()) => self.evict(dir, file),
            Err(e) => tracing::warn!("cannot cache compiled component in {}: {e:#}", dir.display()),
        }
        Ok(component)
    }

    /// Removes the cache files, least recently used first, until those left hold at most
    /// [`Cache::limit`] bytes; never `keep` (just written).
    fn evict(&self, dir: &Path, keep: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut files: Vec<(SystemTime, u64, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == EXTENSION))
            .filter_map(|p| {
                let meta = std::fs::metadata(&p).ok()?;
                Some((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len(), p))
            })
            .collect();
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= self.limit {
                break;
            }
            if path == keep {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => total -= len,
                Err(e) => tracing::warn!("cannot evict cached component {}: {e}", path.display()),
            }
        }
    }

    /// Removes a cache file (of a refused or deleted upload); one already gone is fine.
    pub(crate) fn remove(&self, file: &Path) {
        let ours = self.dir.as_deref().is_some_and(|dir| file.parent() == Some(dir));
        if ours
            && let Err(e) = std::fs::remove_file(file)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove cached component {}: {e}", file.display());
        }
    }

    fn compiling(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Mutex<()>>>> {
        self.compiling.lock().unwrap_or_else(PoisonError::into_inner)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_its_limit_the_least_recently_used_files_go_but_never_the_new_one_or_other_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = |secs: u64| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000 + secs);
        let file = |name: &str, used: u64| {
            let path = dir.path().join(name);
            std::fs::write(&path, [0u8; 100]).expect("write");
            std::fs::File::options().append(true).open(&path).and_then(|f| f.set_modified(at(used))).expect("mtime");
            path
        };
        let (old, used, new) = (file("old.cwasm", 1), file("used.cwasm", 3), file("new.cwasm", 2));
        let other = file("notes.txt", 0);
        // 300 bytes of cache files, 250 allowed: the least recently used one goes.
        Cache::new(Some(dir.path().to_path_buf()), 250).evict(dir.path(), &new);
        assert!(!old.exists() && used.exists() && new.exists() && other.exists());
        // Even with no room at all, the file just written stays.
        Cache::new(Some(dir.path().to_path_buf()), 0).evict(dir.path(), &new);
        assert!(!used.exists() && new.exists() && other.exists());
        // A file outside the cache folder is never removed.
        Cache::new(Some(dir.path().join("elsewhere")), 0).remove(&new);
        assert!(new.exists());
        Cache::new(Some(dir.path().to_path_buf()), 0).remove(&new);
        assert!(!new.exists());
    }
}
