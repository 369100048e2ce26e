//! What each participant's live connections are doing, for the admin monitor, and the
//! participant's rate limit, kept beside it so a frame takes one lock.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::server::rate::TokenBucket;

/// Per-participant connection state, for the admin monitor and the rate limit.
#[derive(Debug, Default)]
pub(crate) struct Monitor {
    inner: Mutex<HashMap<String, Activity>>,
}

/// What one participant's live connections did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Activity {
    /// Open sockets now.
    pub(crate) connected: u32,
    /// Frames received from the participant.
    pub(crate) sent: u64,
    /// Frames delivered to the participant.
    pub(crate) received: u64,
    /// Error frames sent to the participant.
    pub(crate) errors: u64,
    /// The participant's live-frame rate limit, made on their first frame.
    #[serde(skip)]
    bucket: Option<TokenBucket>,
}

impl Monitor {
    /// Applies `f` to a participant's activity.
    pub(crate) fn update<R>(&self, participant: &str, f: impl FnOnce(&mut Activity) -> R) -> R {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Looked up first: the key is copied only for a participant's first update.
        if let Some(activity) = map.get_mut(participant) {
            return f(activity);
        }
        f(map.entry(participant.to_string()).or_default())
    }

    /// A snapshot of a participant's activity.
    pub(crate) fn get(&self, participant: &str) -> Activity {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).get(participant).cloned().unwrap_or_default()
    }

    /// Takes one token from the participant's bucket (`rate` per second, up to `burst`);
    /// false when the bucket is empty.
    pub(crate) fn take_token(&self, participant: &str, rate: f64, burst: f64) -> bool {
        self.update(participant, |a| a.bucket.get_or_insert_with(|| TokenBucket::new(rate, burst)).take())
    }
}
