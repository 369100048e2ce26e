//! `Runtime`: the one shared wasmtime `Engine`, the epoch ticker that enforces deadlines, and
//! the on-disk cache of compiled components. It knows wasmtime and nothing of games.

pub mod limits;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::engine::limits::Limits;

/// The pinned wasmtime version, part of every cache key.
const WASMTIME_VERSION: &str = "wasmtime-48.0.8";

/// How often the engine's epoch advances; deadlines are whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// A call's deadline is CPU time; on the wall clock it may take this many times as long
/// (a machine so busy that a call waits longer than that for a core is overloaded).
pub const WALL_FACTOR: u32 = 10;

/// CPU time the calling thread has used.
pub(crate) fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `clock_gettime` writes one `timespec` through the pointer, which points to a
    // live local of that type; CLOCK_THREAD_CPUTIME_ID exists on every Linux.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// What a host allows its games: defaults and maxima of the per-call limits, where compiled
/// components are cached, and how many instances may be alive at once.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Limits a game gets unless its manifest asks otherwise.
    pub defaults: Limits,
    /// The most a manifest may ask for.
    pub max: Limits,
    /// Where compiled components are kept (None: compile every time).
    pub cache_dir: Option<PathBuf>,
    /// Instances that may be alive at once across all games (pooling allocator slots).
    pub instances: u32,
    /// Largest component file accepted, in bytes.
    pub max_component_bytes: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig { defaults: Limits::DEFAULT, max: Limits::MAX, cache_dir: default_cache_dir(), instances: 1000, max_component_bytes: 64 << 20 }
    }
}

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

/// The engine and everything shared by all games.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) config: RuntimeConfig,
    ticker: Arc<AtomicBool>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Runtime {
    /// Builds the engine (pooling allocator sized for `config.instances`) and starts the epoch
    /// ticker.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Runtime> {
        let mut pool = PoolingAllocationConfig::default();
        // Python and JavaScript components hold a dozen core instances, several memories and
        // tables of tens of thousands of functions; Rust games need one of each.
        pool.total_component_instances(config.instances)
            .total_core_instances(config.instances * 16)
            .total_memories(config.instances * 2)
            .total_tables(config.instances * 4)
            .max_core_instances_per_component(64)
            .max_memories_per_component(8)
            .max_tables_per_component(32)
            .max_memory_size(config.max.memory_bytes as usize)
            .table_elements(100_000)
            .max_core_instance_size(8 << 20)
            .max_component_instance_size(8 << 20)
            // Keep the first 64 KiB of a freed slot resident (reset by memset); the rest is
            // reset with madvise. With PAGEMAP_SCAN (Linux 6.7+) only the pages the instance
            // dirtied are reset: measured side by side, a fresh Rust instance went from 34 to
            // 12.5 µs and a whole auction live call from 56 to 33 µs. Keeping more resident
            // (1–4 MiB) measured no better, and costs RSS per slot.
            .linear_memory_keep_resident(64 << 10)
            .table_keep_resident(64 << 10)
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(1 << 20)
            .parallel_compilation(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(anyhow::Error::from).context("failed to create the wasmtime engine")?;

        let ticker = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = ticker.clone();
            std::thread::Builder::new()
                .name("stoa-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .context("failed to start the epoch ticker")?;
        }
        Ok(Runtime { engine, config, ticker })
    }

    /// Deadline in epoch ticks, rounded up, plus one for the tick already under way.
    pub(crate) fn ticks(deadline: Duration) -> u64 {
        (deadline.as_micros() as u64).div_ceil(EPOCH_TICK.as_micros() as u64) + 1
    }

    /// Arms `store` so that what runs in it next traps with [`wasmtime::Trap::Interrupt`]
    /// once it has used `deadline` of CPU time on the calling thread — or run
    /// [`WALL_FACTOR`] times that long on the wall clock. A deadline counted on the wall
    /// clock alone would fail sound calls whenever the machine is busy (a thread waiting for
    /// a core is not the game's doing); CPU time is checked whenever the epoch says the
    /// deadline has passed on the wall clock, and the call goes on for the CPU time left.
    ///
    /// The thread's CPU clock is a system call (~2 µs on a VM), so it is first read at the
    /// first epoch tick the call runs past, not when the call starts: nearly every call ends
    /// before that and never reads it. What ran before that first reading is charged as
    /// the wall time it took, at most two ticks: it ran for at most a tick (with the ticker
    /// on time; a late ticker lets every check come late, as before) plus the time to reach
    /// the check, and a thread that waited for a core meanwhile is not charged for the wait.
    pub(crate) fn arm_deadline<T: 'static>(store: &mut wasmtime::Store<T>, deadline: Duration) {
        let started = std::time::Instant::now();
        // (CPU clock at the first reading, CPU time charged for what ran before it)
        let mut base: Option<(Duration, Duration)> = None;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            let now = thread_cpu_time();
            let (cpu_at_first, before) = *base.get_or_insert_with(|| (now, started.elapsed().min(EPOCH_TICK * 2)));
            let used = before + now.saturating_sub(cpu_at_first);
            if used >= deadline || started.elapsed() >= deadline * WALL_FACTOR {
                return Err(wasmtime::Trap::Interrupt.into());
            }
            Ok(wasmtime::UpdateDeadline::Continue(Runtime::ticks(deadline - used)))
        });
    }

    /// Compiles a component file, or loads its compiled form from the cache (keyed by the
    /// file's SHA-256, the wasmtime version and the engine's settings).
    pub fn compile(&self, path: &Path) -> anyhow::Result<Component> {
        let meta = std::fs::metadata(path).with_context(|| format!("cannot read component `{}`", path.display()))?;
        if meta.len() > self.config.max_component_bytes {
            anyhow::bail!(
                "component `{}` is {} bytes, above the host limit of {} bytes",
                path.display(),
                meta.len(),
                self.config.max_component_bytes
            );
        }
        let bytes = std::fs::read(path).with_context(|| format!("cannot read component `{}`", path.display()))?;
        self.compile_bytes(&bytes).with_context(|| format!("cannot compile component `{}`", path.display()))
    }

    /// Like [`Runtime::compile`] for bytes already in memory.
    pub fn compile_bytes(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        let Some(dir) = &self.config.cache_dir else {
            return Ok(Component::new(&self.engine, bytes)?);
        };
        let mut hash = Sha256::new();
        hash.update(bytes);
        let key = format!("{}-{}-{:016x}.cwasm", hex::encode(hash.finalize()), WASMTIME_VERSION, {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            self.engine.precompile_compatibility_hash().hash(&mut h);
            h.finish()
        });
        let file = dir.join(key);
        if file.is_file() {
            // SAFETY: the file is one this function wrote (atomically, by rename) from the
            // engine's own `serialize` under a name that includes the source hash and the
            // engine's compatibility hash; wasmtime still checks its header and version.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize_file(&self.engine, &file) } {
                Ok(c) => return Ok(c),
                Err(e) => tracing::warn!("ignoring unusable cached component {}: {e:#}", file.display()),
            }
        }
        let component = Component::new(&self.engine, bytes)?;
        if let Err(e) = store_cached(dir, &file, &component) {
            tracing::warn!("cannot cache compiled component in {}: {e:#}", dir.display());
        }
        Ok(component)
    }
}

fn store_cached(dir: &Path, file: &Path, component: &Component) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    std::io::Write::write_all(&mut tmp, &component.serialize()?)?;
    tmp.persist(file)?;
    Ok(())
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_time_counts_work_and_not_sleep() {
        let before = thread_cpu_time();
        std::thread::sleep(Duration::from_millis(50));
        let slept = thread_cpu_time() - before;
        let before = thread_cpu_time();
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let worked = thread_cpu_time() - before;
        assert!(slept < Duration::from_millis(10), "sleeping used {slept:?} of CPU");
        assert!(worked > slept, "50 ms of work used {worked:?} of CPU, sleeping {slept:?}");
    }
}
