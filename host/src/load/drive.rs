//! One socket through a run: send (saturation: keep the window full; fixed rate: each
//! message the pacer hands over), match each reply to its send, time it.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::config::Mode;
use super::pace::{Due, Tick};
use super::plan::Plan;

/// A client socket.
pub(super) type Ws = WebSocketStream<TcpStream>;

/// One connection's own results. Latencies are kept as plain microseconds, an append on the
/// hot path, and counted into one histogram per run once every connection is done (a
/// histogram per connection would cost tens of KiB each at 10,000 sockets).
#[derive(Default)]
pub(super) struct ConnResult {
    pub(super) latencies_us: Vec<u32>,
    /// Latencies of the warm-up's messages.
    pub(super) warmup_us: Vec<u32>,
    /// Fixed rate: each send's lag behind its scheduled instant.
    pub(super) lags_us: Vec<u32>,
    pub(super) unanswered: u64,
    pub(super) first_error: Option<String>,
    /// When its last reply came.
    pub(super) last_reply: Option<Instant>,
}

/// The part of a frame the client reads: `{"seq", "data": {"seq"}}` from Stoa, the sent
/// payload itself from an echo server, `{"error"}` for a refusal.
#[derive(Deserialize)]
struct Frame {
    seq: Option<u64>,
    data: Option<Inner>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Inner {
    seq: Option<u64>,
}

/// A socket's sending half and what it has in flight.
struct Connection<'a> {
    plan: &'a Plan,
    sink: SplitSink<Ws, Message>,
    /// Sends in flight, oldest first: (n, the time latency counts from).
    pending: VecDeque<Tick>,
    out: ConnResult,
}

/// Drives one socket through the run.
///
/// At a fixed rate, the pacer thread hands this connection each of its messages when it is
/// due (`due`); the channel closes when sending ends.
pub(super) async fn drive(ws: Ws, plan: &Plan, mut due: Option<Due>) -> ConnResult {
    let (sink, mut ws) = ws.split();
    let mut c = Connection { plan, sink, pending: VecDeque::new(), out: ConnResult::default() };
    let mode = plan.mode;
    let mut sending = true;
    let mut drain_until: Option<Instant> = None;
    if let Mode::Saturation { window } = mode {
        for _ in 0..window {
            if !c.send_next(None).await {
                break;
            }
        }
    }
    loop {
        if sending && (plan.shared.stop_sending.load(Ordering::Relaxed) || Instant::now() >= plan.send_until) {
            sending = false;
        }
        if let Mode::Idle { .. } = mode {
            sending = false;
        }
        if !sending && drain_until.is_none() {
            drain_until = Some(match mode {
                Mode::Idle { hold_seconds } => plan.start + Duration::from_secs_f64(hold_seconds),
                _ => Instant::now() + plan.drain,
            });
        }
        if let (Some(until), false) = (drain_until, matches!(mode, Mode::Idle { .. }))
            && (c.pending.is_empty() || Instant::now() >= until)
        {
            break;
        }
        let paced = sending && due.is_some();
        let wake = drain_until.unwrap_or(plan.send_until);
        let frame = tokio::select! {
            frame = ws.next() => frame,
            tick = async { due.as_mut()?.recv().await }, if paced => {
                // A message due now, timed from its scheduled instant.
                let sent = match tick {
                    Some(fixed) => {
                        if fixed.1 >= plan.measure_from {
                            c.out.lags_us.push(micros(fixed.1.elapsed()));
                        }
                        c.send_next(Some(fixed)).await
                    }
                    None => false,
                };
                sending &= sent;
                continue;
            }
            _ = tokio::time::sleep_until(wake.into()), if !paced => {
                if drain_until.is_some_and(|u| Instant::now() >= u) {
                    break;
                }
                continue;
            }
        };
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(_))) | None => {
                c.error("the server closed the socket".into());
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                c.error(format!("socket error: {e}"));
                break;
            }
        };
        if Instant::now() >= plan.measure_from {
            plan.shared.frames.fetch_add(1, Ordering::Relaxed);
        }
        let frame: Frame = match serde_json::from_str(text.as_str()) {
            Ok(f) => f,
            Err(_) => continue, // a game's own frame shape, not a reply of ours
        };
        if c.answer(frame) && sending && matches!(mode, Mode::Saturation { .. }) && !c.send_next(None).await {
            sending = false;
        }
    }
    c.out.unanswered = c.pending.len() as u64;
    let _ = c.sink.close().await;
    c.out
}

impl Connection<'_> {
    /// Sends the next message (saturation: the next number of the run; rate: `fixed`);
    /// false when the run's count or time is reached, or the socket failed.
    async fn send_next(&mut self, fixed: Option<Tick>) -> bool {
        let (plan, shared) = (self.plan, &self.plan.shared);
        let (n, at) = match fixed {
            Some(f) => f,
            None => {
                let n = shared.next.fetch_add(1, Ordering::Relaxed);
                if n >= plan.messages || Instant::now() >= plan.send_until {
                    shared.stop_sending.store(true, Ordering::Relaxed);
                    return false;
                }
                (n, Instant::now())
            }
        };
        self.pending.push_back((n, at));
        shared.sent.fetch_add(1, Ordering::Relaxed);
        if at < plan.measure_from {
            shared.warmup_sent.fetch_add(1, Ordering::Relaxed);
        }
        self.sink.send(Message::text(payload(&plan.template, n))).await.is_ok()
    }

    /// Takes a frame as the reply to a send in flight, if it is one: true when it answered.
    fn answer(&mut self, frame: Frame) -> bool {
        if let Some(e) = frame.error {
            // Refusals carry no seq: they answer the oldest send.
            self.error(e);
            return self.pending.pop_front().is_some();
        }
        let seq = match frame.data {
            Some(inner) => inner.seq,
            None => frame.seq,
        };
        let Some(i) = seq.and_then(|q| self.pending.iter().position(|&(n, _)| n == q)) else { return false };
        if let Some((_, at)) = self.pending.remove(i) {
            let now = Instant::now();
            let took = micros(now.saturating_duration_since(at));
            if at < self.plan.measure_from {
                self.out.warmup_us.push(took);
            } else {
                self.out.latencies_us.push(took);
            }
            let shared = &self.plan.shared;
            shared.slowest_us.fetch_max(u64::from(took), Ordering::Relaxed);
            self.out.last_reply = Some(now);
            shared.answered.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    fn error(&mut self, text: String) {
        self.plan.shared.errors.fetch_add(1, Ordering::Relaxed);
        self.out.first_error.get_or_insert(text);
    }
}

/// The payload of message `n`: `{n}` replaced, and `"seq": n` added to an object.
fn payload(template: &str, n: u64) -> String {
    let text = template.replace("{n}", &n.to_string());
    match text.trim_end().strip_suffix('}') {
        Some(head) if text.trim_start().starts_with('{') => {
            let empty = head.trim_start().trim_start_matches('{').trim().is_empty();
            format!("{head}{}\"seq\":{n}}}", if empty { "" } else { "," })
        }
        _ => text,
    }
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_get_their_number_and_seq() {
        assert_eq!(payload(r#"{"bid": {n}}"#, 7), r#"{"bid": 7,"seq":7}"#);
        assert_eq!(payload("{}", 3), r#"{"seq":3}"#);
        assert_eq!(payload("{n}", 5), "5");
    }
}
