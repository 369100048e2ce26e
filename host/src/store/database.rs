//! [`Store`]: the sled database and its trees, how it is opened, and when what was written is
//! durable.

use std::path::Path;
use std::sync::Arc;

use crate::journal::{Fs, Segments};
use crate::live::LiveLog;
use crate::store::error::StoreError;
use crate::store::flush::{FlushError, SharedFlush};

/// Each session's config as JSON text and its seed, by code.
pub(super) type SessionConstants = std::collections::HashMap<String, (Arc<str>, u64)>;

/// The sled database and its trees. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Store {
    pub(super) sessions: sled::Tree,
    pub(super) participants: sled::Tree,
    /// Bumped after every write to `participants`: a reader that saw the same number holds
    /// their current value ([`Store::participant_since`]).
    pub(super) participants_written: Arc<std::sync::atomic::AtomicU64>,
    meta: sled::Tree,
    /// Each participant's arrival, first view and departure per page (`page_times`).
    pub(super) page_times: sled::Tree,
    flush: Arc<SharedFlush>,
    /// The `live` tree: group fields and the live log, with the journal that makes live
    /// calls durable and the cache of what is not yet written back (see [`crate::live`]).
    pub(crate) live: LiveLog,
    /// The database, for trees kept by other modules (researcher accounts, uploads).
    db: sled::Db,
    /// Sessions' configs as JSON text and their seeds, read once each
    /// ([`Store::session_config_text`], [`Store::session_seed`]).
    pub(super) configs: Arc<std::sync::Mutex<SessionConstants>>,
    /// The groups formed by arrival, by session and round (see [`crate::store::seating`]).
    pub(super) groupings: sled::Tree,
    /// Rounds' seatings drawn or read so far, by session code and round.
    pub(super) seatings: Arc<std::sync::Mutex<Seatings>>,
}

/// Rounds' seatings by session code, then round.
pub(super) type Seatings = std::collections::HashMap<String, std::collections::BTreeMap<u32, Arc<crate::store::seating::RoundSeating>>>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_on(dir, Fs::new(dir.join("journal")))
    }

    /// Opens (or creates) the database in `dir`, its live journal in `segments` (tests give
    /// segments in memory, whose writes fail on demand).
    pub(crate) fn open_on(dir: &Path, segments: impl Segments + 'static) -> Result<Store, StoreError> {
        Store::from_config(sled::Config::new().path(dir), Some(Arc::new(segments)))
    }

    /// A database that lives in a temporary directory and disappears when dropped. Nothing
    /// in it needs to survive a crash, so sled's background flusher is off, and field values
    /// are written back only when a group has many calls in the cache (see [`crate::live`]),
    /// never at close: writing values that are deleted right after is work for nothing.
    pub fn temporary() -> Result<Store, StoreError> {
        Store::from_config(sled::Config::new().temporary(true).flush_every_ms(None), None)
    }

    /// `journal`: the live journal's folder (none for a temporary store).
    fn from_config(config: sled::Config, journal: Option<Arc<dyn Segments>>) -> Result<Store, StoreError> {
        let db = config.open()?;
        let live = LiveLog::open(&db, journal)?;
        Ok(Store {
            sessions: db.open_tree("sessions")?,
            participants: db.open_tree("participants")?,
            participants_written: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            meta: db.open_tree("meta")?,
            page_times: db.open_tree("page_times")?,
            flush: Arc::new(SharedFlush::new(db.clone())),
            live,
            configs: Arc::default(),
            groupings: db.open_tree("groupings")?,
            seatings: Arc::default(),
            db,
        })
    }

    /// Blocks until everything written so far is on disk; concurrent callers share fsyncs.
    pub fn wait_durable(&self) -> Result<(), StoreError> {
        // Live call entries are durable in the journal; everything else in sled.
        self.live.wait_durable().map_err(|e| FlushError::Journal(e.to_string()))?;
        Ok(self.flush.wait_durable()?)
    }

    /// Runs `done` (on the journal's thread; it must not block) once every live call entry
    /// committed so far is on disk, or with the reason it cannot be.
    pub(crate) fn after_durable(&self, done: crate::journal::Done) {
        self.live.after_durable(done);
    }

    /// Fsyncs so far: the live journal's (which make live calls durable) and the sled
    /// flushes run by [`Store::wait_durable`].
    pub fn flushes(&self) -> (u64, u64) {
        (self.live.flushes(), self.flush.flushes())
    }

    /// A host setting.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.meta.get(key)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Sets a host setting.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.meta.insert(key, value.as_bytes())?;
        Ok(())
    }

    /// The tree `name`, opened (created when new): for records kept by other modules —
    /// researcher accounts and uploaded games (`crate::hosting::accounts`).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }
}
