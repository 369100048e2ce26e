//! [`Subscription`]: a live socket's place among its group's subscribers, given up as soon as
//! it is dropped.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::server::actors::actor::{Actor, Command, FrameSender};
use crate::server::actors::frame::Frame;

/// A socket's subscription to its group: the frames queued for it (replay, routed messages,
/// its calls' errors). Dropped — the socket closed, or its upgrade never completed — it
/// leaves the actor's subscribers at once, rather than when the next message for that
/// player finds it closed, so sockets that come and go do not pile up in a quiet group.
pub(crate) struct Subscription {
    actor: Arc<Actor>,
    /// Frames for the socket, in the order the actor routed them.
    pub(crate) frames: mpsc::Receiver<Frame>,
}

impl Subscription {
    /// Subscribes player `id` on `page` to `actor`'s group, replaying what that page's calls
    /// routed after seq `after`, with
    /// room for `queue` frames; the sender is the socket's own, for its calls' errors.
    pub(crate) fn new(actor: Arc<Actor>, id: u32, page: &str, after: Option<u64>, queue: usize) -> (Subscription, FrameSender) {
        let (sender, frames) = mpsc::channel::<Frame>(queue);
        actor.send(Command::Subscribe { id, page: page.to_string(), after, frames: sender.clone() });
        (Subscription { actor, frames }, sender)
    }

    /// The group's actor.
    pub(crate) fn actor(&self) -> &Arc<Actor> {
        &self.actor
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Closed first: a subscribe the actor delivers after this sees it and keeps nothing.
        self.frames.close();
        self.actor.unsubscribe_closed();
    }
}
