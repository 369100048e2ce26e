//! A live wait page (`kind = "wait"` with `live = true`, which oTree cannot do) over real HTTP
//! and WebSockets: the chat's component under a manifest whose wait page `Lobby` is live. The
//! first two players of a group wait there and chat, each receiving the other's broadcast on
//! its socket while the third is still on `Intro`; the wait page holds them through it; the
//! third's arrival moves the whole group on to `Results`, and the wait page's socket then
//! refuses frames.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::server_support::{codes, create_session, get, position, submit};
use crate::support::{TestServer, root};
use crate::ws::{connect, expect, expect_silence, send};

/// Writes game "chat-lobby" into `dir`: the chat's component (copied: a manifest may not point
/// outside its folder), its fields, and pages `Intro`, `Lobby` (a live wait page) and
/// `Results`, one round, groups of 3. Returns its folder.
fn chat_lobby_game(dir: &Path) -> PathBuf {
    let game = dir.join("chat-lobby");
    std::fs::create_dir_all(game.join("templates")).expect("mkdir");
    let wasm = root().join("example-games/chat/target/chat.wasm");
    std::fs::copy(&wasm, game.join("chat.wasm")).unwrap_or_else(|e| panic!("copy {} (run `make rust-games`): {e}", wasm.display()));
    let manifest = r#"name = "chat-lobby"
players_per_group = 3
num_rounds = 1
component = "chat.wasm"

[group.fields]
history = { type = "json", initial = [] }

[player.fields]
sent = { type = "integer", initial = 0 }

[[page]]
name = "Intro"
template = "templates/Intro.hbs"

[[page]]
name = "Lobby"
template = "templates/Lobby.hbs"
kind = "wait"
live = true

[[page]]
name = "Results"
template = "templates/Results.hbs"
"#;
    std::fs::write(game.join("game.toml"), manifest).expect("write game.toml");
    let templates = [
        ("Intro", "<p id=\"intro\">Welcome, player {{player.id_in_group}}.</p><button type=\"submit\">Go</button>"),
        ("Lobby", "<p id=\"waiting\">Waiting for your group; chat meanwhile.</p><ul id=\"messages\"></ul>"),
        ("Results", "<p id=\"outcome\">You sent {{sent}} message(s) while waiting.</p>"),
    ];
    for (page, text) in templates {
        std::fs::write(game.join(format!("templates/{page}.hbs")), text).expect("write template");
    }
    game
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_players_chat_on_a_live_wait_page_until_the_third_arrives_and_the_group_moves_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let game = chat_lobby_game(dir.path());
    let server = TestServer::start(&[game.to_str().expect("utf-8 path")], &dir.path().join("data")).await;
    let people = codes(&create_session(&server, "chat-lobby", 3).await);

    // Two of the three arrive on the wait page; the third stays on Intro.
    for c in &people[..2] {
        assert_eq!(submit(&server, c, "Intro", 1).await.status, 303);
        assert_eq!(position(&server, c).await, (1, "Lobby".to_string()));
    }
    assert_eq!(position(&server, &people[2]).await, (1, "Intro".to_string()));
    // The page is both: live.js for its socket, and the wait page's poll that reloads it.
    let page = get(&server, &format!("/p/{}", people[0])).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let live_js = format!("<script src=\"/static/live.js\" data-participant=\"{}\" data-page=\"Lobby\"", people[0]);
    assert!(page.body.contains(&live_js), "{}", page.body);
    assert!(page.body.contains(&format!("data-participant=\"{}\" data-at=\"1:Lobby\"", people[0])), "{}", page.body);
    assert!(page.body.contains("<p id=\"waiting\">Waiting for your group; chat meanwhile.</p>"), "{}", page.body);

    let mut first = connect(&server, &people[0], "page=Lobby").await;
    let mut second = connect(&server, &people[1], "page=Lobby").await;
    // The third, not on the wait page yet, cannot talk there.
    let mut third = connect(&server, &people[2], "page=Lobby").await;
    send(&mut third, r#"{"type": "chat", "text": "me too"}"#).await;
    assert_eq!(expect(&mut third).await, json!({"error": "you are on page `Intro` of round 1, not on page `Lobby` of round 1"}));
    third.close(None).await.ok();

    // Each waiting player's line reaches the other over its socket, on the wait page.
    send(&mut first, r#"{"type": "chat", "text": "anyone else here?"}"#).await;
    let line = json!({"seq": 1, "data": {"type": "chat", "from": 1, "text": "anyone else here?"}});
    assert_eq!(expect(&mut second).await, line);
    assert_eq!(expect(&mut first).await, line);
    send(&mut second, r#"{"type": "chat", "text": "yes, waiting for player 3"}"#).await;
    let line = json!({"seq": 2, "data": {"type": "chat", "from": 2, "text": "yes, waiting for player 3"}});
    assert_eq!(expect(&mut first).await, line);
    assert_eq!(expect(&mut second).await, line);
    expect_silence(&mut first).await;
    // Talking does not release a wait page: both are still on it.
    for c in &people[..2] {
        assert_eq!(position(&server, c).await, (1, "Lobby".to_string()));
    }

    // The third arrives: the whole group moves on to Results.
    assert_eq!(submit(&server, &people[2], "Intro", 1).await.status, 303);
    for c in &people {
        assert_eq!(position(&server, c).await, (1, "Results".to_string()), "{c}");
    }
    for (c, sent) in people.iter().zip([1, 1, 0]) {
        let page = get(&server, &format!("/p/{c}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(&format!("<p id=\"outcome\">You sent {sent} message(s) while waiting.</p>")), "{c}: {}", page.body);
    }
    // The wait page is over: its socket refuses further frames.
    send(&mut first, r#"{"type": "chat", "text": "still there?"}"#).await;
    assert_eq!(expect(&mut first).await, json!({"error": "you are on page `Results` of round 1, not on page `Lobby` of round 1"}));
    first.close(None).await.ok();
    second.close(None).await.ok();
    server.stop().await;
}
