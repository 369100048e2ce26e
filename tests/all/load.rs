//! `stoa load` against a real `stoa serve` and a real `stoa echo`, each its own process on a
//! free loopback port: small counts, checked through `--json`.

use std::io::BufRead as _;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::support::{TOKEN, root};

/// A child server that printed its address; killed on drop.
struct Spawned {
    child: Child,
    url: String,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `stoa ARGS` and waits for the line naming its `scheme://` address.
fn start(args: &[&str], scheme: &str) -> Spawned {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stoa"))
        .args(args)
        .env("STOA_CACHE_DIR", root().join("target/stoa-cache"))
        .env("STOA_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn stoa");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = loop {
        let line = lines.next().expect("the server said its address before ending").expect("stdout line");
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with(scheme)) {
            break url.to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Spawned { child, url }
}

fn load(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stoa")).arg("load").args(args).env_remove("STOA_ADMIN_TOKEN").output().expect("run stoa load")
}

/// The `run` report of a successful `stoa load --json`.
fn report(out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stoa load failed ({}): {stderr}", out.status);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("--json output is not JSON ({e}): {stderr}"));
    doc["run"].clone()
}

/// Every send answered, nothing failed, and latencies present and ordered.
fn check_answered(r: &Value, messages: u64) {
    assert_eq!(r["sent"], messages, "{r}");
    assert_eq!(r["answered"], messages, "{r}");
    assert_eq!((r["errors"].as_u64(), r["unanswered"].as_u64()), (Some(0), Some(0)), "{r}");
    let l = &r["latency"];
    let ms = |k: &str| l[k].as_f64().unwrap_or_else(|| panic!("latency.{k} missing: {r}"));
    assert!(0.0 < ms("p50_ms") && ms("p50_ms") <= ms("p90_ms") && ms("p90_ms") <= ms("p99_ms") && ms("p99_ms") <= ms("max_ms"), "{l}");
    assert!(r["messages_per_second"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
}

#[test]
fn load_drives_a_stoa_server_and_matches_every_reply() {
    let data = tempfile::tempdir().expect("tempdir");
    let games = root().join("example-games");
    let server = start(
        &["serve", "--addr", "127.0.0.1:0", "--rate", "100000", "--games", &games.to_string_lossy(), "--data", &data.path().to_string_lossy()],
        "http://",
    );
    let pid = server.child.id().to_string();

    // Saturation: 6 participants (two groups of 3), 2 messages in flight each, 300 in all.
    let common = ["--url", &server.url, "--game", "auction", "--token", TOKEN, "--participants", "6", "--json", "--quiet"];
    let out = load(&[&common[..], &["--window", "2", "--messages", "300", "--seconds", "20", "--server-pid", &pid]].concat());
    let r = report(&out);
    check_answered(&r, 300);
    assert_eq!(r["participants"], 6);
    assert_eq!(r["target"], "auction");
    // A new maximum reaches the whole group of 3, a rejected bid its sender: at least one
    // frame per answered message, at most three.
    let frames = r["frames"].as_u64().unwrap_or(0);
    assert!((300..=900).contains(&frames), "frames {frames}: {r}");
    assert!(r["server_cpu_cores"].as_f64().is_some_and(|c| c >= 0.0), "server CPU missing: {r}");
    assert!(r["server_rss_bytes"].as_u64().is_some_and(|b| b > 1 << 20), "server RSS missing: {r}");
    assert!(r["send_lag"].is_null(), "no schedule, no lag, at saturation: {r}");

    // Fixed rate: 100 messages at 200/s take about half a second of sending.
    let out = load(&[&common[..], &["--rate", "200", "--messages", "100", "--seconds", "20"]].concat());
    let r = report(&out);
    check_answered(&r, 100);
    assert!(r["seconds"].as_f64().unwrap_or(0.0) >= 0.4, "100 messages at 200/s were sent too fast: {r}");
    // The client's own lateness is reported at a fixed rate (and is part of the latency).
    let lag = |k: &str| r["send_lag"][k].as_f64().unwrap_or_else(|| panic!("send_lag.{k} missing: {r}"));
    assert!(0.0 <= lag("p50_ms") && lag("p50_ms") <= lag("p99_ms") && lag("p99_ms") <= lag("max_ms"), "{r}");

    // A payload the game refuses: each send is answered with an error, the exit status says so.
    let out = load(&[&common[..], &["--payload", r#"{"bid": -1}"#, "--messages", "12"]].concat());
    assert!(!out.status.success(), "errors must fail the run");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((doc["run"]["errors"].as_u64(), doc["run"]["answered"].as_u64()), (Some(12), Some(0)), "{doc}");
    assert!(doc["run"]["first_error"].as_str().is_some_and(|e| e.contains("non-negative")), "{doc}");
}

#[test]
fn load_drives_the_echo_ceiling() {
    let echo = start(&["echo", "--addr", "127.0.0.1:0"], "ws://");
    let pid = echo.child.id().to_string();
    let out = load(&["--echo", "--url", &echo.url, "--participants", "4", "--messages", "200", "--json", "--quiet", "--server-pid", &pid]);
    let r = report(&out);
    check_answered(&r, 200);
    assert_eq!(r["frames"], 200, "an echo server answers each frame once: {r}");
    assert_eq!(r["target"], "echo");
    // Without --quiet, a progress line each second, with the slowest reply of that second.
    let out = load(&["--echo", "--url", &echo.url, "--participants", "4", "--rate", "400", "--seconds", "2.5", "--json"]);
    check_answered(&report(&out), 1000);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("answered") && l.contains("/s, slowest ")).collect();
    assert!(lines.len() >= 2, "progress lines: {stderr}");
    assert!(lines.iter().all(|l| l.contains(" ms), frames ")), "{stderr}");

    // A warm-up: the messages due in its first 0.5 s (200 at 400/s) are reported apart, the
    // 400 due in the second after it are the run's figures.
    let out = load(&["--echo", "--url", &echo.url, "--participants", "4", "--rate", "400", "--warmup", "0.5", "--seconds", "1", "--json", "--quiet"]);
    let r = report(&out);
    check_answered(&r, 400);
    let w = &r["warmup"];
    assert_eq!((w["answered"].as_u64(), w["seconds"].as_f64()), (Some(200), Some(0.5)), "{r}");
    assert!(w["latency"]["max_ms"].as_f64().is_some_and(|m| m > 0.0), "{r}");
    assert!(r["seconds"].as_f64().is_some_and(|s| (0.9..1.4).contains(&s)), "the measured part is the second after the warm-up: {r}");
    let out = load(&["--echo", "--url", &echo.url, "--warmup=-1", "--quiet"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--warmup"), "a negative warm-up is refused");
    // A warm-up that would use up --messages leaves nothing to measure: refused, saying so —
    // at a fixed rate before connecting, at saturation once it happened.
    for mode in [&["--rate", "400"][..], &["--window", "1"][..]] {
        let out = load(&[&["--echo", "--url", &echo.url, "--participants", "2", "--messages", "40", "--warmup", "1", "--quiet"][..], mode].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("--messages") && stderr.contains("nothing"), "{mode:?}: {stderr}");
    }
}

#[test]
fn the_durable_echo_answers_each_frame_once_it_is_in_its_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("durable");
    let echo = start(&["echo", "--addr", "127.0.0.1:0", "--durable", &journal.to_string_lossy()], "ws://");
    let out = load(&["--echo", "--url", &echo.url, "--participants", "4", "--window", "2", "--messages", "300", "--json", "--quiet"]);
    let r = report(&out);
    check_answered(&r, 300);
    assert_eq!(r["frames"], 300, "{r}");
    drop(echo);
    // Every payload the client sent, `{"bid": n,"seq":n}` for n in 0..300, is in a segment.
    let mut written = Vec::new();
    for entry in std::fs::read_dir(journal.join("journal")).expect("the journal's folder").flatten() {
        written.extend(std::fs::read(entry.path()).expect("a segment"));
    }
    let text = String::from_utf8_lossy(&written);
    let missing: Vec<u64> = (0..300).filter(|n| !text.contains(&format!(r#"{{"bid": {n},"seq":{n}}}"#))).collect();
    assert!(missing.is_empty(), "messages answered but not in the journal: {missing:?}");
}

#[test]
fn load_gives_ratios_to_both_ceilings() {
    let data = tempfile::tempdir().expect("tempdir");
    let games = root().join("example-games");
    let server = start(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--rate",
            "100000",
            "--games",
            &games.to_string_lossy(),
            "--data",
            &data.path().join("db").to_string_lossy(),
        ],
        "http://",
    );
    let scratch = data.path().join("ceilings");
    std::fs::create_dir(&scratch).expect("mkdir");
    let run = ["--url", &server.url, "--game", "auction", "--token", TOKEN, "--participants", "3", "--messages", "90", "--quiet", "--ceiling"];
    let out = load(&[&run[..], &["--json", "--ceiling-dir", &scratch.to_string_lossy()]].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    check_answered(&doc["run"], 90);
    for key in ["echo", "durable_echo"] {
        check_answered(&doc[key], 90);
        let ratio = doc[format!("ratio_to_{key}")]["messages_per_second"].as_f64();
        assert!(ratio.is_some_and(|r| r > 0.0), "ratio_to_{key}: {doc}");
    }
    assert_eq!(std::fs::read_dir(&scratch).expect("scratch").count(), 0, "the durable echo's folder is removed after the run");
    // As text: both ratios on the messages/s line, and a line for each ceiling.
    let out = load(&run);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.lines().any(|l| l.contains("messages/s") && l.contains("× echo, ") && l.contains("× durable echo)")), "{text}");
    assert!(text.contains("\n  durable echo: "), "{text}");
    // The folder must exist.
    let out = load(&[&run[..], &["--ceiling-dir", "/nonexistent/stoa"]].concat());
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--ceiling-dir"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn load_refuses_other_hosts_unless_named() {
    let out = load(&["--url", "http://192.0.2.1:8000", "--game", "auction", "--token", "t", "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a loopback address") && stderr.contains("--allow-host 192.0.2.1"), "{stderr}");
    let out = load(&["--game", "auction", "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin token"), "a session needs the token");
}
