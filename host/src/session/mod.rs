//! The page sequence: where a participant stands, where they go next, when their page times
//! out. Pure — no server, store, clock or task in it: the server's page flow
//! (`server::flow`) reads and writes participants and calls these.
//!
//! Pages run in manifest order, then the next round from page 0, until `num_rounds`; then the
//! participant has finished (`page_index == pages.len()` in the last round). A wait page is
//! left by the members of a group standing there, together, once the others stand there too
//! or past it — past it only when the page timed out for them: a wait page's timeout lets
//! the members there go on without the missing ones, and a latecomer then goes on alone.
//! (Which group a participant is in, each round, is `crate::store::seating`'s.)

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
/// `timeout_seconds` after that view (oTree's rule: none before they load it), for a wait
/// page as for a normal one.
pub(crate) fn deadline(p: &Participant, manifest: &Manifest) -> Option<u64> {
    let page = current_page(p, manifest)?;
    match (p.page_deadline_ms, page.timeout_seconds, p.page_viewed_ms) {
        (Some(at), _, _) => Some(at),
        (None, Some(s), Some(viewed)) => Some(viewed.saturating_add(u64::from(s) * 1000)),
        _ => None,
    }
}

/// Where the participant stands: (round, page index), ordered as the session goes.
pub(crate) fn at(p: &Participant) -> (u32, u32) {
    (p.round, p.page_index)
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

/// The members of `group` (its members, in any order) who leave the wait page at `at` now:
/// those standing there, once every other member stands there or past it — or at once when
/// the page `timed_out`. None when `at` is not a wait page or nobody stands there.
pub(crate) fn leaving_wait(group: &[Participant], manifest: &Manifest, at: (u32, u32), timed_out: bool) -> Vec<usize> {
    let is_wait = manifest.pages.get(at.1 as usize).is_some_and(|page| page.kind == PageKind::Wait);
    let here: Vec<usize> = group.iter().enumerate().filter(|(_, m)| self::at(m) == at).map(|(i, _)| i).collect();
    if !is_wait || here.is_empty() || !(timed_out || group.iter().all(|m| self::at(m) >= at)) {
        return Vec::new();
    }
    here
}
