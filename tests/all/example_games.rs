//! The example games bargaining, chat and keep-on-page: their bots pass, and on the real
//! server with real WebSocket clients each does what it is there to show — offers reach only
//! their addressee, the chat history comes on connect, and the keep-on-page game holds its
//! players on the page until the group has sent 10 messages.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::server_support::{codes, create_session, get, position, submit};
use crate::support::{TestServer, game, root};
use crate::ws::{self, Ws};

const BARGAINING: &str = "example-games/bargaining";
const CHAT: &str = "example-games/chat";
const KEEP_ON_PAGE: &str = "example-games/keep-on-page";

// --- bots -------------------------------------------------------------------------------

/// Runs the bots of `path` with `participants` and returns each group's fields.
fn bots_pass(path: &str, participants: u32) -> Vec<std::collections::BTreeMap<String, Value>> {
    let g = game(path);
    let store = stoa::Store::temporary().expect("store");
    let report = stoa::bots::run(&g, &store, participants, None, 2).expect("run");
    assert!(report.passed, "{path}: {:?}\n{}", report.failures(), stoa::bots::describe(&report));
    report.groups.into_iter().map(|g| g.group_fields).collect()
}

#[test]
fn bargaining_bots_offer_counter_offer_and_accept() {
    for fields in bots_pass(BARGAINING, 4) {
        assert_eq!(fields["done"], json!(true));
        assert_eq!(fields["deal_price"], json!(70));
    }
}

#[test]
fn chat_bots_say_a_line_each_and_find_them_in_the_history() {
    for fields in bots_pass(CHAT, 6) {
        assert_eq!(fields["history"].as_array().map(Vec::len), Some(3), "{fields:?}");
    }
}

#[test]
fn keep_on_page_bots_send_ten_messages_and_may_then_leave_the_page() {
    // The runner submits every page after the bot: error_message must let it through.
    for fields in bots_pass(KEEP_ON_PAGE, 4) {
        assert_eq!(fields["count"], json!(10));
    }
}

// --- a WebSocket client per player --------------------------------------------------------

/// One participant's live socket on `page`.
struct Player {
    ws: Ws,
}

impl Player {
    async fn connect(server: &TestServer, code: &str, page: &str) -> Player {
        Player { ws: ws::connect(server, code, &format!("page={page}")).await }
    }

    async fn send(&mut self, payload: Value) {
        ws::send(&mut self.ws, &payload.to_string()).await;
    }

    /// The next frame as JSON, or None after `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Value> {
        ws::next(&mut self.ws, wait).await
    }

    /// The payload of the next routed message.
    async fn recv(&mut self) -> Value {
        let frame = self.next(Duration::from_secs(5)).await.expect("a frame within 5 s");
        assert!(frame.get("seq").is_some(), "expected a routed message, got {frame}");
        frame["data"].clone()
    }

    /// The text of the next frame, which must be an error.
    async fn error(&mut self) -> String {
        let frame = self.next(Duration::from_secs(5)).await.expect("a frame within 5 s");
        frame["error"].as_str().unwrap_or_else(|| panic!("expected an error frame, got {frame}")).to_string()
    }

    async fn silent(&mut self) {
        if let Some(f) = self.next(Duration::from_millis(300)).await {
            panic!("expected no frame, got {f}");
        }
    }

    async fn close(mut self) {
        self.ws.close(None).await.ok();
    }
}

/// A session of `game` with `n` participants, each connected on `page`; its code too.
async fn session(server: &TestServer, game: &str, n: u32, page: &str) -> (String, Vec<String>, Vec<Player>) {
    let info = create_session(server, game, n).await;
    let people = codes(&info);
    let mut players = Vec::new();
    for c in &people {
        players.push(Player::connect(server, c, page).await);
    }
    (info["code"].as_str().expect("code").to_string(), people, players)
}

/// Group 1's fields in round 1 of `session`, from the store.
fn group_fields(server: &TestServer, game: &str, session: &str) -> std::collections::BTreeMap<String, Value> {
    let key = stoa::GroupKey { session: session.to_string(), round: 1, group: 1 };
    server.state.store.group_fields(&server.state.games[game].manifest, &key).expect("fields")
}

// --- bargaining ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bargaining_offer_reaches_only_the_other_player_and_the_deal_reaches_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[BARGAINING], &dir.path().join("data")).await;
    let (code, _, mut p) = session(&server, "bargaining", 2, "Bargain").await;

    p[0].send(json!({"type": "offer", "amount": 50})).await;
    assert_eq!(p[1].recv().await, json!({"type": "offer", "from": 1, "amount": 50}));
    p[0].silent().await;

    p[1].send(json!({"type": "offer", "amount": 70})).await;
    assert_eq!(p[0].recv().await, json!({"type": "offer", "from": 2, "amount": 70}));
    p[1].silent().await;

    // Player 2 made the latest offer: only player 1 may accept it.
    p[1].send(json!({"type": "accept"})).await;
    assert!(p[1].error().await.contains("only they can accept it"));
    p[0].silent().await;

    p[0].send(json!({"type": "accept"})).await;
    for player in p.iter_mut() {
        assert_eq!(player.recv().await, json!({"type": "deal", "price": 70}));
    }
    let fields = group_fields(&server, "bargaining", &code);
    assert_eq!((&fields["done"], &fields["deal_price"]), (&json!(true), &json!(70)));

    p[1].send(json!({"type": "offer", "amount": 1})).await;
    assert!(p[1].error().await.contains("already done"));
    for player in p {
        player.close().await;
    }
    server.stop().await;
}

/// The bargaining game under a manifest with groups of three, in `dir` (the component copied:
/// a manifest may not point outside its folder).
fn bargaining_for_three(dir: &Path) -> PathBuf {
    let from = root().join(BARGAINING);
    let to = dir.join("bargaining-3");
    std::fs::create_dir_all(to.join("templates")).expect("mkdir");
    std::fs::create_dir_all(to.join("target")).expect("mkdir");
    let manifest = std::fs::read_to_string(from.join("game.toml")).expect("game.toml");
    let manifest = manifest.replace("name = \"bargaining\"", "name = \"bargaining-3\"").replace("players_per_group = 2", "players_per_group = 3");
    std::fs::write(to.join("game.toml"), manifest).expect("write game.toml");
    for file in ["templates/Bargain.hbs", "templates/Results.hbs", "target/bargaining.wasm"] {
        std::fs::copy(from.join(file), to.join(file)).unwrap_or_else(|e| panic!("copy {file} (run `make rust-games`): {e}"));
    }
    to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_group_of_three_an_offer_goes_to_the_player_it_names_and_nobody_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let game = bargaining_for_three(dir.path());
    let server = TestServer::start(&[game.to_str().expect("utf-8 path")], &dir.path().join("data")).await;
    let (code, _, mut p) = session(&server, "bargaining-3", 3, "Bargain").await;

    p[0].send(json!({"type": "offer", "amount": 40, "to": 3})).await;
    assert_eq!(p[2].recv().await, json!({"type": "offer", "from": 1, "amount": 40}));
    p[0].silent().await;
    p[1].silent().await;

    // Without "to" nobody is meant; a "to" outside the group is nobody either.
    p[1].send(json!({"type": "offer", "amount": 45})).await;
    assert!(p[1].error().await.contains("needs \"to\""));
    p[1].send(json!({"type": "offer", "amount": 45, "to": 4})).await;
    assert_eq!(p[1].error().await, "there is no player 4 in this group (ids are 1 to 3)");
    // Player 2 is not the receiver of the latest offer.
    p[1].send(json!({"type": "accept"})).await;
    assert!(p[1].error().await.contains("is for player 3"));
    p[0].silent().await;
    p[2].silent().await;

    p[2].send(json!({"type": "accept"})).await;
    for player in p.iter_mut() {
        assert_eq!(player.recv().await, json!({"type": "deal", "price": 40}));
    }
    assert_eq!(group_fields(&server, "bargaining-3", &code)["deal_price"], json!(40));
    for player in p {
        player.close().await;
    }
    server.stop().await;
}

// --- chat ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_lines_reach_the_group_and_a_connect_gets_the_history_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[CHAT], &dir.path().join("data")).await;
    let (code, _, mut p) = session(&server, "chat", 3, "Chat").await;

    let lines = [(1, "hello"), (2, "<script>alert(1)</script>")];
    for (id, text) in lines {
        p[id - 1].send(json!({"type": "chat", "text": text})).await;
        for player in p.iter_mut() {
            assert_eq!(player.recv().await, json!({"type": "chat", "from": id, "text": text}));
        }
    }

    p[2].send(json!({"type": "connect"})).await;
    let history = json!({"type": "history", "messages": [
        {"from": 1, "text": "hello"},
        {"from": 2, "text": "<script>alert(1)</script>"},
    ]});
    assert_eq!(p[2].recv().await, history);
    p[0].silent().await;
    p[1].silent().await;

    // A line past 500 characters is refused, to its sender alone, and not kept.
    p[0].send(json!({"type": "chat", "text": "x".repeat(501)})).await;
    assert_eq!(p[0].error().await, "a chat message is at most 500 characters, this one has 501");
    p[1].silent().await;
    assert_eq!(group_fields(&server, "chat", &code)["history"], history["messages"]);
    for player in p {
        player.close().await;
    }
    server.stop().await;
}

// --- keep-on-page -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_on_page_refuses_an_early_submit_and_accepts_it_after_ten_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[KEEP_ON_PAGE], &dir.path().join("data")).await;
    let (_, people, mut p) = session(&server, "keep-on-page", 2, "Chat").await;
    let me = &people[0];

    let refused = submit(&server, me, "Chat", 1).await;
    assert_eq!(refused.status, 200, "the page is shown again, not redirected: {}", refused.body);
    assert!(refused.body.contains("<title>Chat</title>"), "{}", refused.body);
    assert!(refused.body.contains("The group has sent 0 of 10 messages; please stay on this page."), "{}", refused.body);
    assert_eq!(position(&server, me).await, (1, "Chat".to_string()));

    for n in 1..=9 {
        p[n % 2].send(json!({"type": "message"})).await;
        for player in p.iter_mut() {
            assert_eq!(player.recv().await, json!({"type": "progress", "count": n}));
        }
        if n == 3 {
            let refused = submit(&server, me, "Chat", 1).await;
            assert!(refused.body.contains("The group has sent 3 of 10 messages"), "{}", refused.body);
            assert_eq!(position(&server, me).await, (1, "Chat".to_string()));
        }
    }

    // The 10th message finishes the game, for everyone.
    p[0].send(json!({"type": "message"})).await;
    for player in p.iter_mut() {
        assert_eq!(player.recv().await, json!({"type": "progress", "count": 10}));
        assert_eq!(player.recv().await, json!({"type": "game_finished"}));
    }
    p[1].send(json!({"type": "message"})).await;
    assert!(p[1].error().await.contains("already sent all 10"));

    let accepted = submit(&server, me, "Chat", 1).await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(position(&server, me).await, (1, "Results".to_string()));
    let results = get(&server, &format!("/p/{me}")).await;
    assert!(results.body.contains("Your group sent 10 of 10 messages; you sent 5."), "{}", results.body);
    for player in p {
        player.close().await;
    }
    server.stop().await;
}

// --- templates ----------------------------------------------------------------------------

#[test]
fn example_templates_never_write_html_from_data() {
    // Chat lines and other live payloads are the participants' own text: templates write them
    // with textContent, and template variables only through the escaping `{{ }}`.
    for path in [BARGAINING, CHAT, KEEP_ON_PAGE, "example-games/auction"] {
        let dir = root().join(path).join("templates");
        for entry in std::fs::read_dir(&dir).expect("templates") {
            let file = entry.expect("entry").path();
            let text = without_comments(&std::fs::read_to_string(&file).expect("read template"));
            for bad in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "{{{"] {
                assert!(!text.contains(bad), "{} uses {bad}", file.display());
            }
        }
    }
}

/// A template without its `{{!-- --}}` comments (which may well say "never innerHTML").
fn without_comments(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{!--") {
        out.push_str(&rest[..start]);
        rest = rest[start..].find("--}}").map_or("", |end| &rest[start + end + 4..]);
    }
    out + rest
}
