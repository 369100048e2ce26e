//! Page times: when each participant arrived on each page of each round, first saw it and
//! left it (oTree's page-time data, used to study response times), in the `page_times` tree:
//! `session \0 position (u32 BE) round (u32 BE) page index (u32 BE)` → [`PageTime`], written
//! with the move that leaves the page.

use serde::{Deserialize, Serialize};

use crate::store::database::Store;
use crate::store::error::StoreError;
use crate::store::records::{Participant, decode, encode};

/// One participant's stay on one page of one round.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PageTime {
    /// The participant's code.
    pub participant: String,
    /// 1-based position in the session.
    pub position: u32,
    /// 1-based round.
    pub round: u32,
    /// The page's name.
    pub page: String,
    /// When the participant arrived on the page (ms since the Unix epoch).
    pub arrived_ms: u64,
    /// When they first loaded it, if they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewed_ms: Option<u64>,
    /// When they left it.
    pub left_ms: u64,
    /// Whether it was left by its timeout (or the admin's advance).
    pub timeout_happened: bool,
}

impl PageTime {
    /// The stay `p` ends now, at `left_ms`, on page `page` (its current one).
    pub(crate) fn of(p: &Participant, page: &str, left_ms: u64, timeout_happened: bool) -> PageTime {
        PageTime {
            participant: p.code.clone(),
            position: p.index + 1,
            round: p.round,
            page: page.to_string(),
            arrived_ms: p.page_entered_ms,
            viewed_ms: p.page_viewed_ms,
            left_ms,
            timeout_happened,
        }
    }
}

fn key(session: &str, position: u32, round: u32, page_index: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(session.len() + 13);
    k.extend_from_slice(session.as_bytes());
    k.push(0);
    for n in [position, round, page_index] {
        k.extend_from_slice(&n.to_be_bytes());
    }
    k
}

impl Store {
    /// Records that `p` leaves its current page as `time` says.
    pub(crate) fn record_page_time(&self, p: &Participant, time: &PageTime) -> Result<(), StoreError> {
        self.page_times.insert(key(&p.session, p.index + 1, p.round, p.page_index), encode(time))?;
        Ok(())
    }

    /// Every page time of `session`, by participant, round and page.
    pub fn page_times(&self, session: &str) -> Result<Vec<PageTime>, StoreError> {
        let mut prefix = session.as_bytes().to_vec();
        prefix.push(0);
        self.page_times
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                decode(&k, &v)
            })
            .collect()
    }
}
