//! Groups over real HTTP: `grouping = "random"` draws new groups every round from the
//! session's seed (two sessions with one seed: the same groups; another seed: others), the
//! page flow and the live channel follow each round's groups, and the exports name each
//! player's group per round; `random-keep-id` keeps each player's id; a first wait page with
//! `group_by_arrival_time` groups participants in the order they arrive, a latecomer waiting
//! for the next group; a wait page with `timeout_seconds` lets those there go on without a
//! dropout, who later goes on alone; the monitor's advance does the same for a named
//! participant on a wait page.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::Method;
use serde_json::{Value, json};

use crate::replay::{download_bundle, replay_bundle};
use crate::server_support::{
    auction_game, codes, eventually, get, get_admin, live_send, position, post_form, request, start_when_released, stored_position, submit,
};
use crate::support::{TOKEN, TestServer, root};

/// Writes game `name` (the auction's component) with `keys`, pages `pages` and their
/// templates (each page's name and round); its folder.
fn game(dir: &Path, name: &str, keys: &str, pages: &[(&str, &str)]) -> PathBuf {
    let mut manifest = String::new();
    let mut templates = Vec::new();
    for (page, extra) in pages {
        manifest.push_str(&format!("[[page]]\nname = \"{page}\"\ntemplate = \"templates/{page}.hbs\"\n{extra}\n"));
        templates.push((*page, "<p id=\"at\">{{page}} {{round_number}} group {{group.id}} player {{player.id_in_group}}</p>"));
    }
    auction_game(dir, name, keys, &manifest, &templates)
}

/// Creates a session of `game` with `n` participants and `extra` body keys; its info.
async fn create(server: &TestServer, game: &str, n: u32, extra: Value) -> Value {
    let mut body = json!({ "game": game, "participants": n });
    if let (Some(b), Value::Object(extra)) = (body.as_object_mut(), extra) {
        b.extend(extra);
    }
    let auth = format!("Bearer {TOKEN}");
    let a =
        request(server, Method::POST, "/api/sessions", &[("authorization", &auth), ("content-type", "application/json")], &body.to_string()).await;
    assert_eq!(a.status, 201, "create session: {}", a.body);
    a.json()
}

async fn export(server: &TestServer, session: &str) -> Value {
    let a = get_admin(server, &format!("/api/sessions/{session}/export?format=json")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

/// Each round's groups as the export names them: participant positions (1-based) in id order.
fn groups_by_round(export: &Value) -> Vec<Vec<Vec<usize>>> {
    let people: Vec<&str> = export["participants"].as_array().expect("participants").iter().map(|p| p["code"].as_str().expect("code")).collect();
    let position = |code: &str| people.iter().position(|c| *c == code).expect("a participant of the session") + 1;
    export["rounds"]
        .as_array()
        .expect("rounds")
        .iter()
        .map(|r| {
            r["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .map(|g| g["players"].as_array().expect("players").iter().map(|p| position(p["participant"].as_str().expect("code"))).collect())
                .collect()
        })
        .collect()
}

/// `(group, id_in_group)` of each participant, from the session's monitor info.
async fn seats(server: &TestServer, session: &str) -> Vec<(u64, u64)> {
    let info = get_admin(server, &format!("/api/sessions/{session}")).await.json();
    info["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| (p["group"].as_u64().expect("group"), p["id_in_group"].as_u64().expect("id")))
        .collect()
}

/// Each position's `(group, id)` in `groups` (one round's, as [`groups_by_round`] gives).
fn seats_in(groups: &[Vec<usize>], n: usize) -> Vec<(u64, u64)> {
    let mut out = vec![(0, 0); n];
    for (g, members) in groups.iter().enumerate() {
        for (i, &p) in members.iter().enumerate() {
            out[p - 1] = (g as u64 + 1, i as u64 + 1);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_groups_come_from_the_seed_change_across_rounds_and_the_pages_and_live_calls_follow_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = "players_per_group = 2\nnum_rounds = 3\ngrouping = \"random\"\n";
    let pages = [("Bid", "live = true"), ("Wait", "kind = \"wait\""), ("Results", "")];
    let g = game(dir.path(), "regroup", keys, &pages);
    let server = TestServer::start(&[g.to_str().expect("utf-8")], &dir.path().join("data")).await;
    let a = create(&server, "regroup", 6, json!({ "seed": 7 })).await;
    let b = create(&server, "regroup", 6, json!({ "seed": 7 })).await;
    let c = create(&server, "regroup", 6, json!({ "seed": 8 })).await;
    let code = |info: &Value| info["code"].as_str().expect("code").to_string();
    let (ga, gb, gc) = (
        groups_by_round(&export(&server, &code(&a)).await),
        groups_by_round(&export(&server, &code(&b)).await),
        groups_by_round(&export(&server, &code(&c)).await),
    );
    assert_eq!(ga.len(), 3);
    assert_eq!(ga, gb, "one seed, the same groups in every round");
    assert_ne!(ga, gc, "another seed, other groups");
    assert!(ga[1] != ga[0] || ga[2] != ga[0], "new groups across rounds: {ga:?}");
    // The admin's create form takes a seed too.
    let login = post_form(&server, "/admin/login", &format!("token={TOKEN}")).await;
    let cookie = login.header("set-cookie").split(';').next().expect("cookie").to_string();
    let form = [("cookie", cookie.as_str()), ("content-type", "application/x-www-form-urlencoded")];
    let created = request(&server, Method::POST, "/admin/sessions", &form, "game=regroup&participants=6&seed=7").await;
    assert_eq!(created.status, 303, "{}", created.body);
    let from_form = created.header("location").trim_start_matches("/admin/sessions/").to_string();
    assert_eq!(groups_by_round(&export(&server, &from_form).await), ga, "the form's seed 7 draws the API's groups");
    let bad = request(&server, Method::POST, "/admin/sessions", &form, "game=regroup&participants=6&seed=-1").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("The seed must be a whole number from 0 to 18446744073709551615, not &#x60;-1&#x60;."), "{}", bad.body);
    for round in &ga {
        let mut all: Vec<usize> = round.concat();
        all.sort_unstable();
        assert_eq!(all, (1..=6).collect::<Vec<_>>(), "each round seats everyone once: {round:?}");
    }

    // Session a, played round by round: everyone's seat is the round's, a wait page waits for
    // the round's group, and a bid lands in the round's group.
    let people = codes(&a);
    let session = code(&a);
    for round in 1..=3u32 {
        let seating = &ga[round as usize - 1];
        assert_eq!(seats(&server, &session).await, seats_in(seating, 6), "round {round}: each participant's seat");
        // Player 1 of each group bids its round number × 10 + its group.
        for (group, members) in seating.iter().enumerate() {
            let bidder = &people[members[0] - 1];
            let bid = round * 10 + group as u32 + 1;
            let frame = live_send(&server, bidder, "Bid", &format!("{{\"bid\": {bid}}}")).await;
            assert!(frame.to_string().contains(&bid.to_string()), "round {round}: {frame}");
        }
        // The first of each group leaves Bid: they wait for their partner of this round.
        for members in seating {
            assert_eq!(submit(&server, &people[members[0] - 1], "Bid", round).await.status, 303);
        }
        for members in seating {
            assert_eq!(
                position(&server, &people[members[0] - 1]).await,
                (round as u64, "Wait".to_string()),
                "round {round}: waiting for the partner"
            );
        }
        for members in seating {
            assert_eq!(submit(&server, &people[members[1] - 1], "Bid", round).await.status, 303);
        }
        for p in &people {
            assert_eq!(position(&server, p).await, (round as u64, "Results".to_string()), "round {round}: both there, the group went on");
            assert_eq!(submit(&server, p, "Results", round).await.status, 303);
        }
    }
    // The export names each round's groups with the bids made in them.
    let data = export(&server, &session).await;
    for (r, round) in data["rounds"].as_array().expect("rounds").iter().enumerate() {
        for (g, group) in round["groups"].as_array().expect("groups").iter().enumerate() {
            assert_eq!(group["fields"]["max_bid"], json!((r + 1) * 10 + g + 1), "round {} group {}: {group}", r + 1, g + 1);
        }
    }
    assert_eq!(groups_by_round(&data), ga, "the groups played are the ones drawn");
    let csv = get_admin(&server, &format!("/api/sessions/{session}/export?format=csv")).await.body;
    let row = |r: usize, g: usize, id: usize| format!("{session},{r},{g},{id},{}", people[ga[r - 1][g - 1][id - 1] - 1]);
    for r in 1..=3 {
        assert!(csv.contains(&row(r, 1, 1)) && csv.contains(&row(r, 3, 2)), "round {r} in the CSV:\n{csv}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_keep_id_draws_new_groups_but_keeps_each_players_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = "players_per_group = 2\nnum_rounds = 4\ngrouping = \"random-keep-id\"\n";
    let g = game(dir.path(), "keep-id", keys, &[("Bid", "")]);
    let server = TestServer::start(&[g.to_str().expect("utf-8")], &dir.path().join("data")).await;
    let info = create(&server, "keep-id", 8, json!({ "seed": 11 })).await;
    let rounds = groups_by_round(&export(&server, info["code"].as_str().expect("code")).await);
    for round in &rounds {
        for members in round {
            // Positions 1, 3, 5, 7 are player 1 of their fixed group; 2, 4, 6, 8 player 2.
            assert_eq!(members.iter().map(|p| (p - 1) % 2 + 1).collect::<Vec<_>>(), vec![1, 2], "{round:?}");
        }
    }
    assert!(rounds.iter().any(|r| *r != rounds[0]), "the groups change: {rounds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_wait_page_groups_by_arrival_time_and_a_latecomer_waits_for_the_next_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pages = [("Lobby", "kind = \"wait\"\ngroup_by_arrival_time = true"), ("Bid", "live = true")];
    let g = game(dir.path(), "arrivals", "players_per_group = 2\nnum_rounds = 1\n", &pages);
    let server = TestServer::start(&[g.to_str().expect("utf-8")], &dir.path().join("data")).await;
    let info = create(&server, "arrivals", 4, json!({})).await;
    let (session, people) = (info["code"].as_str().expect("code").to_string(), codes(&info));
    assert_eq!(seats(&server, &session).await, vec![(0, 0); 4], "nobody has a group before arriving");

    // Participant 3 arrives first, then 1: they are group 1, in that order.
    let lobby = get(&server, &format!("/p/{}", people[2])).await;
    assert_eq!(lobby.status, 200, "{}", lobby.body);
    assert_eq!(position(&server, &people[2]).await, (1, "Lobby".to_string()), "alone: waits");
    get(&server, &format!("/p/{}", people[0])).await;
    for p in [&people[2], &people[0]] {
        assert_eq!(position(&server, p).await, (1, "Bid".to_string()), "a group of two arrived");
    }
    // Participant 4 arrives and waits for a partner: the latecomer's group is the next one.
    get(&server, &format!("/p/{}", people[3])).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(position(&server, &people[3]).await, (1, "Lobby".to_string()));
    assert_eq!(seats(&server, &session).await, vec![(1, 2), (0, 0), (1, 1), (0, 0)]);
    let page = get(&server, &format!("/p/{}", people[2])).await.body;
    assert!(page.contains("Bid 1 group 1 player 1"), "{page}");
    get(&server, &format!("/p/{}", people[1])).await;
    assert_eq!(position(&server, &people[1]).await, (1, "Bid".to_string()));
    assert_eq!(seats(&server, &session).await, vec![(1, 2), (2, 2), (1, 1), (2, 1)]);
    assert_eq!(groups_by_round(&export(&server, &session).await), vec![vec![vec![3, 1], vec![4, 2]]]);
    // A bid in each group, and the session replays from its bundle, the groups formed again.
    for (p, bid) in [(&people[0], 5), (&people[3], 7)] {
        live_send(&server, p, "Bid", &format!("{{\"bid\": {bid}}}")).await;
    }
    let bundle = download_bundle(&server.addr.to_string(), &session, &dir.path().join("bundles")).await;
    let (code, out) = replay_bundle(&bundle);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_a_crash_left_ungrouped_are_grouped_when_the_server_starts_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pages = [("Lobby", "kind = \"wait\"\ngroup_by_arrival_time = true"), ("Bid", "")];
    let g = game(dir.path(), "arrivals", "players_per_group = 2\nnum_rounds = 1\n", &pages);
    let games = [g.to_str().expect("utf-8")];
    let data = dir.path().join("data");
    let server = TestServer::start(&games, &data).await;
    let people = codes(&create(&server, "arrivals", 2, json!({})).await);
    server.stop().await;
    // Both saw the Lobby, and the server went down before it grouped them.
    let store = eventually(Duration::from_secs(10), "the database", || async { stoa::Store::open(&data).ok() }).await;
    for code in &people {
        let mut p = store.participant(code).expect("read").expect("participant");
        p.page_viewed_ms = Some(stoa::store::now_ms());
        store.put_participant(&p).expect("write");
    }
    store.wait_durable().expect("durable");
    drop(store);
    let server = start_when_released(&games, &data).await;
    // No page is loaded: the start forms the group and moves it on.
    for code in &people {
        eventually(Duration::from_secs(10), "the group formed at start", || async { (stored_position(&server, code) == (1, 1)).then_some(()) }).await;
    }
    let p = server.state.store.participant(&people[1]).expect("read").expect("participant");
    assert_eq!((p.group, p.id_in_group), (1, 2));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_page_times_out_for_a_dropout_who_later_goes_on_alone_and_the_monitor_can_advance_a_waiting_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pages = [("Bid", ""), ("Wait", "kind = \"wait\"\ntimeout_seconds = 1"), ("Results", "")];
    let g = game(dir.path(), "dropout", "players_per_group = 3\nnum_rounds = 1\n", &pages);
    let pages = [("Bid", ""), ("Hold", "kind = \"wait\""), ("Results", "")];
    let h = game(dir.path(), "hold", "players_per_group = 2\nnum_rounds = 1\n", &pages);
    let server = TestServer::start(&[g.to_str().expect("utf-8"), h.to_str().expect("utf-8")], &dir.path().join("data")).await;
    let info = create(&server, "dropout", 3, json!({})).await;
    let (session, people) = (info["code"].as_str().expect("code").to_string(), codes(&info));
    for p in &people[..2] {
        assert_eq!(submit(&server, p, "Bid", 1).await.status, 303);
        assert_eq!(get(&server, &format!("/p/{p}")).await.status, 200, "the wait page seen: its clock starts");
    }
    assert_eq!(position(&server, &people[0]).await, (1, "Wait".to_string()));
    // The third never comes; a second later the two there go on.
    for p in &people[..2] {
        let at = || async { Some(position(&server, p).await).filter(|(_, page)| page == "Results") };
        eventually(Duration::from_secs(10), "the wait page to time out", at).await;
    }
    assert_eq!(position(&server, &people[2]).await, (1, "Bid".to_string()));
    // The dropout comes back: the wait page is over for their group, so they go on alone.
    assert_eq!(submit(&server, &people[2], "Bid", 1).await.status, 303);
    assert_eq!(position(&server, &people[2]).await, (1, "Results".to_string()));
    let times = export(&server, &session).await["page_times"].clone();
    let waited: Vec<(String, bool)> = times
        .as_array()
        .expect("page times")
        .iter()
        .filter(|t| t["page"] == "Wait")
        .map(|t| (t["participant"].as_str().expect("code").to_string(), t["timeout_happened"].as_bool().expect("bool")))
        .collect();
    let mut expected = vec![(people[0].clone(), true), (people[1].clone(), true), (people[2].clone(), false)];
    expected.sort();
    let mut waited = waited;
    waited.sort();
    assert_eq!(waited, expected, "{times}");

    // Without a timeout, the monitor's advance of a participant there does the same.
    let info = create(&server, "hold", 2, json!({})).await;
    let (session, people) = (info["code"].as_str().expect("code").to_string(), codes(&info));
    submit(&server, &people[0], "Bid", 1).await;
    let auth = format!("Bearer {TOKEN}");
    let advance = |body: Value| {
        let (server, auth, session) = (&server, auth.clone(), session.clone());
        async move {
            let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
            request(server, Method::POST, &format!("/api/sessions/{session}/advance"), &headers, &body.to_string()).await.json()
        }
    };
    assert_eq!(advance(json!({})).await["advanced"], json!([people[1]]), "the slowest is the one on Bid, never the one waiting");
    let info = create(&server, "hold", 2, json!({})).await;
    let (session2, people) = (info["code"].as_str().expect("code").to_string(), codes(&info));
    submit(&server, &people[0], "Bid", 1).await;
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let moved =
        request(&server, Method::POST, &format!("/api/sessions/{session2}/advance"), &headers, &json!({ "participants": [people[0]] }).to_string())
            .await;
    assert_eq!(moved.json()["advanced"], json!([people[0]]), "{}", moved.body);
    assert_eq!(position(&server, &people[0]).await, (1, "Results".to_string()));
    assert_eq!(position(&server, &people[1]).await, (1, "Bid".to_string()));
}

/// Copies the study-fields fixture into `dir` with `grouping = "random"`; its folder.
fn regrouped_study_fields(dir: &Path) -> PathBuf {
    let from = root().join("tests/fixtures/study-fields");
    let game = dir.join("study-fields-random");
    std::fs::create_dir_all(game.join("target")).expect("mkdir");
    std::fs::create_dir_all(game.join("templates")).expect("mkdir");
    let wasm = from.join("target/study-fields.wasm");
    std::fs::copy(&wasm, game.join("target/study-fields.wasm")).unwrap_or_else(|e| panic!("copy {} (run `make rust-games`): {e}", wasm.display()));
    for t in ["Play", "Next"] {
        std::fs::copy(from.join(format!("templates/{t}.hbs")), game.join(format!("templates/{t}.hbs"))).expect("copy template");
    }
    let manifest = std::fs::read_to_string(from.join("game.toml")).expect("manifest");
    let manifest = manifest.replace("name = \"study-fields\"", "name = \"study-fields-random\"\ngrouping = \"random\"");
    std::fs::write(game.join("game.toml"), manifest).expect("write game.toml");
    game
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_random_groups_participant_fields_follow_the_participant_creating_session_seats_each_round_and_the_bundle_replays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = regrouped_study_fields(dir.path());
    let server = TestServer::start(&[g.to_str().expect("utf-8")], &dir.path().join("data")).await;
    let info = create(&server, "study-fields-random", 6, json!({ "seed": 3 })).await;
    let (session, people) = (info["code"].as_str().expect("code").to_string(), codes(&info));
    let groups = groups_by_round(&export(&server, &session).await);
    assert!(groups[1] != groups[0] || groups[2] != groups[0], "{groups:?}");
    for round in 1..=3u64 {
        let seating = seats(&server, &session).await;
        for (i, p) in people.iter().enumerate() {
            let position = i as u64 + 1;
            let reply = live_send(&server, p, "Play", &format!("{{\"add\": {position}}}")).await["data"].clone();
            // The total is the participant's own, wherever they sat in the earlier rounds; the
            // role creating-session gave its position; the start value and the bonus, the seat
            // this round's groups give it.
            assert_eq!(reply["total"], json!(position * round), "round {round} participant {position}: {reply}");
            assert_eq!(reply["role"], json!(if position % 2 == 1 { "odd" } else { "even" }), "{reply}");
            assert_eq!(reply["start"], json!(round * 1000 + position), "{reply}");
            assert_eq!(reply["bonus"], json!(round * 100 + seating[i].0), "round {round} participant {position}: {reply}");
        }
        for p in &people {
            assert_eq!(submit(&server, p, "Play", round as u32).await.status, 303);
            assert_eq!(submit(&server, p, "Next", round as u32).await.status, 303);
        }
    }
    // The whole regrouped session replays from its bundle.
    let bundle = download_bundle(&server.addr.to_string(), &session, &dir.path().join("bundles")).await;
    let (code, out) = replay_bundle(&bundle);
    assert_eq!(code, 0, "{out}");
    // 3 creating-session calls, 18 live calls, 36 page submissions (before-next-page).
    assert!(out.contains("reproduced 57 calls exactly"), "{out}");
}
