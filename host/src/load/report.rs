//! What a run measured ([`Report`]), its latency figures ([`Latency`]) and the report as
//! text ([`describe`]).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

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

/// Significant figures the percentiles keep: each is within 0.1% of the exact one.
const SIGFIGS: u8 = 3;

impl Latency {
    /// The figures of samples in microseconds.
    pub(super) fn of(samples_us: impl IntoIterator<Item = u32>) -> Latency {
        // Bounds covering every u32, so no sample is clamped.
        let mut h = Histogram::<u64>::new_with_bounds(1, u64::from(u32::MAX), SIGFIGS).expect("bounds and significant figures hdrhistogram accepts");
        for us in samples_us {
            h.saturating_record(u64::from(us));
        }
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
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
    fn percentiles_of_microseconds_within_three_figures() {
        let l = Latency::of((1..=100).map(|i| i * 1000));
        let near = |got: f64, want: f64| (got - want).abs() <= want * 1e-3;
        assert!(near(l.p50_ms, 50.0) && near(l.p99_ms, 99.0) && near(l.max_ms, 100.0), "{l:?}");
        assert_eq!(Latency::of([]).p50_ms, 0.0);
    }
}
