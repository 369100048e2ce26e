//! Headless Chromium against the real server, driven over WebDriver (chromedriver, started
//! here on a free port): a bid typed in one participant's page reaches another's through
//! live.js, and the admin pages sign in, create a session and monitor it.
//!
//! Chromium and chromedriver come from Debian (`make browser`). Without them these tests
//! fail, never skip: a browser test that silently does not run proves nothing. Screenshots
//! land in `target/screenshots/` for a person to look at.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::server_support::{codes, create_session, eventually, flow_game, live_send, position, submit};
use crate::support::{TOKEN, TestServer, root};

/// Signs `b` in as a person does with the link `stoa serve` prints: opens `/admin?token=`,
/// clicks its "Sign in" button, and lands on `/admin`.
pub(crate) async fn sign_in(b: &Client, base: &str, token: &str) {
    b.goto(&format!("{base}/admin?token={token}")).await.expect("open the sign-in link");
    b.find(Locator::Css("#confirm-sign-in button")).await.expect("the sign-in button").click().await.expect("click");
    eventually(Duration::from_secs(10), "the signed-in /admin", || async {
        let url = b.current_url().await.ok()?;
        (url.path() == "/admin" && url.query().is_none()).then_some(())
    })
    .await;
}

/// A chromedriver process of ours; killed (by its own handle) when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn installed(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Starts chromedriver and opens a Chromium session with a fresh profile.
async fn browser() -> (Driver, Client) {
    let (Some(chromium), Some(chromedriver)) =
        (installed(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]), installed(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]))
    else {
        panic!("headless Chromium is not installed: run `make browser` (Debian packages chromium and chromium-driver)");
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e} (run `make browser`)", chromedriver.display()));
    let profile = tempfile::tempdir().expect("profile dir");
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}"), _profile: profile };
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1100,900",
        &format!("--user-data-dir={}", driver._profile.path().display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), serde_json::json!({ "binary": chromium, "args": args }));
    let client = eventually(Duration::from_secs(20), "chromedriver to accept a session", || {
        let (caps, url) = (caps.clone(), driver.url.clone());
        async move { ClientBuilder::new(HttpConnector::new()).capabilities(caps).connect(&url).await.ok() }
    })
    .await;
    (driver, client)
}

/// Runs `test` with a browser, then always closes the browser session (so Chromium exits
/// even when the test fails), then passes the test's panic on.
pub(crate) async fn with_browser<F, Fut>(test: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let (driver, client) = browser().await;
    let outcome = std::panic::AssertUnwindSafe(test(client.clone())).catch_unwind().await;
    let _ = client.close().await;
    drop(driver);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// [`with_browser`] with `n` browsers at once, each its own chromedriver, Chromium and
/// profile (so its own cookies): as many separate computers. Every browser is closed
/// afterwards, even when the test fails.
pub(crate) async fn with_browsers<F, Fut>(n: usize, test: F)
where
    F: FnOnce(Vec<Client>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut drivers = Vec::with_capacity(n);
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let (driver, client) = browser().await;
        drivers.push(driver);
        clients.push(client);
    }
    let outcome = std::panic::AssertUnwindSafe(test(clients.clone())).catch_unwind().await;
    for client in clients {
        let _ = client.close().await;
    }
    drop(drivers);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The text of the element at `css`, once it equals `expected` (polled, 20 s at most).
pub(crate) async fn wait_text(client: &Client, css: &str, expected: &str) {
    let mut last = String::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(el) = client.find(Locator::Css(css)).await
                && let Ok(text) = el.text().await
            {
                if text.trim() == expected {
                    return;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(found.is_ok(), "`{css}` never read `{expected}` (last: `{last}`)");
}

pub(crate) async fn screenshot(client: &Client, name: &str) {
    let dir: PathBuf = root().join("target/screenshots");
    let png = client.screenshot().await.expect("screenshot");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    std::fs::write(Path::new(&dir).join(format!("{name}.png")), png).expect("write screenshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bid_typed_in_one_page_appears_in_the_other_players_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["example-games/auction"], &dir.path().join("data")).await;
    let people = codes(&create_session(&server, "auction", 3).await);
    let base = format!("http://{}", server.addr);
    with_browser(|b| async move {
        b.goto(&format!("{base}/p/{}", people[0])).await.expect("open player 1");
        wait_text(&b, "#max-bid", "0").await;
        let first = b.window().await.expect("window");
        let second = b.new_window(true).await.expect("new tab").handle;
        b.switch_to_window(second).await.expect("switch");
        b.goto(&format!("{base}/p/{}", people[1])).await.expect("open player 2");
        b.find(Locator::Css("#bid")).await.expect("bid box").send_keys("37").await.expect("type");
        b.find(Locator::Css("#send-bid")).await.expect("bid button").click().await.expect("click");
        wait_text(&b, "#max-bid", "37").await;
        wait_text(&b, "#status", "Your bid of 37 leads.").await;
        screenshot(&b, "auction-bid").await;
        b.switch_to_window(first).await.expect("switch back");
        wait_text(&b, "#max-bid", "37").await;
        wait_text(&b, "#history li", "player 2 bid 37").await;
        // The page's own submit button posts the host's form: on to Results.
        b.find(Locator::Css("#form button[type=submit]")).await.expect("Next").click().await.expect("submit");
        wait_text(&b, "h2", "Results").await;
        let url = b.current_url().await.expect("url");
        assert_eq!(url.path(), format!("/p/{}", people[0]));
        // Player 3 opens the page only now: the list of accepted bids comes from the log's
        // replay (the game keeps no list of its own).
        let third = b.new_window(true).await.expect("new tab").handle;
        b.switch_to_window(third).await.expect("switch");
        b.goto(&format!("{base}/p/{}", people[2])).await.expect("open player 3");
        wait_text(&b, "#history li", "player 2 bid 37").await;
        wait_text(&b, "#max-bid", "37").await;
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_signs_in_creates_a_session_and_watches_the_monitor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["example-games/auction"], &dir.path().join("data")).await;
    let base = format!("http://{}", server.addr);
    let srv = &server;
    with_browser(|b| async move {
        sign_in(&b, &base, TOKEN).await;
        wait_text(&b, "#games td strong", "auction").await;
        let count = b.find(Locator::Css("input[name=participants]")).await.expect("participants box");
        count.clear().await.expect("clear");
        count.send_keys("6").await.expect("type");
        b.find(Locator::Css("#create-session button[type=submit]")).await.expect("create").click().await.expect("click");
        let links = eventually(Duration::from_secs(10), "six participant links", || async {
            let found = b.find_all(Locator::Css("a.participant-link")).await.ok()?;
            (found.len() == 6).then_some(found)
        })
        .await;
        let session = &srv.state.store.sessions().expect("sessions")[0];
        for (link, code) in links.iter().zip(&session.participants) {
            assert_eq!(link.attr("href").await.expect("href"), Some(format!("{base}/p/{code}")));
        }
        // The monitor refreshes itself: a participant moves on, the table follows.
        let row = format!("tr[data-code=\"{}\"] td.page", session.participants[4]);
        wait_text(&b, &row, "Bid").await;
        assert_eq!(submit(srv, &session.participants[4], "Bid", 1).await.status, 303);
        wait_text(&b, &row, "Results").await;
        screenshot(&b, "admin-session").await;
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_page_counts_down_and_a_wait_page_moves_on_by_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let game = flow_game(dir.path(), 60);
    let server = TestServer::start(&[game.to_str().expect("utf-8 path")], &dir.path().join("data")).await;
    let people = codes(&create_session(&server, "pages-flow", 3).await);
    let base = format!("http://{}", server.addr);
    let srv = &server;
    with_browser(|b| async move {
        b.goto(&format!("{base}/p/{}", people[0])).await.expect("open Intro");
        // The 60 s page timer started when the session was made; on a busy machine the
        // browser may take a while to show it, so any time left in (0, 60] s will do.
        let seconds_left = |text: &str| -> Option<u32> {
            let (m, s) = text.split_once(':')?;
            Some(m.parse::<u32>().ok()? * 60 + s.parse::<u32>().ok()?)
        };
        let shown = eventually(Duration::from_secs(20), "the countdown", || async {
            let text = b.find(Locator::Css("#stoa-timer")).await.ok()?.text().await.ok()?;
            seconds_left(&text).filter(|&s| s > 0 && s <= 60).map(|_| text)
        })
        .await;
        assert!(seconds_left(&shown).is_some_and(|s| s > 0 && s <= 60), "{shown}");
        b.find(Locator::Css("#form button[type=submit]")).await.expect("Start").click().await.expect("submit Intro");
        wait_text(&b, "#max-bid", "0").await;
        b.find(Locator::Css("#form button[type=submit]")).await.expect("Done").click().await.expect("submit Bid");
        wait_text(&b, "#waiting", "Waiting for the other players of group 1.").await;
        // The two others finish Bid over plain HTTP; the waiting page notices by itself.
        for c in &people[1..] {
            assert_eq!(submit(srv, c, "Intro", 1).await.status, 303);
            assert_eq!(submit(srv, c, "Bid", 1).await.status, 303);
        }
        wait_text(&b, "#result", "Round 1: the highest bid was 0.").await;
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keep_on_page_game_refuses_an_early_submit_then_moves_on_by_itself_after_ten_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["example-games/keep-on-page"], &dir.path().join("data")).await;
    let people = codes(&create_session(&server, "keep-on-page", 2).await);
    let base = format!("http://{}", server.addr);
    let srv = &server;
    with_browser(|b| async move {
        b.goto(&format!("{base}/p/{}", people[0])).await.expect("open player 1");
        wait_text(&b, "#count", "0").await;
        // Too early: the page's own Next button is refused with the game's text.
        b.find(Locator::Css("#form button[type=submit]")).await.expect("Next").click().await.expect("submit");
        wait_text(&b, "#stoa-error", "The group has sent 0 of 10 messages; please stay on this page.").await;
        wait_text(&b, "h2", "Stay on this page").await;
        assert_eq!(position(srv, &people[0]).await, (1, "Chat".to_string()));
        screenshot(&b, "keep-on-page-refused").await;
        // Three messages from this page, seven from the other player's socket.
        for n in 1..=3 {
            b.find(Locator::Css("#send")).await.expect("send button").click().await.expect("click");
            wait_text(&b, "#count", &n.to_string()).await;
        }
        for n in 4..=10 {
            let frame = live_send(srv, &people[1], "Chat", r#"{"type": "message"}"#).await;
            assert_eq!(frame["data"], serde_json::json!({"type": "progress", "count": n}), "{frame}");
        }
        // game_finished: the page submits itself, nobody clicks.
        wait_text(&b, "#outcome", "Your group sent 10 of 10 messages; you sent 3.").await;
        assert_eq!(position(srv, &people[0]).await, (1, "Results".to_string()));
        // A page opened after the group finished moves on at once.
        b.goto(&format!("{base}/p/{}", people[1])).await.expect("open player 2");
        wait_text(&b, "#outcome", "Your group sent 10 of 10 messages; you sent 7.").await;
        assert_eq!(position(srv, &people[1]).await, (1, "Results".to_string()));
    })
    .await;
    server.stop().await;
}
