//! The store: everything Stoa keeps, in one sled database.
//!
//! - [`database`](Store): the [`Store`] — its trees, how it opens (and recovers the live log
//!   after a crash), and when what was written is durable;
//! - `records`: [`Session`] and [`Participant`] in the `sessions` and `participants` trees,
//!   and the JSON codec of stored records;
//! - `groups`: each group's live log (through [`crate::live`], which owns the `live` tree, the
//!   journal and the write-behind cache) and its field values;
//! - [`rooms`]: [`Rooms`] in the `rooms` tree — rooms, the session open in each, and which
//!   participant each arrival (and each label) was given;
//! - `error`: [`StoreError`];
//! - `codes`: [`random_code`], for session and participant codes and tokens, and
//!   [`sha256_hex`];
//! - `flush`: one fsync of sled shared by concurrent callers, and [`FlushError`];
//! - `page_times`: [`PageTime`], when each participant arrived on, first saw and left each page;
//! - [`seating`]: a participant's group and id in each round: by position, drawn from the
//!   session's seed, or formed by arrival; `seatings`: each session's rounds, kept (the
//!   groups formed by arrival in the `groupings` tree);
//! - `provenance`: [`Provenance`], what a session's game was loaded from, kept at its creation.
//!
//! Trees: `live` (group fields, player fields and the live log: see [`crate::live`]),
//! `sessions` (session code → [`Session`]), `participants` (participant code →
//! [`Participant`]), `page_times` (see [`PageTime`]), `meta` (host settings such as the admin
//! token), `rooms`, `groupings`, `provenance`, and those other modules
//! open with [`Store::tree`]. Field values are stored only once written; a read of an
//! unwritten field gives the manifest's initial value.

mod codes;
mod database;
mod error;
mod flush;
mod groups;
mod page_times;
mod provenance;
mod records;
pub mod rooms;
pub mod seating;
mod seatings;

pub use crate::clock::now_ms;
pub use crate::live::GroupKey;
pub use crate::manifest::Grouping;
pub use codes::{random_code, sha256_hex};
pub use database::Store;
pub use error::StoreError;
pub use flush::FlushError;
pub use page_times::PageTime;
pub use provenance::{HostVersion, Provenance, TemplateHash, WASMTIME_VERSION};
pub use records::{Participant, Session};
pub(crate) use records::{decode, encode};
pub use rooms::{Room, RoomError, Rooms, Seat};
pub use seating::RoundSeating;
