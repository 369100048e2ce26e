//! The page sequence: where a participant stands, where they go next, when their page times
//! out. Pure — no server, store, clock or task in it: the server's page flow
//! (`server::flow`) reads and writes participants and calls these.
//!
//! Pages run in manifest order, then the next round from page 0, until `num_rounds`; then the
//! participant has finished (`page_index == pages.len()` in the last round). Groups are fixed
//! across rounds. A wait page is left by the whole group at once, when all of it stands there.

pub(crate) mod completion;
pub(crate) mod form;

use crate::manifest::{Manifest, Page, PageKind};
use crate::store::Participant;

#[cfg(test)]
mod tests;

/// The page the participant stands on; `None` once they have finished.
pub(crate) fn current_page<'m>(p: &Participant, manifest: &'m Manifest) -> Option<&'m Page> {
    manifest.pages.get(p.page_index as usize)
}

/// Whether the participant is past the last page of the last round.
pub(crate) fn finished(p: &Participant, manifest: &Manifest) -> bool {
    p.page_index as usize >= manifest.pages.len()
}

/// Whether the participant stands on a wait page.
pub(crate) fn on_wait_page(p: &Participant, manifest: &Manifest) -> bool {
    current_page(p, manifest).is_some_and(|page| page.kind == PageKind::Wait)
}

/// When the participant's current page times out (ms since the epoch), if it has a timeout:
/// the moment the game's `get-timeout-seconds` gave at their first view, else
/// `timeout_seconds` after that view (oTree's rule: none before they load it). Wait pages
/// never time out: a group waits for all its members.
pub(crate) fn deadline(p: &Participant, manifest: &Manifest) -> Option<u64> {
    let page = current_page(p, manifest)?;
    match (page.kind, p.page_deadline_ms, page.timeout_seconds, p.page_viewed_ms) {
        (PageKind::Normal, Some(at), _, _) => Some(at),
        (PageKind::Normal, None, Some(s), Some(viewed)) => Some(viewed.saturating_add(u64::from(s) * 1000)),
        _ => None,
    }
}

/// Whether `p`'s first view of its current page, at `now`, is still to be recorded: then it
/// is, and the page's timeout starts.
pub(crate) fn view(p: &mut Participant, now: u64) -> bool {
    if p.page_viewed_ms.is_some() {
        return false;
    }
    p.page_viewed_ms = Some(now);
    true
}

/// Puts `p` on the page after its current one at time `now`, rolling over to the next round;
/// a finished participant stays where they are.
pub(crate) fn step(p: &mut Participant, manifest: &Manifest, now: u64) {
    if finished(p, manifest) {
        return;
    }
    p.page_index += 1;
    if finished(p, manifest) && p.round < manifest.num_rounds {
        p.round += 1;
        p.page_index = 0;
    }
    p.page_entered_ms = now;
    p.page_viewed_ms = None;
    p.page_deadline_ms = None;
}

/// Moves the whole `group` past the wait page all of it stands on. Returns whether it moved:
/// not while a member stands elsewhere. A group landing on another wait page is released from
/// that one by the next call (each wait page's hook runs first, see `server::flow`).
pub(crate) fn release_wait(group: &mut [Participant], manifest: &Manifest, now: u64) -> bool {
    let Some(first) = group.first() else { return false };
    let at = (first.round, first.page_index);
    if !on_wait_page(first, manifest) || group.iter().any(|m| (m.round, m.page_index) != at) {
        return false;
    }
    for m in group.iter_mut() {
        step(m, manifest, now);
    }
    true
}
