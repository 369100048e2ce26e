//! One run: open every socket, drive them all (with the pacer at a fixed rate), and gather
//! their results, the CPU over the measured part and the server's memory into a [`Report`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;
use tokio::net::TcpStream;

use super::config::{Config, Mode, Target, ws_config};
use super::drive::{ConnResult, Ws, drive};
use super::pace::Pacer;
use super::plan::{Plan, Shared};
use super::process::{process_cpu_seconds, process_rss_bytes, raise_fd_limit};
use super::report::{Latency, Report, WarmUp};
use super::target::{checked_addr, participants};

/// Runs `config` on a new tokio runtime and returns its report.
pub fn run(config: &Config) -> anyhow::Result<Report> {
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(run_async(config))
}

/// Runs `config` on the current tokio runtime.
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

    let start = Instant::now();
    // The measured part; CPU is read when it begins. (Idle connections have no warm-up.)
    let warmup = if matches!(config.mode, Mode::Idle { .. }) { Duration::ZERO } else { config.warmup };
    let measure_from = start + warmup;
    let plan = Arc::new(Plan {
        mode: config.mode,
        template: config.payload.as_str().into(),
        start,
        measure_from,
        send_until: measure_from + config.duration,
        messages: config.messages,
        drain: config.drain,
        shared: Shared::default(),
    });
    let server_pid = config.server_pid;
    let cpu0 = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        (server_pid.map(process_cpu_seconds), process_cpu_seconds(std::process::id()))
    });
    let progress = config.progress.then(|| tokio::spawn(progress_loop(plan.clone())));
    let mut tasks = Vec::with_capacity(sockets.len());
    let mut ticks = Vec::new();
    for ws in sockets {
        let plan = plan.clone();
        let due = match config.mode {
            Mode::Rate { .. } => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                ticks.push(tx);
                Some(rx)
            }
            _ => None,
        };
        tasks.push(tokio::spawn(async move { drive(ws, &plan, due).await }));
    }
    let pacer = match config.mode {
        Mode::Rate { per_second } => Some(Pacer { ticks, per_second, plan: plan.clone() }.spawn()?),
        _ => None,
    };
    let mut results: Vec<ConnResult> = Vec::with_capacity(tasks.len());
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
    let samples = |of: fn(&ConnResult) -> &Vec<u32>| results.iter().flat_map(move |r| of(r).iter().copied());
    let answered = samples(|r| &r.latencies_us).count() as u64;
    let warmup = (!warmup.is_zero()).then(|| WarmUp {
        seconds: warmup.as_secs_f64(),
        answered: samples(|r| &r.warmup_us).count() as u64,
        latency: Latency::of(samples(|r| &r.warmup_us)),
    });
    let shared = &plan.shared;
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
        latency: Latency::of(samples(|r| &r.latencies_us)),
        send_lag: matches!(config.mode, Mode::Rate { .. }).then(|| Latency::of(samples(|r| &r.lags_us))),
        errors: shared.errors.load(Ordering::Relaxed),
        first_error: results.iter().find_map(|r| r.first_error.clone()),
        unanswered: results.iter().map(|r| r.unanswered).sum(),
        server_cpu_cores,
        server_rss_bytes: config.server_pid.and_then(process_rss_bytes),
        client_cpu_cores,
        warmup,
    })
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

/// A progress line on stderr every second: counts so far, this second's rate, its slowest reply.
async fn progress_loop(plan: Arc<Plan>) {
    let shared = &plan.shared;
    let mut last = 0;
    let mut tick = tokio::time::interval_at((plan.start + Duration::from_secs(1)).into(), Duration::from_secs(1));
    loop {
        tick.tick().await;
        let answered = shared.answered.load(Ordering::Relaxed);
        eprintln!(
            "  {:>5.1} s: sent {}, answered {} ({}/s, slowest {:.1} ms), frames {}, errors {}",
            plan.start.elapsed().as_secs_f64(),
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
