//! The page-flow benchmark: `stoa serve` in its own process, and participants walking the
//! public goods game over HTTP as browsers would — each round, submit the contribution form
//! (`POST /p/{code}`: the host checks it, stores it and runs `before-next-page`, durable before
//! the answer), wait on the wait page (`GET /p/{code}` until the results show: the group's
//! `after-all-players-arrive` computes the payoffs), then submit the results page. Three rounds,
//! at 21 and 201 participants: a session to warm up, then five measured one after another.
//! Prints submissions per second and the submissions' latency.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const TOKEN: &str = "bench-token";
type Http = Client<HttpConnector, Full<Bytes>>;

struct Server {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(games: &Path) -> Server {
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stoa"))
        .args(["serve", "--addr", "127.0.0.1:0", "--rate", "1000000000"])
        .arg("--games")
        .arg(games)
        .arg("--data")
        .arg(data.path().join("db"))
        .env("STOA_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start stoa");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = lines.next().and_then(Result::ok).unwrap_or_else(|| panic!("the server ended without saying its address"));
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            break url.trim_end_matches('/').to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, base, _data: data }
}

async fn call(http: &Http, method: &str, url: &str, headers: &[(&str, &str)], body: String) -> (u16, String) {
    let mut req = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = http.request(req.body(Full::new(Bytes::from(body))).expect("request")).await.expect("answer");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// One participant's whole session; the latency of each of its submissions.
async fn participant(http: Http, base: String, code: String, rounds: u32) -> Vec<Duration> {
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let url = format!("{base}/p/{code}");
    let mut took = Vec::new();
    for round in 1..=rounds {
        let t = Instant::now();
        let (status, body) = call(&http, "POST", &url, &form, format!("stoa_page=Contribute&stoa_round={round}&contribution=50")).await;
        took.push(t.elapsed());
        assert!(status == 303, "contribute: {status} {body}");
        loop {
            let (_, page) = call(&http, "GET", &url, &[], String::new()).await;
            if page.contains("Results of round") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let t = Instant::now();
        let (status, body) = call(&http, "POST", &url, &form, format!("stoa_page=Results&stoa_round={round}")).await;
        took.push(t.elapsed());
        assert!(status == 303, "results: {status} {body}");
    }
    took
}

/// Measured sessions per row.
const SESSIONS: usize = 5;

/// Creates a session of `n` and walks every participant through it at once: how long it took
/// and each submission's latency.
async fn session(http: &Http, base: &str, n: u32) -> (Duration, Vec<Duration>) {
    let auth = format!("Bearer {TOKEN}");
    let body = format!(r#"{{"game": "public-goods", "participants": {n}}}"#);
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let (status, info) = call(http, "POST", &format!("{base}/api/sessions"), &headers, body).await;
    assert_eq!(status, 201, "{info}");
    let info: serde_json::Value = serde_json::from_str(&info).expect("json");
    let codes: Vec<String> =
        info["participants"].as_array().expect("participants").iter().map(|p| p["code"].as_str().expect("code").to_string()).collect();
    let started = Instant::now();
    let tasks: Vec<_> = codes.into_iter().map(|c| tokio::spawn(participant(http.clone(), base.to_string(), c, 3))).collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("participant"));
    }
    (started.elapsed(), all)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let games = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(root.join("example-games/public-goods").canonicalize().expect("public-goods"), games.path().join("public-goods"))
        .expect("link");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("| participants | submissions | seconds | submissions/s | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|");
    for n in [21u32, 201] {
        let server = serve(games.path());
        let row = rt.block_on(async {
            let http: Http = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1024).build_http();
            // One session to warm up (the component loaded, sled's trees grown), then
            // SESSIONS measured one after another.
            session(&http, &server.base, n).await;
            let (mut elapsed, mut all) = (Duration::ZERO, Vec::new());
            for _ in 0..SESSIONS {
                let (took, latencies) = session(&http, &server.base, n).await;
                elapsed += took;
                all.extend(latencies);
            }
            (elapsed, all)
        });
        let (elapsed, mut took) = row;
        took.sort();
        let at = |q: f64| took[((took.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "| {n} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} |",
            took.len(),
            elapsed.as_secs_f64(),
            took.len() as f64 / elapsed.as_secs_f64(),
            ms(at(0.5)),
            ms(at(0.99)),
            ms(at(1.0))
        );
        drop(server);
    }
}
