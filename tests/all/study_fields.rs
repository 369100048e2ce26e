//! Contract 0.2's fields across a study, over real HTTP and WebSockets: `creating-session`
//! runs once per round when the session is made and writes the session's fields, each
//! participant's role and each group's and player's start values; a participant field is
//! kept across rounds (and across a SIGKILL); pages and both exports show them; writes only
//! creating-session may make are refused elsewhere; a failing creating-session makes no
//! session.

use serde_json::{Value, json};

use crate::server_support::{codes, get, get_admin, live_send, request, submit};
use crate::support::{TOKEN, TestServer};

const STUDY_FIELDS: &str = "tests/fixtures/study-fields";
const STUDY_FIELDS_PYTHON: &str = "tests/fixtures/study-fields-python";

/// `POST /api/sessions` with `body`: the answer.
async fn create(server: &TestServer, body: Value) -> crate::server_support::Answer {
    let auth = format!("Bearer {TOKEN}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    request(server, axum::http::Method::POST, "/api/sessions", &headers, &body.to_string()).await
}

async fn export(server: &TestServer, session: &str) -> Value {
    let a = get_admin(server, &format!("/api/sessions/{session}/export?format=json")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    serde_json::from_str(&a.body).expect("export is JSON")
}

/// Plays `code`'s round `round`: leaves the live page and the next one.
async fn finish_round(server: &TestServer, code: &str, round: u32) {
    for page in ["Play", "Next"] {
        let a = submit(server, code, page, round).await;
        assert!(a.status == 303 || a.status == 302, "{page} of round {round}: {} {}", a.status, a.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_session_writes_the_whole_study_and_participant_fields_last_across_rounds() {
    plays_the_study(STUDY_FIELDS, "study-fields", &[("session", "fields.session-set"), ("group_in", "fields.group-set-in")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_game_in_otrees_shape_reads_and_writes_the_same_fields() {
    plays_the_study(STUDY_FIELDS_PYTHON, "study-fields-python", &[("session", "fields.session-set")]).await;
}

/// The study of the game at `path` named `name`; `refusals`: the writes it tries in a live
/// call that the host must refuse, and the host function each names.
async fn plays_the_study(path: &str, name: &str, refusals: &[(&str, &str)]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[path], &dir.path().join("data")).await;
    let info = create(&server, json!({"game": name, "participants": 4})).await;
    assert_eq!(info.status, 201, "{}", info.body);
    let info = info.json();
    let (session, people) = (info["code"].as_str().expect("code").to_string(), codes(&info));

    // What creating-session wrote, before anyone played: in the export...
    let data = export(&server, &session).await;
    assert_eq!(data["session_fields"], json!({"made": "at creation", "participants": 4}));
    let group = |data: &Value, round: usize, g: usize| data["rounds"][round - 1]["groups"][g - 1].clone();
    assert_eq!(group(&data, 2, 2)["fields"]["bonus"], json!(202));
    assert_eq!(group(&data, 2, 2)["players"][0]["fields"]["start"], json!(2003), "round 2, position 3");
    assert_eq!(group(&data, 3, 1)["players"][1]["fields"]["start"], json!(3002));
    let roles: Vec<Value> = (1..=2)
        .flat_map(|g| (0..2).map(move |i| (g, i)))
        .map(|(g, i)| group(&data, 1, g)["players"][i]["participant_fields"]["role"].clone())
        .collect();
    assert_eq!(roles, [json!("odd"), json!("even"), json!("odd"), json!("even")]);
    let creations: Vec<&Value> = data["live_log"].as_array().expect("log").iter().filter(|g| g["group"] == 0).collect();
    assert_eq!(creations.len(), 3, "one creating-session entry per round: {:#}", data["live_log"]);
    assert_eq!(creations[0]["calls"][0]["writes"]["session"]["made"], json!("at creation"));
    // ...and on the page.
    let page = get(&server, &format!("/p/{}", people[1])).await;
    assert!(page.body.contains("role even, total 0, position 2"), "{}", page.body);
    assert!(page.body.contains("made at creation for 4, fail_in_round 0"), "{}", page.body);

    // A participant field is kept across rounds: 5 in round 1, +3 in round 2.
    let reply = live_send(&server, &people[2], "Play", r#"{"add": 5}"#).await;
    assert_eq!(reply["data"], json!({"total": 5, "role": "odd", "bonus": 102, "start": 1003, "made": "at creation"}), "{reply}");
    finish_round(&server, &people[2], 1).await;
    let reply = live_send(&server, &people[2], "Play", r#"{"add": 3}"#).await;
    assert_eq!(reply["data"], json!({"total": 8, "role": "odd", "bonus": 202, "start": 2003, "made": "at creation"}), "{reply}");
    let page = get(&server, &format!("/p/{}", people[2])).await;
    assert!(page.body.contains("role odd, total 8, position 3"), "{}", page.body);

    // The export shows each round's value: 5 after round 1, 8 from round 2 on.
    let data = export(&server, &session).await;
    let totals: Vec<Value> = (1..=3).map(|r| group(&data, r, 2)["players"][0]["participant_fields"]["total"].clone()).collect();
    assert_eq!(totals, [json!(5), json!(8), json!(8)]);
    assert_eq!(group(&data, 2, 2)["players"][1]["participant_fields"]["total"], json!(0), "position 4 never added");
    let csv = get_admin(&server, &format!("/api/sessions/{session}/export?format=csv")).await.body;
    let mut rows = csv.lines();
    let head: Vec<&str> = rows.next().expect("head").split(',').collect();
    for col in ["session.made", "session.participants", "participant.role", "participant.total"] {
        assert!(head.contains(&col), "{col} in {head:?}");
    }
    let at = |name: &str| head.iter().position(|h| *h == name).expect("column");
    let row: Vec<&str> = rows.find(|r| r.contains(&people[2]) && r.split(',').nth(1) == Some("2")).expect("round 2 row").split(',').collect();
    // A JSON string's quotes are doubled inside its quoted CSV field.
    assert_eq!((row[at("participant.total")], row[at("participant.role")], row[at("session.made")]), ("8", r#""""odd""""#, r#""""at creation""""#));

    // Writes only creating-session may make are refused in a live call, naming why.
    for &(what, host_function) in refusals {
        let reply = live_send(&server, &people[0], "Play", &json!({ "try": what }).to_string()).await;
        let refused = reply["data"]["refused"].as_str().unwrap_or_default().to_string();
        assert!(refused.contains(&format!("{host_function} is only available in creating-session")), "{what}: {reply}");
    }
    assert_eq!(export(&server, &session).await["session_fields"]["made"], json!("at creation"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creating_session_that_fails_in_any_round_makes_no_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[STUDY_FIELDS], &dir.path().join("data")).await;
    let before = server.state.store.sessions().expect("sessions").len();
    let a = create(&server, json!({"game": "study-fields", "participants": 4, "params": {"fail_in_round": 2}})).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("creating-session failed in round 2") && a.body.contains("asked to fail in round 2"), "{}", a.body);
    assert_eq!(server.state.store.sessions().expect("sessions").len(), before, "no session was stored");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participant_fields_written_by_live_calls_survive_a_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let games = crate::crash::games_folder(dir.path(), &[STUDY_FIELDS]);
    let data = dir.path().join("data");
    let server = crate::crash::spawn_logging_to(&games, &data, std::process::Stdio::null()).await;
    let auth = format!("Bearer {TOKEN}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let body = json!({"game": "study-fields", "participants": 2}).to_string();
    let info = crate::server_support::try_request_at(&server.addr, axum::http::Method::POST, "/api/sessions", &headers, &body).await.expect("answer");
    assert_eq!(info.status, 201, "{}", info.body);
    let code = codes(&info.json())[0].clone();
    let url = format!("ws://{}/live/{code}?page=Play", server.addr);
    let mut ws = tokio_tungstenite::connect_async(url).await.expect("connect").0;
    for n in 1..=20 {
        crate::ws::send(&mut ws, &json!({ "add": 1 }).to_string()).await;
        let frame = crate::ws::expect(&mut ws).await;
        assert_eq!(frame["data"]["total"], json!(n), "{frame}");
    }
    // Killed with the last writes acknowledged but (most likely) not yet written back to sled.
    let mut server = server;
    server.child.kill().expect("kill");
    server.child.wait().expect("wait");
    let store = stoa::Store::open(&data).expect("reopen");
    let game = crate::support::game(STUDY_FIELDS);
    let p = store.participant(&code).expect("store").expect("participant");
    let fields = store.participant_fields(&game.manifest, &p.group_key(), 2, p.id_in_group).expect("fields");
    assert_eq!(fields["total"], json!(20), "every acknowledged add is kept");
    assert_eq!(fields["role"], json!("odd"), "creating-session's value too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_timeout_seconds_ends_a_page_the_manifest_gives_no_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[STUDY_FIELDS], &dir.path().join("data")).await;
    let timed = create(&server, json!({"game": "study-fields", "participants": 2, "params": {"timed_seconds": 1.5}})).await;
    let untimed = create(&server, json!({"game": "study-fields", "participants": 2})).await;
    let (timed, untimed) = (codes(&timed.json())[0].clone(), codes(&untimed.json())[0].clone());
    for code in [&timed, &untimed] {
        let a = submit(&server, code, "Play", 1).await;
        assert!(a.status == 303 || a.status == 302, "{} {}", a.status, a.body);
        let page = get(&server, &format!("/p/{code}")).await;
        assert!(page.body.contains("Round 1 done"), "{}", page.body);
        assert_eq!(page.body.contains("id=\"stoa-timer\""), *code == timed, "only the timed page counts down: {}", page.body);
    }
    let position = |code: &str| {
        let p = server.state.store.participant(code).expect("store").expect("participant");
        (p.round, p.page_index)
    };
    crate::server_support::eventually(std::time::Duration::from_secs(5), "the game's timeout", || async {
        (position(&timed) == (2, 0)).then_some(())
    })
    .await;
    assert_eq!(position(&untimed), (1, 1), "no timeout from the game, none in the manifest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calls_clock_is_the_time_its_log_entry_records_and_its_random_is_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[STUDY_FIELDS], &dir.path().join("data")).await;
    let info = create(&server, json!({"game": "study-fields", "participants": 2})).await.json();
    let code = codes(&info)[0].clone();
    let mut replies = Vec::new();
    for _ in 0..3 {
        replies.push(live_send(&server, &code, "Play", r#"{"try": "clock"}"#).await["data"].clone());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let p = server.state.store.participant(&code).expect("store").expect("participant");
    let calls: Vec<_> = server.state.store.calls(&p.group_key()).expect("calls").into_iter().filter(|c| c.payload.get().contains("clock")).collect();
    assert_eq!(calls.len(), 3);
    for (reply, call) in replies.iter().zip(&calls) {
        assert_eq!(reply["now_ms"], json!(call.time_ms), "the game's clock is the entry's time: {reply}");
        assert_eq!(reply["later_ms"], reply["now_ms"], "the clock stands still for the whole call (a 30 ms sleep inside it): {reply}");
    }
    // Each call draws at its own position: three calls, three different draws.
    let draws: std::collections::BTreeSet<String> = replies.iter().map(|r| r["random"].as_str().expect("draw").to_string()).collect();
    assert_eq!(draws.len(), 3, "{replies:?}");
    server.stop().await;
}
