//! `Runtime`: the one shared wasmtime `Engine`, the epoch ticker that enforces deadlines, and
//! the on-disk cache of compiled components. It knows wasmtime and nothing of games.

mod cache;
mod deadline;
pub mod limits;
pub mod share;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::engine::cache::Cache;
pub use crate::engine::cache::default_cache_dir;
use crate::engine::deadline::Ticker;
pub(crate) use crate::engine::deadline::arm_deadline;
pub use crate::engine::deadline::{EPOCH_TICK, WALL_FACTOR};
use crate::engine::limits::Limits;

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
    /// Instances one researcher's games may hold at once (the server's own games have no share).
    pub researcher_instances: u32,
    /// Largest component file accepted, in bytes.
    pub max_component_bytes: u64,
    /// Most bytes of compiled components kept in `cache_dir`; past it the least recently
    /// used files are deleted.
    pub cache_bytes: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            defaults: Limits::DEFAULT,
            max: Limits::MAX,
            cache_dir: default_cache_dir(),
            instances: 1000,
            researcher_instances: 250,
            max_component_bytes: 64 << 20,
            cache_bytes: 2 << 30,
        }
    }
}

/// The engine and everything shared by all games.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) config: RuntimeConfig,
    /// The pool's instances shared out per researcher.
    pub(crate) shares: std::sync::Arc<share::Shares>,
    /// Compiled components on disk (`config.cache_dir`).
    cache: Cache,
    /// Advances the epoch while the runtime lives; dropping it stops the thread.
    _ticker: Ticker,
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
        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(1 << 20)
            .parallel_compilation(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool(&config)));
        let engine = Engine::new(&wasm).map_err(anyhow::Error::from).context("failed to create the wasmtime engine")?;
        let ticker = Ticker::start(&engine)?;
        let shares = std::sync::Arc::new(share::Shares::new(config.researcher_instances));
        let cache = Cache::new(config.cache_dir.clone(), config.cache_bytes);
        Ok(Runtime { engine, config, shares, cache, _ticker: ticker })
    }

    /// Compiles a component file, or loads its compiled form from the cache (keyed by the
    /// file's SHA-256, the wasmtime version and the engine's settings).
    pub fn compile(&self, path: &Path) -> anyhow::Result<Component> {
        let bytes = self.read_component(path)?;
        self.compile_bytes(&bytes).with_context(|| format!("cannot compile component `{}`", path.display()))
    }

    /// Reads a component file, refused past the host's component size limit.
    pub fn read_component(&self, path: &Path) -> anyhow::Result<Vec<u8>> {
        let meta = std::fs::metadata(path).with_context(|| format!("cannot read component `{}`", path.display()))?;
        if meta.len() > self.config.max_component_bytes {
            anyhow::bail!(
                "component `{}` is {} bytes, above the host limit of {} bytes",
                path.display(),
                meta.len(),
                self.config.max_component_bytes
            );
        }
        std::fs::read(path).with_context(|| format!("cannot read component `{}`", path.display()))
    }

    /// Instances the games of researcher `owner` hold now.
    pub fn instances_held_by(&self, owner: &str) -> u32 {
        self.shares.of(Some(owner)).held()
    }

    /// Like [`Runtime::compile`] for bytes already in memory.
    pub fn compile_bytes(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        self.cache.compile(&self.engine, bytes)
    }

    /// Where the compiled form of the component `bytes` is cached (None without a cache).
    pub fn compiled_file(&self, bytes: &[u8]) -> Option<PathBuf> {
        self.cache.file(&self.engine, bytes)
    }

    /// Deletes a cached compiled component (of a game no longer kept); a file outside the
    /// cache folder is left alone.
    pub fn remove_compiled(&self, file: &Path) {
        self.cache.remove(file);
    }
}

/// Core instances one component may create.
pub const MAX_CORE_INSTANCES: u32 = 32;
/// Linear memories one component may have (their sizes count together against its cap).
pub const MAX_MEMORIES: u32 = 2;
/// Function tables one component may have.
pub const MAX_TABLES: u32 = 8;

/// The pooling allocator's slots: `config.instances` component instances, each with room for
/// the largest language runtime a game may bring.
fn pool(config: &RuntimeConfig) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    // Every slot kind has room for `instances` components at their per-component maxima, so
    // no game can take the memories or tables of the pool with fewer instances: the instances
    // themselves are what is shared (and shared out per researcher, see
    // `crate::game::InstanceShare`). Python and JavaScript components hold one memory, two
    // tables of thousands of functions and a dozen or two core instances; Rust games one
    // memory, two tables and three core instances.
    pool.total_component_instances(config.instances)
        .total_core_instances(config.instances * MAX_CORE_INSTANCES)
        .total_memories(config.instances * MAX_MEMORIES)
        .total_tables(config.instances * MAX_TABLES)
        .max_core_instances_per_component(MAX_CORE_INSTANCES)
        .max_memories_per_component(MAX_MEMORIES)
        .max_tables_per_component(MAX_TABLES)
        .max_memory_size(config.max.memory_bytes as usize)
        .table_elements(100_000)
        .max_core_instance_size(8 << 20)
        .max_component_instance_size(8 << 20)
        // A freed slot keeps its first 64 KiB resident (reset by memset) and the rest is
        // reset with madvise; with PAGEMAP_SCAN (Linux 6.7+) only the pages the instance
        // dirtied are reset. That makes a fresh instance, which every call without a warm
        // one pays for, much cheaper. Keeping more resident is no faster and costs
        // RSS per slot.
        .linear_memory_keep_resident(64 << 10)
        .table_keep_resident(64 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    pool
}
