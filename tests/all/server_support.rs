//! Helpers for the page, API and browser tests: a plain HTTP client (no redirects followed, so
//! a 303 is seen as a 303), a WebSocket bid, polling with a deadline, and the "pages-flow" test
//! game — the auction's component under a manifest with every kind of page.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, Request, header};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TOKEN, TestServer, root};

/// An HTTP answer, its body read as text.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// A header as text ("" when absent).
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// Sends one request to `server` (`path` from the root) and reads the whole answer.
pub(crate) async fn request(server: &TestServer, method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    try_request_at(&server.addr.to_string(), method, path, headers, body).await.unwrap_or_else(|e| panic!("request to {path} failed: {e}"))
}

/// [`request`] to the server at `addr`; the error when it does not answer (a killed server).
pub(crate) async fn try_request_at(addr: &str, method: Method, path: &str, headers: &[(&str, &str)], body: &str) -> Result<Answer, String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder().method(method).uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Answer { status: parts.status.as_u16(), headers: parts.headers, body: String::from_utf8_lossy(&bytes).into_owned() })
}

/// `GET path`.
pub(crate) async fn get(server: &TestServer, path: &str) -> Answer {
    request(server, Method::GET, path, &[], "").await
}

/// `GET path` with the admin token.
pub(crate) async fn get_admin(server: &TestServer, path: &str) -> Answer {
    let auth = format!("Bearer {TOKEN}");
    request(server, Method::GET, path, &[("authorization", &auth)], "").await
}

/// `POST path` with a form body (`a=1&b=2`).
pub(crate) async fn post_form(server: &TestServer, path: &str, form: &str) -> Answer {
    request(server, Method::POST, path, &[(header::CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded")], form).await
}

/// Submits participant `code`'s page `page` of `round` (as the layout's form does).
pub(crate) async fn submit(server: &TestServer, code: &str, page: &str, round: u32) -> Answer {
    post_form(server, &format!("/p/{code}"), &format!("stoa_page={page}&stoa_round={round}")).await
}

/// Creates a session through the API; its info (`{"code", "participants": [...]}`).
pub(crate) async fn create_session(server: &TestServer, game: &str, participants: u32) -> Value {
    let auth = format!("Bearer {TOKEN}");
    let body = serde_json::json!({ "game": game, "participants": participants }).to_string();
    let a = request(server, Method::POST, "/api/sessions", &[("authorization", &auth), ("content-type", "application/json")], &body).await;
    assert_eq!(a.status, 201, "create session: {}", a.body);
    a.json()
}

/// The participant codes of a session info, in order.
pub(crate) fn codes(info: &Value) -> Vec<String> {
    info["participants"].as_array().expect("participants").iter().map(|p| p["code"].as_str().expect("code").to_string()).collect()
}

/// `(round, page)` of a participant, from `GET /p/{code}/position`.
pub(crate) async fn position(server: &TestServer, code: &str) -> (u64, String) {
    let p = get(server, &format!("/p/{code}/position")).await.json();
    (p["round"].as_u64().expect("round"), p["page"].as_str().expect("page").to_string())
}

/// Where the store says a participant is, `(round, page_index)`, without a request (a GET
/// would enforce an overdue timeout itself).
pub(crate) fn stored_position(server: &TestServer, code: &str) -> (u32, u32) {
    let p = server.state.store.participant(code).expect("store").expect("participant");
    (p.round, p.page_index)
}

/// Polls `check` until it gives `Some`, failing with `what` after `limit`.
pub(crate) async fn eventually<T, F: Future<Output = Option<T>>>(limit: Duration, what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `payload` on participant `code`'s live page `page` and returns the first frame back.
pub(crate) async fn live_send(server: &TestServer, code: &str, page: &str, payload: &str) -> Value {
    live_send_at(&server.addr.to_string(), code, page, payload).await
}

/// [`live_send`] to the server at `addr` (a `stoa serve` child process).
pub(crate) async fn live_send_at(addr: &str, code: &str, page: &str, payload: &str) -> Value {
    let url = format!("ws://{addr}/live/{code}?page={page}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
    ws.send(Message::Text(payload.into())).await.expect("send");
    let frame = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => break serde_json::from_str::<Value>(&t).expect("frame is JSON"),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no frame for {payload}: {other:?}"),
        }
    };
    ws.close(None).await.ok();
    frame
}

/// Starts a server on `data` once the previous one has released the database (its last
/// tasks drop their handles a moment after it stops).
pub(crate) async fn start_when_released(games: &[&str], data: &Path) -> TestServer {
    let released =
        eventually(Duration::from_secs(10), "the previous server to release the database", || async { stoa::Store::open(data).ok().map(drop) });
    released.await;
    TestServer::start(games, data).await
}

/// Writes game package `name` into `dir`: the auction's component (copied; manifests may not
/// point outside their folder), a manifest of `keys` (what comes after `name`), the fields the
/// component reads, then `pages`, and `templates` (page name, text) under `templates/`.
/// Returns its folder.
pub(crate) fn auction_game(dir: &Path, name: &str, keys: &str, pages: &str, templates: &[(&str, &str)]) -> PathBuf {
    let game = dir.join(name);
    std::fs::create_dir_all(game.join("templates")).expect("mkdir");
    let wasm = root().join("example-games/auction/target/auction.wasm");
    std::fs::copy(&wasm, game.join("auction.wasm")).unwrap_or_else(|e| panic!("copy {} (run `make rust-games`): {e}", wasm.display()));
    let fields = "[group.fields]\nmax_bid = { type = \"integer\", initial = 0 }\nhighest_bidder = { type = \"integer\", initial = 0 }\n\
        [player.fields]\nbids = { type = \"integer\", initial = 0 }\n";
    let manifest = format!("name = \"{name}\"\ncomponent = \"auction.wasm\"\n{keys}{fields}{pages}");
    std::fs::write(game.join("game.toml"), manifest).expect("write game.toml");
    for (page, text) in templates {
        std::fs::write(game.join(format!("templates/{page}.hbs")), text).expect("write template");
    }
    game
}

/// Writes the "pages-flow" game into `dir` ([`auction_game`]) with pages `Intro` (timeout
/// `intro_timeout` s), `Bid` (live), `Wait` (wait page) and `Results`, two rounds, groups of 3.
/// Returns its folder.
pub(crate) fn flow_game(dir: &Path, intro_timeout: u32) -> PathBuf {
    let pages = format!(
        r#"[[page]]
name = "Intro"
template = "templates/Intro.hbs"
timeout_seconds = {intro_timeout}
[[page]]
name = "Bid"
template = "templates/Bid.hbs"
live = true
[[page]]
name = "Wait"
template = "templates/Wait.hbs"
kind = "wait"
[[page]]
name = "Results"
template = "templates/Results.hbs"
"#
    );
    let templates = [
        ("Intro", "<p id=\"intro\">Round {{round_number}}: welcome, player {{player.id_in_group}}.</p><button type=\"submit\">Start</button>"),
        ("Bid", "<p>Highest bid: <strong id=\"max-bid\">{{group.max_bid}}</strong></p><button type=\"submit\">Done</button>"),
        ("Wait", "<p id=\"waiting\">Waiting for the other players of group {{group.id}}.</p>"),
        ("Results", "<p id=\"result\">Round {{round_number}}: the highest bid was {{max_bid}}.</p><button type=\"submit\">Next</button>"),
    ];
    auction_game(dir, "pages-flow", "players_per_group = 3\nnum_rounds = 2\n", &pages, &templates)
}
