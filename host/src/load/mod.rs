//! `stoa load`: a load test of a Stoa server's live channel, and `stoa echo`, its ceiling.
//!
//! The client creates a session through the API (admin token) or takes participant codes,
//! opens every participant's page as a browser would, opens their live WebSockets and sends
//! payloads made from a template: `{n}` in it becomes a counter unique over the run, and a
//! `"seq"` key holding the same number is added to object payloads. Games that echo `seq` in
//! the replies a message causes (the example auctions do) let the client match each send to
//! its sender's reply; latency is from the send (or, at a fixed rate, from the time the send
//! was scheduled, so a stalled server is not hidden by a stalled client) to that reply.
//!
//! - Saturation: every participant keeps `window` messages in flight.
//! - Fixed rate: `rate` messages per second in all, spread evenly over the participants and
//!   over time (open loop).
//! - Idle: participants connect and stay silent for `hold` seconds (memory per connection).
//!
//! Every run is bounded by a message count and a duration, then waits at most `drain` for
//! replies still due; what is still unanswered is counted. A run may start with a warm-up
//! (`warmup`): the same load, whose messages are reported apart ([`WarmUp`]) — a server just
//! started pays once for what its first calls set up, and a steady-state figure should
//! neither hide that nor be set by it. Only loopback hosts are accepted
//! unless the caller names the host in `allow_hosts`.
//!
//! - `http`: the few HTTP requests before the sockets open.
//! - [`echo`]: the bare echo server.

pub mod echo;
mod http;

use std::collections::VecDeque;
use std::net::ToSocketAddrs as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Who is driven.
#[derive(Debug, Clone)]
pub enum Target {
    /// Create a session of `game` with `participants` participants (API, admin token).
    NewSession { token: String, game: String, participants: u32 },
    /// These participants of an existing session.
    Codes(Vec<String>),
    /// A bare echo server (`stoa echo`): `participants` sockets to any path.
    Echo { participants: u32 },
}

/// How messages are sent.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Each participant keeps this many messages in flight.
    Saturation { window: u32 },
    /// Messages per second over all participants, on a fixed schedule.
    Rate { per_second: f64 },
    /// Connect, stay silent this long, disconnect.
    Idle { hold_seconds: f64 },
}

/// A load run.
#[derive(Debug, Clone)]
pub struct Config {
    /// `http://host:port` (or `ws://`) of the server.
    pub url: String,
    pub target: Target,
    pub mode: Mode,
    /// The payload template; `{n}` becomes the message's number.
    pub payload: String,
    /// Most messages sent in all.
    pub messages: u64,
    /// Longest time messages are sent after the warm-up.
    pub duration: Duration,
    /// Sending time before the measured part: the same load, reported apart.
    pub warmup: Duration,
    /// Longest wait for replies after the last send.
    pub drain: Duration,
    /// Hosts other than loopback the user allows.
    pub allow_hosts: Vec<String>,
    /// The server's process, for its CPU time and memory (same machine only).
    pub server_pid: Option<u32>,
    /// Print progress to stderr every second.
    pub progress: bool,
}

/// Latency figures, milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// What a run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub target: String,
    pub mode: String,
    pub participants: u32,
    /// Seconds to open every page and socket.
    pub connect_seconds: f64,
    /// Seconds from the first send to the last reply (or the end of the drain).
    pub seconds: f64,
    pub sent: u64,
    /// Sends answered by the sender's matching reply.
    pub answered: u64,
    /// Answered messages per second.
    pub messages_per_second: f64,
    /// Every frame received by every socket (broadcasts count once per receiver).
    pub frames: u64,
    pub frames_per_second: f64,
    pub latency: Latency,
    /// At a fixed rate: how late the client sent each message after its scheduled instant.
    /// This lag is part of `latency` (a stalled client is not hidden), so a large one means
    /// the client's machine, not the server, set the latency.
    #[serde(default)]
    pub send_lag: Option<Latency>,
    /// Error frames (`{"error": ...}`), failed sockets and unparsable frames.
    pub errors: u64,
    /// The first error's text.
    pub first_error: Option<String>,
    /// Sends with no reply by the end of the drain.
    pub unanswered: u64,
    /// The server's CPU over the run, in cores (1.0 = one core busy), when its pid is known.
    pub server_cpu_cores: Option<f64>,
    /// The server's resident memory at the end of the run (bytes), when its pid is known.
    pub server_rss_bytes: Option<u64>,
    /// This client's own CPU over the run, in cores.
    pub client_cpu_cores: f64,
    /// The warm-up's messages, when the run had one (the figures above leave them out).
    #[serde(default)]
    pub warmup: Option<WarmUp>,
}

/// The messages of a run's warm-up (timed from a send, or its scheduled instant, before the
/// measured part began): how many were answered and their latency.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WarmUp {
    pub seconds: f64,
    pub answered: u64,
    pub latency: Latency,
}

/// Runs `config` on a new tokio runtime and returns its report.
pub fn run(config: &Config) -> anyhow::Result<Report> {
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run_async(config))
}

/// Raises this process's soft open-file limit to its hard limit (each socket is a file).
/// Returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit write to / read from a valid, owned `rlimit`.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    lim.rlim_cur
}

/// `host:port` of `url`, refused unless loopback or named in `allow`.
pub fn checked_addr(url: &str, allow: &[String]) -> anyhow::Result<String> {
    let rest = ["http://", "ws://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .with_context(|| format!("`{url}`: expected http://HOST:PORT (TLS is not supported)"))?;
    let hostport = rest.split('/').next().unwrap_or_default();
    let (host, port) = hostport.rsplit_once(':').with_context(|| format!("`{url}`: no port"))?;
    port.parse::<u16>().with_context(|| format!("`{url}`: bad port `{port}`"))?;
    let host_bare = host.trim_start_matches('[').trim_end_matches(']');
    if allow.iter().any(|a| a == host_bare || a == hostport) {
        return Ok(hostport.to_string());
    }
    let addrs: Vec<_> = hostport.to_socket_addrs().with_context(|| format!("cannot resolve `{hostport}`"))?.collect();
    if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
        bail!("`{host}` is not a loopback address: a load test can take a server down, so name the host with --allow-host {host_bare} to test it");
    }
    Ok(hostport.to_string())
}

/// Counters shared by every connection, read by the progress line.
#[derive(Default)]
struct Shared {
    next: AtomicU64,
    sent: AtomicU64,
    /// Of those, sent (or due) during the warm-up.
    warmup_sent: AtomicU64,
    answered: AtomicU64,
    frames: AtomicU64,
    errors: AtomicU64,
    /// The slowest reply since the last progress line, µs (where in a run a stall came).
    slowest_us: AtomicU64,
    /// Sending stops (count or time reached).
    stop_sending: AtomicBool,
}

/// One connection's own results.
#[derive(Default)]
struct ConnResult {
    latencies_us: Vec<u32>,
    /// Latencies of the warm-up's messages.
    warmup_us: Vec<u32>,
    /// Fixed rate: each send's lag behind its scheduled instant.
    lags_us: Vec<u32>,
    unanswered: u64,
    first_error: Option<String>,
    /// When its last reply came.
    last_reply: Option<Instant>,
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

type Ws = WebSocketStream<TcpStream>;

async fn run_async(config: &Config) -> anyhow::Result<Report> {
    let addr = checked_addr(&config.url, &config.allow_hosts)?;
    if let Mode::Rate { per_second } = config.mode
        && per_second * config.warmup.as_secs_f64() >= config.messages as f64
    {
        bail!(
            "the warm-up would send all of the {} messages allowed (--messages; {per_second}/s for {} s of --warmup): nothing would be measured — raise --messages or shorten --warmup",
            config.messages,
            config.warmup.as_secs_f64()
        );
    }
    let (label, paths) = participants(&addr, &config.target).await?;
    let n = paths.len() as u32;
    if n == 0 {
        bail!("no participants to drive");
    }
    let connect_start = Instant::now();
    let sockets = connect_all(&addr, &paths, matches!(config.target, Target::Echo { .. })).await?;
    let connect_seconds = connect_start.elapsed().as_secs_f64();

    let shared = Arc::new(Shared::default());
    let start = Instant::now();
    // The measured part; CPU is read when it begins. (Idle connections have no warm-up.)
    let warmup = if matches!(config.mode, Mode::Idle { .. }) { Duration::ZERO } else { config.warmup };
    let measure_from = start + warmup;
    let send_until = measure_from + config.duration;
    let server_pid = config.server_pid;
    let cpu0 = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        (server_pid.map(process_cpu_seconds), process_cpu_seconds(std::process::id()))
    });
    let progress = config.progress.then(|| tokio::spawn(progress_loop(shared.clone(), start)));
    let mut tasks = Vec::with_capacity(sockets.len());
    let mut ticks = Vec::new();
    for ws in sockets {
        let (shared, template) = (shared.clone(), config.payload.clone());
        let (mode, messages, drain) = (config.mode, config.messages, config.drain);
        let schedule = Schedule { start, measure_from, send_until, messages, drain };
        let due = match mode {
            Mode::Rate { .. } => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                ticks.push(tx);
                Some(rx)
            }
            _ => None,
        };
        tasks.push(tokio::spawn(async move { drive(ws, mode, &template, &shared, schedule, due).await }));
    }
    let pacer = match config.mode {
        Mode::Rate { per_second } => {
            let (shared, messages) = (shared.clone(), config.messages);
            Some(
                std::thread::Builder::new()
                    .name("stoa-load-pacer".into())
                    .spawn(move || pace(&ticks, per_second, start, send_until, messages, &shared))?,
            )
        }
        _ => None,
    };
    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        results.push(t.await.context("a connection task failed")?);
    }
    if let Some(p) = progress {
        p.abort();
    }
    if let Some(p) = pacer {
        let _ = p.join();
    }
    // Sending ends after the warm-up does, so the reading has been taken (or is due now).
    let cpu0 = cpu0.await.context("the CPU reading task failed")?;
    let end = results.iter().filter_map(|r| r.last_reply).max().unwrap_or(measure_from).max(match config.mode {
        Mode::Idle { .. } => Instant::now(),
        _ => measure_from,
    });
    let wall = Instant::now().saturating_duration_since(measure_from).as_secs_f64().max(1e-9);
    let seconds = end.saturating_duration_since(measure_from).as_secs_f64().max(1e-9);
    let server_cpu_cores = match (config.server_pid, cpu0.0) {
        (Some(pid), Some(Some(before))) => process_cpu_seconds(pid).map(|after| (after - before) / wall),
        _ => None,
    };
    let client_cpu_cores = match (process_cpu_seconds(std::process::id()), cpu0.1) {
        (Some(after), Some(before)) => (after - before) / wall,
        _ => 0.0,
    };
    let mut latencies: Vec<u32> = results.iter().flat_map(|r| r.latencies_us.iter().copied()).collect();
    latencies.sort_unstable();
    let mut lags: Vec<u32> = results.iter().flat_map(|r| r.lags_us.iter().copied()).collect();
    lags.sort_unstable();
    let mut warm: Vec<u32> = results.iter().flat_map(|r| r.warmup_us.iter().copied()).collect();
    warm.sort_unstable();
    let warmup = (!warmup.is_zero()).then(|| WarmUp { seconds: warmup.as_secs_f64(), answered: warm.len() as u64, latency: Latency::of(&warm) });
    let answered = latencies.len() as u64;
    let sent = shared.sent.load(Ordering::Relaxed) - shared.warmup_sent.load(Ordering::Relaxed);
    if sent == 0 && shared.warmup_sent.load(Ordering::Relaxed) > 0 {
        bail!(
            "all {} messages allowed (--messages) were sent during the {} s warm-up: nothing was measured — raise --messages or shorten --warmup",
            config.messages,
            config.warmup.as_secs_f64()
        );
    }
    let frames = shared.frames.load(Ordering::Relaxed);
    let mode = match config.mode {
        Mode::Saturation { window } => format!("saturation, {window} in flight per participant"),
        Mode::Rate { per_second } => format!("fixed rate, {per_second} msg/s"),
        Mode::Idle { hold_seconds } => format!("idle for {hold_seconds} s"),
    };
    Ok(Report {
        target: label,
        mode,
        participants: n,
        connect_seconds,
        seconds,
        sent,
        answered,
        messages_per_second: answered as f64 / seconds,
        frames,
        frames_per_second: frames as f64 / seconds,
        latency: Latency::of(&latencies),
        send_lag: matches!(config.mode, Mode::Rate { .. }).then(|| Latency::of(&lags)),
        errors: shared.errors.load(Ordering::Relaxed),
        first_error: results.iter().find_map(|r| r.first_error.clone()),
        unanswered: results.iter().map(|r| r.unanswered).sum(),
        server_cpu_cores,
        server_rss_bytes: config.server_pid.and_then(process_rss_bytes),
        client_cpu_cores,
        warmup,
    })
}

impl Latency {
    /// The figures of sorted microseconds.
    fn of(sorted_us: &[u32]) -> Latency {
        Latency {
            p50_ms: percentile(sorted_us, 0.50),
            p90_ms: percentile(sorted_us, 0.90),
            p99_ms: percentile(sorted_us, 0.99),
            max_ms: sorted_us.last().map_or(0.0, |&us| us as f64 / 1000.0),
        }
    }
}

fn percentile(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 * q).ceil() as usize).clamp(1, sorted_us.len()) - 1;
    sorted_us[i] as f64 / 1000.0
}

/// The label of the run and each participant's live path.
async fn participants(addr: &str, target: &Target) -> anyhow::Result<(String, Vec<String>)> {
    let codes = match target {
        Target::Echo { participants } => return Ok(("echo".into(), (0..*participants).map(|i| format!("/echo/{i}")).collect())),
        Target::Codes(codes) => codes.clone(),
        Target::NewSession { token, game, participants } => {
            let body = serde_json::json!({ "game": game, "participants": participants }).to_string();
            let r = http::request(addr, "POST", "/api/sessions", Some(token), Some(&body)).await?;
            if r.status != 201 {
                bail!("creating a session of `{game}` failed ({}): {}", r.status, r.body.trim());
            }
            let info: serde_json::Value = serde_json::from_str(&r.body).context("the session info is not JSON")?;
            let list = info["participants"].as_array().context("the session info has no participants")?;
            list.iter().filter_map(|p| p["code"].as_str().map(String::from)).collect()
        }
    };
    let label = match target {
        Target::NewSession { game, .. } => game.clone(),
        _ => "stoa".into(),
    };
    // Open each participant's page, as their browser would, 32 at a time.
    let mut pages = futures_util::stream::iter(codes.iter().map(|code| async move {
        let r = http::request(addr, "GET", &format!("/p/{code}"), None, None).await?;
        if r.status != 200 {
            bail!("the page of participant `{code}` answered {}: {}", r.status, brief(&r.body));
        }
        anyhow::Ok(())
    }))
    .buffer_unordered(32);
    while let Some(r) = pages.next().await {
        r?;
    }
    Ok((label, codes.iter().map(|c| format!("/live/{c}")).collect()))
}

/// The text of an error body, HTML tags, styles and scripts dropped, at most 200 characters.
fn brief(body: &str) -> String {
    let mut text = String::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let tag = &rest[open..];
        // Skip a style or script element whole, any other tag alone.
        let skip = ["<style", "<script"]
            .iter()
            .find(|t| tag.starts_with(**t))
            .and_then(|t| tag.find(&format!("</{}>", &t[1..])).map(|end| end + t.len() + 2))
            .or_else(|| tag.find('>').map(|end| end + 1));
        let Some(skip) = skip else { break };
        rest = &tag[skip..];
    }
    if !rest.contains('<') {
        text.push_str(rest);
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect()
}

/// Opens every socket, 64 handshakes at a time.
async fn connect_all(addr: &str, paths: &[String], echo: bool) -> anyhow::Result<Vec<Ws>> {
    let mut opening = futures_util::stream::iter(paths.iter().enumerate().map(|(i, path)| async move {
        let tcp = TcpStream::connect(addr).await.with_context(|| format!("socket {i}: cannot connect to {addr}"))?;
        tcp.set_nodelay(true)?;
        let url = format!("ws://{addr}{path}");
        let (ws, _) = tokio_tungstenite::client_async_with_config(url.as_str(), tcp, Some(ws_config())).await.with_context(|| {
            format!("socket {i}: WebSocket handshake with {url} failed{}", if echo { "" } else { " (is the participant on a live page?)" })
        })?;
        anyhow::Ok((i, ws))
    }))
    .buffer_unordered(64);
    let mut sockets: Vec<Option<Ws>> = (0..paths.len()).map(|_| None).collect();
    while let Some(r) = opening.next().await {
        let (i, ws) = r?;
        sockets[i] = Some(ws);
    }
    Ok(sockets.into_iter().flatten().collect())
}

/// Socket settings of the client and the echo server: 4 KiB read buffers, as `stoa serve`
/// (tungstenite's default of 128 KiB each would dominate memory at 10,000 sockets).
fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096)
}

/// Where one connection stands in the run.
#[derive(Clone, Copy)]
struct Schedule {
    start: Instant,
    /// The end of the warm-up: messages timed from before it are reported apart.
    measure_from: Instant,
    send_until: Instant,
    messages: u64,
    drain: Duration,
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

/// Drives one socket through the run.
///
/// At a fixed rate, the pacer thread hands this connection each of its messages when it is
/// due (`due`: its number and scheduled instant); the channel closes when sending ends.
async fn drive(ws: Ws, mode: Mode, template: &str, shared: &Shared, s: Schedule, mut due: Option<Due>) -> ConnResult {
    let mut out = ConnResult::default();
    let (mut sink, mut ws) = ws.split();
    // Sends in flight, oldest first: (n, the time latency counts from).
    let mut pending: VecDeque<(u64, Instant)> = VecDeque::new();
    let mut sending = true;
    let mut drain_until: Option<Instant> = None;
    if let Mode::Saturation { window } = mode {
        for _ in 0..window {
            if !send_next(&mut sink, template, shared, &s, &mut pending, None).await {
                break;
            }
        }
    }
    loop {
        if sending && (shared.stop_sending.load(Ordering::Relaxed) || Instant::now() >= s.send_until) {
            sending = false;
        }
        if let Mode::Idle { .. } = mode {
            sending = false;
        }
        if !sending && drain_until.is_none() {
            drain_until = Some(match mode {
                Mode::Idle { hold_seconds } => s.start + Duration::from_secs_f64(hold_seconds),
                _ => Instant::now() + s.drain,
            });
        }
        if let (Some(until), false) = (drain_until, matches!(mode, Mode::Idle { .. }))
            && (pending.is_empty() || Instant::now() >= until)
        {
            break;
        }
        let paced = sending && due.is_some();
        let wake = drain_until.unwrap_or(s.send_until);
        let frame = tokio::select! {
            frame = ws.next() => frame,
            tick = async { due.as_mut()?.recv().await }, if paced => {
                // A message due now, timed from its scheduled instant.
                let sent = match tick {
                    Some(fixed) => {
                        if fixed.1 >= s.measure_from {
                            out.lags_us.push(micros(fixed.1.elapsed()));
                        }
                        send_next(&mut sink, template, shared, &s, &mut pending, Some(fixed)).await
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
                error(shared, &mut out, "the server closed the socket".into());
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                error(shared, &mut out, format!("socket error: {e}"));
                break;
            }
        };
        if Instant::now() >= s.measure_from {
            shared.frames.fetch_add(1, Ordering::Relaxed);
        }
        let frame: Frame = match serde_json::from_str(text.as_str()) {
            Ok(f) => f,
            Err(_) => continue, // a game's own frame shape, not a reply of ours
        };
        let answered = if let Some(e) = frame.error {
            // Refusals carry no seq: they answer the oldest send.
            error(shared, &mut out, e);
            pending.pop_front().is_some()
        } else {
            let seq = match frame.data {
                Some(inner) => inner.seq,
                None => frame.seq,
            };
            match seq.and_then(|q| pending.iter().position(|&(n, _)| n == q)) {
                Some(i) => {
                    if let Some((_, at)) = pending.remove(i) {
                        let now = Instant::now();
                        let took = micros(now.saturating_duration_since(at));
                        if at < s.measure_from {
                            out.warmup_us.push(took);
                        } else {
                            out.latencies_us.push(took);
                        }
                        shared.slowest_us.fetch_max(u64::from(took), Ordering::Relaxed);
                        out.last_reply = Some(now);
                        shared.answered.fetch_add(1, Ordering::Relaxed);
                    }
                    true
                }
                None => false,
            }
        };
        if answered && sending && matches!(mode, Mode::Saturation { .. }) && !send_next(&mut sink, template, shared, &s, &mut pending, None).await {
            sending = false;
        }
    }
    out.unanswered = pending.len() as u64;
    let _ = sink.close().await;
    out
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

fn error(shared: &Shared, out: &mut ConnResult, text: String) {
    shared.errors.fetch_add(1, Ordering::Relaxed);
    out.first_error.get_or_insert(text);
}

/// A connection's end of the pacer: (message number, the instant it was due).
type Due = tokio::sync::mpsc::UnboundedReceiver<(u64, Instant)>;

/// The pacer sleeps at least this long between wakes: at most this much of a message's
/// latency is the client's own lateness (a wake costs ~20 µs of CPU on a VM).
const PACE: Duration = Duration::from_micros(200);

/// The fixed-rate schedule, on a thread of its own: message `n` is due at `start + n / rate`
/// and goes to connection `n mod connections`. The thread wakes within [`PACE`] of a
/// message's instant, where tokio's timer rounds up to the next millisecond — time that would
/// count as latency, since a message is timed from when it was due. Dropping the senders
/// ends sending.
fn pace(
    ticks: &[tokio::sync::mpsc::UnboundedSender<(u64, Instant)>],
    per_second: f64,
    start: Instant,
    until: Instant,
    messages: u64,
    shared: &Shared,
) {
    let count = ticks.len() as u64;
    let mut woke = start;
    for n in 0..messages {
        let at = start + Duration::from_secs_f64(n as f64 / per_second);
        if at >= until || shared.stop_sending.load(Ordering::Relaxed) {
            break;
        }
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at.max(woke + PACE) - now);
            woke = Instant::now();
        }
        if let Some(tick) = ticks.get((n % count) as usize) {
            // A connection that failed has stopped listening; the others go on.
            let _ = tick.send((n, at));
        }
    }
}

/// Sends the next message (saturation: the next number of the run; rate: `fixed`); false
/// when the run's count or time is reached, or the socket failed.
async fn send_next(
    ws: &mut futures_util::stream::SplitSink<Ws, Message>,
    template: &str,
    shared: &Shared,
    s: &Schedule,
    pending: &mut VecDeque<(u64, Instant)>,
    fixed: Option<(u64, Instant)>,
) -> bool {
    let (n, at) = match fixed {
        Some(f) => f,
        None => {
            let n = shared.next.fetch_add(1, Ordering::Relaxed);
            if n >= s.messages || Instant::now() >= s.send_until {
                shared.stop_sending.store(true, Ordering::Relaxed);
                return false;
            }
            (n, Instant::now())
        }
    };
    pending.push_back((n, at));
    shared.sent.fetch_add(1, Ordering::Relaxed);
    if at < s.measure_from {
        shared.warmup_sent.fetch_add(1, Ordering::Relaxed);
    }
    ws.send(Message::text(payload(template, n))).await.is_ok()
}

async fn progress_loop(shared: Arc<Shared>, start: Instant) {
    let mut last = 0;
    let mut tick = tokio::time::interval_at((start + Duration::from_secs(1)).into(), Duration::from_secs(1));
    loop {
        tick.tick().await;
        let answered = shared.answered.load(Ordering::Relaxed);
        eprintln!(
            "  {:>5.1} s: sent {}, answered {} ({}/s, slowest {:.1} ms), frames {}, errors {}",
            start.elapsed().as_secs_f64(),
            shared.sent.load(Ordering::Relaxed),
            answered,
            answered - last,
            shared.slowest_us.swap(0, Ordering::Relaxed) as f64 / 1e3,
            shared.frames.load(Ordering::Relaxed),
            shared.errors.load(Ordering::Relaxed),
        );
        last = answered;
    }
}

/// A process's user + system CPU seconds, from `/proc/PID/stat` (Linux; clock ticks of
/// 1/100 s, the USER_HZ of every Linux ABI).
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `) state`.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// A process's resident memory, from `/proc/PID/status`.
pub fn process_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A report as text, with its ratios to the same load's runs against `ceilings` (label, run).
pub fn describe(r: &Report, ceilings: &[(&str, &Report)]) -> String {
    let ratios = |of: fn(&Report) -> f64| {
        let each: Vec<String> = ceilings.iter().filter(|(_, c)| of(c) > 0.0).map(|(label, c)| format!("{:.2}× {label}", of(r) / of(c))).collect();
        if each.is_empty() { String::new() } else { format!(" ({})", each.join(", ")) }
    };
    let mut s = format!(
        "{} — {} participants, {}\n  connected in {:.2} s; ran {:.2} s\n  sent {}, answered {}, errors {}, unanswered {}\n",
        r.target, r.participants, r.mode, r.connect_seconds, r.seconds, r.sent, r.answered, r.errors, r.unanswered
    );
    s += &format!("  messages/s {:.0}{}\n", r.messages_per_second, ratios(|r| r.messages_per_second));
    s += &format!("  frames/s   {:.0}{}\n", r.frames_per_second, ratios(|r| r.frames_per_second));
    let figures = |l: &Latency| format!("p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}", l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms);
    s += &format!("  latency ms {}\n", figures(&r.latency));
    if let Some(g) = &r.send_lag {
        s += &format!("  send lag   {}  (the client's own lateness, part of latency)\n", figures(g));
    }
    for (label, c) in ceilings {
        s += &format!("  {label}: {:.0} messages/s, ms {}\n", c.messages_per_second, figures(&c.latency));
    }
    if let Some(w) = &r.warmup {
        s += &format!("  warm-up    {:.1} s before the above: {} answered, ms {}\n", w.seconds, w.answered, figures(&w.latency));
    }
    if let Some(cpu) = r.server_cpu_cores {
        s += &format!("  server CPU {:.2} cores", cpu);
        if let Some(rss) = r.server_rss_bytes {
            s += &format!(", RSS {:.1} MiB", rss as f64 / (1 << 20) as f64);
        }
        s += "\n";
    }
    s += &format!("  client CPU {:.2} cores\n", r.client_cpu_cores);
    if let Some(e) = &r.first_error {
        s += &format!("  first error: {e}\n");
        if e.contains("too many messages") {
            s += "  (the server's per-participant rate limit: start it with a higher `stoa serve --rate`)\n";
        }
    }
    s
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

    #[test]
    fn only_loopback_unless_named() {
        assert_eq!(checked_addr("http://127.0.0.1:8000", &[]).expect("loopback"), "127.0.0.1:8000");
        assert!(checked_addr("http://localhost:80/x", &[]).is_ok());
        let e = checked_addr("http://10.1.2.3:8000", &[]).expect_err("not loopback").to_string();
        assert!(e.contains("--allow-host 10.1.2.3"), "{e}");
        assert!(checked_addr("http://10.1.2.3:8000", &["10.1.2.3".into()]).is_ok());
        assert!(checked_addr("https://127.0.0.1:8000", &[]).is_err());
    }

    #[test]
    fn error_pages_are_read_as_text() {
        let page = "<!doctype html><html><head><title>Oops</title><style>p { color: red }</style></head>\n<body><p>the game ran\n past its deadline</p></body></html>";
        assert_eq!(brief(page), "Oops the game ran past its deadline");
        assert_eq!(brief("plain reason"), "plain reason");
    }

    #[test]
    fn percentiles_of_sorted_microseconds() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!((percentile(&v, 0.5), percentile(&v, 0.99)), (50.0, 99.0));
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
