//! `GET /live/{participant}?page=NAME&after=SEQ`: a participant's live socket.
//!
//! Client text frames are the JSON given to `liveSend`. Each is checked (`check`: rate,
//! quota, size, JSON, that the participant is on that live page) and answered with
//! `{"error": ...}` to this socket alone when it fails; the socket stays open and nothing is
//! written. Good frames go to the group's actor, which sends back `{"seq": N, "data": P}`
//! frames, and error frames for calls that failed.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt as _;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::game::Game;
use crate::server::actors::actor::{Command, FrameSender};
use crate::server::actors::frame::Frame;
use crate::server::actors::subscription::Subscription;
use crate::server::live::check::{check, take_token};
use crate::server::state::AppState;
use crate::session::current_page;
use crate::store::Participant;

/// Query of the live URL.
#[derive(Debug, Deserialize)]
pub(crate) struct LiveQuery {
    /// The page the socket is for (default: the participant's current page).
    page: Option<String>,
    /// Replay messages with seq greater than this (absent: no replay).
    after: Option<u64>,
}

/// Frames larger than this close the socket outright; up to it, an oversized frame gets an
/// error frame. Keeps a hostile client from making us buffer without bound.
const HARD_FRAME_LIMIT: usize = 4 << 20;

/// Bytes a socket reads at a time (tungstenite allocates this up front for every socket; its
/// default, 128 KiB, would make 10,000 idle participants cost 1.3 GiB). Larger frames still
/// arrive whole, read in several pieces.
const READ_BUFFER: usize = 4096;

/// Live calls one socket may have waiting for their answer.
const IN_FLIGHT: usize = 256;

/// Frames queued for one socket. A socket that falls this far behind is closed; its client
/// reconnects and resumes from its last seq.
const SOCKET_QUEUE: usize = 4096;

/// Upgrades the request to the participant's live socket on `page` (default: their current
/// page), subscribed to their group's messages after seq `after`.
pub(crate) async fn socket(
    State(state): State<Arc<AppState>>,
    Path(code): Path<String>,
    query: Result<Query<LiveQuery>, axum::extract::rejection::QueryRejection>,
    ws: WebSocketUpgrade,
) -> Response {
    let Ok(Query(query)) = query else {
        return (StatusCode::BAD_REQUEST, "bad query: expected ?page=NAME&after=SEQ").into_response();
    };
    let (participant, game) = match lookup(&state, &code) {
        Ok(found) => found,
        Err((status, why)) => return (status, why).into_response(),
    };
    // An upgrade (with its replay) takes one of the participant's rate tokens.
    if let Err(reason) = take_token(&state, &participant.code) {
        return (StatusCode::TOO_MANY_REQUESTS, reason).into_response();
    }
    let page = query.page.clone().or_else(|| current_page(&participant, &game.manifest).map(|p| p.name.clone())).unwrap_or_default();
    if game.manifest.page(&page).is_none() {
        return (StatusCode::NOT_FOUND, format!("game `{}` has no page `{page}`", game.name())).into_response();
    }
    // Counted from here until the socket is served and closed (or the upgrade is dropped).
    let Some(slot) = SocketSlot::take(&state, &participant.code) else {
        let cap = state.config.sockets_per_participant;
        return (StatusCode::TOO_MANY_REQUESTS, format!("too many live sockets: at most {cap} per participant")).into_response();
    };
    // Subscribe before the handshake completes: every message routed after the client sees
    // the socket open reaches it (frames wait in the queue until the socket is served).
    let actor = state.hub.actor(&game, &participant.group_key());
    let (subscription, frames) = Subscription::new(actor, participant.id_in_group, &page, query.after, SOCKET_QUEUE);
    let live = Live { state, game, participant, page, subscription, frames };
    let hard = HARD_FRAME_LIMIT.max(live.state.config.frame_bytes);
    // Both caps: a single frame is buffered whole before the message cap sees it.
    ws.max_message_size(hard).max_frame_size(hard).read_buffer_size(READ_BUFFER).on_upgrade(move |socket| async move {
        serve(live, socket).await;
        drop(slot);
    })
}

/// One of a participant's live sockets, counted in the monitor's `connected` while alive.
struct SocketSlot {
    state: Arc<AppState>,
    code: String,
}

impl SocketSlot {
    /// Counts a socket for `code`, or None when it has its `sockets_per_participant` already.
    fn take(state: &Arc<AppState>, code: &str) -> Option<SocketSlot> {
        let cap = state.config.sockets_per_participant;
        let taken = state.monitor.update(code, |a| {
            if (a.connected as usize) < cap {
                a.connected += 1;
                true
            } else {
                false
            }
        });
        taken.then(|| SocketSlot { state: state.clone(), code: code.to_string() })
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.state.monitor.update(&self.code, |a| a.connected = a.connected.saturating_sub(1));
    }
}

/// A subscribed live connection waiting for its socket.
struct Live {
    state: Arc<AppState>,
    game: Arc<Game>,
    participant: Participant,
    page: String,
    subscription: Subscription,
    frames: FrameSender,
}

/// The participant and their game, or the status (a 404) and the text naming what is missing.
fn lookup(state: &AppState, code: &str) -> Result<(Participant, Arc<Game>), (StatusCode, String)> {
    let not_found = |what: String| (StatusCode::NOT_FOUND, what);
    let participant = match state.store.participant(code) {
        Ok(Some(p)) => p,
        Ok(None) => return Err(not_found("unknown participant".into())),
        Err(e) => return Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    };
    let session = match state.store.session(&participant.session) {
        Ok(Some(s)) => s,
        _ => return Err(not_found("unknown session".into())),
    };
    match state.game(&session.game) {
        Some(game) => Ok((participant, game)),
        None => Err(not_found(format!("game `{}` is not loaded on this server", session.game))),
    }
}

/// The error frame `{"error": reason}` as a WebSocket message.
fn error_text(reason: &str) -> Message {
    Message::Text(Frame::error(reason).text().into())
}

/// Reads the client's frames and writes the group's, until either side closes.
async fn serve(live: Live, mut socket: WebSocket) {
    let Live { state, game, participant, page, mut subscription, frames } = live;
    let code = participant.code.clone();
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut seen = None;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        state.monitor.update(&code, |a| a.errors += 1);
                        let reason = take_token(&state, &code).err().unwrap_or_else(|| "binary frames are not accepted: send JSON text".into());
                        if socket.send(error_text(&reason)).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    // Each ping costs a pong: a client past its rate with them is closed.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => match take_token(&state, &code) {
                        Ok(()) => continue,
                        Err(_) => break,
                    },
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                };
                state.monitor.update(&code, |a| a.sent += 1);
                match check(&state, &game, &participant, &page, text.as_str(), &mut seen) {
                    Ok(()) => {
                        // At most IN_FLIGHT calls per socket: past that the socket is not read
                        // until one is answered (TCP pushes back on the client).
                        let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                        subscription.actor().send(Command::Live {
                            id: participant.id_in_group,
                            page: page.clone(),
                            payload: text.as_str().to_string(),
                            errors: frames.clone(),
                            permit,
                        });
                    }
                    Err(reason) => {
                        state.monitor.update(&code, |a| a.errors += 1);
                        if socket.send(error_text(&reason)).await.is_err() {
                            break;
                        }
                    }
                }
            }
            frame = subscription.frames.recv() => {
                // `frames` is held here, so `None` never comes; a subscriber dropped by its
                // actor (queue full) is detected by the closed channel below.
                let Some(mut frame) = frame else { break };
                // Write every frame already queued, then flush once: one write for a burst.
                let mut failed = false;
                loop {
                    match frame {
                        Frame::Error(_) => state.monitor.update(&code, |a| a.errors += 1),
                        Frame::Message(_) => state.monitor.update(&code, |a| a.received += 1),
                    }
                    if socket.feed(Message::Text(frame.text().into())).await.is_err() {
                        failed = true;
                        break;
                    }
                    match subscription.frames.try_recv() {
                        Ok(next) => frame = next,
                        Err(_) => break,
                    }
                }
                if failed || socket.flush().await.is_err() {
                    break;
                }
                if frames.strong_count() == 1 && subscription.frames.is_empty() {
                    // Only our own handle is left: the actor dropped this subscriber because
                    // the socket fell behind. Close; the client resumes from its last seq.
                    break;
                }
            }
        }
    }
}
