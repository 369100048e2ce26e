//! `stoa load --ceiling`: the same load against a bare `stoa echo` and a `stoa echo
//! --durable`, each a child process started here, and the run's ratios to them.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::Context as _;

use super::config::{Config, Target};
use super::report::{Report, describe};

/// A run next to the same load's runs against each ceiling (label, report).
#[derive(Debug, Clone)]
pub struct Compared {
    /// The run against the server.
    pub run: Report,
    /// The ceilings' runs, in the order they ran; none without `--ceiling`.
    pub ceilings: Vec<(&'static str, Report)>,
}

impl Compared {
    /// `run` next to the same load against a bare echo server, then one that writes every
    /// message durably before echoing it, its journal in a new folder under `dir` (default:
    /// the system's temporary folder).
    pub fn with_ceilings(config: &Config, run: Report, dir: Option<&Path>) -> anyhow::Result<Compared> {
        let scratch = match dir {
            Some(dir) => tempfile::Builder::new().prefix("stoa-durable-echo-").tempdir_in(dir),
            None => tempfile::Builder::new().prefix("stoa-durable-echo-").tempdir(),
        }
        .context("cannot make a folder for the durable echo's journal (--ceiling-dir)")?;
        let participants = config.target.participants();
        let mut ceilings = Vec::new();
        for (label, durable) in [("echo", None), ("durable echo", Some(scratch.path()))] {
            let mut echo = EchoChild::start(durable)?;
            let config = Config { url: echo.url.clone(), target: Target::Echo { participants }, server_pid: Some(echo.pid()), ..config.clone() };
            let r = super::run::run(&config);
            echo.stop();
            ceilings.push((label, r?));
        }
        Ok(Compared { run, ceilings })
    }

    /// One JSON document: `run`, each ceiling's report under its label (spaces become `_`)
    /// and `ratio_to_LABEL`, the run's throughput and latency over the ceiling's.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        let report = &self.run;
        let mut doc = serde_json::json!({ "run": report });
        for (label, c) in &self.ceilings {
            let key = label.replace(' ', "_");
            doc[&key] = serde_json::to_value(c)?;
            let ratio = |a: f64, b: f64| if b > 0.0 { serde_json::json!(a / b) } else { serde_json::Value::Null };
            doc[format!("ratio_to_{key}")] = serde_json::json!({
                "messages_per_second": ratio(report.messages_per_second, c.messages_per_second),
                "frames_per_second": ratio(report.frames_per_second, c.frames_per_second),
                "p50": ratio(report.latency.p50_ms, c.latency.p50_ms),
                "p99": ratio(report.latency.p99_ms, c.latency.p99_ms),
            });
        }
        Ok(doc)
    }

    /// The run as text, with its ratios to the ceilings ([`describe`]).
    pub fn describe(&self) -> String {
        let ceilings: Vec<(&str, &Report)> = self.ceilings.iter().map(|(l, r)| (*l, r)).collect();
        describe(&self.run, &ceilings)
    }
}

/// A `stoa echo` child process on a free loopback port, started from this executable (the
/// `stoa` command).
struct EchoChild {
    child: Child,
    url: String,
}

impl EchoChild {
    /// `durable`: the folder of its journal, for a durable echo.
    fn start(durable: Option<&Path>) -> anyhow::Result<EchoChild> {
        let exe = std::env::current_exe().context("cannot find the stoa executable")?;
        let mut cmd = Command::new(exe);
        cmd.args(["echo", "--addr", "127.0.0.1:0"]);
        if let Some(dir) = durable {
            cmd.arg("--durable").arg(dir);
        }
        let mut child = cmd.stdout(Stdio::piped()).spawn().context("cannot start `stoa echo`")?;
        let stdout = child.stdout.take().context("no stdout of `stoa echo`")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let url = line.split_whitespace().find(|w| w.starts_with("ws://")).map(String::from);
        match url {
            Some(url) => Ok(EchoChild { child, url }),
            None => {
                let _ = child.kill();
                anyhow::bail!("`stoa echo` did not say its address: {line:?}")
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
