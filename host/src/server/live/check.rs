//! The checks of a client's live frame before it reaches the group's actor: rate, quota,
//! size, JSON, and that the participant still stands on the socket's live page.

use crate::game::Game;
use crate::server::state::AppState;
use crate::session::current_page;
use crate::store::Participant;

/// The checks of a client text frame that need no state: at most `frame_bytes` long, and
/// JSON. `Err` is the reason sent back in the error frame. (Public for the fuzz target.)
pub fn check_frame(text: &str, frame_bytes: usize) -> Result<(), String> {
    if text.len() > frame_bytes {
        return Err(format!("frame of {} bytes is above the limit of {frame_bytes} bytes", text.len()));
    }
    // `check_json` checks the depth too; the depth is scanned again only to word a refusal.
    crate::game::check_json(text).map_err(|e| {
        if crate::game::json::too_deep(text) {
            let max = crate::game::json::MAX_JSON_DEPTH;
            format!("frame nests arrays and objects more than {max} levels deep, above the limit")
        } else {
            format!("frame is not JSON: {e}")
        }
    })
}

/// Takes one of the participant's rate tokens for a frame of any kind (text, binary, ping),
/// or says why not.
pub(crate) fn take_token(state: &AppState, participant: &str) -> Result<(), String> {
    if state.monitor.take_token(participant, state.config.rate_per_second, state.config.rate_burst) {
        Ok(())
    } else {
        Err(format!("too many messages: the limit is {} per second", state.config.rate_per_second))
    }
}

/// Why a client frame is refused, or Ok. `seen`: the participant as last read by this socket.
pub(crate) fn check(
    state: &AppState,
    game: &Game,
    connected: &Participant,
    page: &str,
    text: &str,
    seen: &mut Option<(u64, Participant)>,
) -> Result<(), String> {
    // Every frame, good or bad, takes a token: a flood of garbage is limited like any other.
    take_token(state, &connected.code)?;
    check_frame(text, state.config.frame_bytes)?;
    let now = match state.store.participant_since(&connected.code, seen) {
        Ok(Some(p)) => p,
        Ok(None) => return Err("unknown participant".into()),
        Err(e) => return Err(e.to_string()),
    };
    match current_page(now, &game.manifest) {
        Some(p) if p.name == page && now.round == connected.round => {
            if !p.live {
                return Err(format!("page `{page}` has no live channel"));
            }
            // Last: only a frame that reaches the game spends its researcher's quota, so a
            // participant's garbage cannot refuse the researcher's other sessions.
            state.tenants.take_live(game.name())
        }
        Some(p) => Err(format!("you are on page `{}` of round {}, not on page `{page}` of round {}", p.name, now.round, connected.round)),
        None => Err("you have finished the session".into()),
    }
}
