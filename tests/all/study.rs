//! A whole study over real HTTP (contract 0.2): the public goods game's contribution form is
//! checked by the host (a bad value is refused beside its field, nothing stored), accepted
//! values are stored with `before-next-page`, the wait page's `after-all-players-arrive`
//! computes payoffs once per group, rounds follow, and a treatment changes the result.

use serde_json::{Value, json};

use crate::server_support::{codes, get, post_form};
use crate::support::TestServer;

const PUBLIC_GOODS: &str = "example-games/public-goods";
const PUBLIC_GOODS_PYTHON: &str = "example-games/public-goods-python";

/// Submits `page` of `round` for `code` with form `values` (`a=1&b=2`).
async fn send_form(server: &TestServer, code: &str, page: &str, round: u32, values: &str) -> crate::server_support::Answer {
    let sep = if values.is_empty() { "" } else { "&" };
    post_form(server, &format!("/p/{code}"), &format!("stoa_page={page}&stoa_round={round}{sep}{values}")).await
}

fn player_field(server: &TestServer, code: &str, round: u32, name: &str) -> Value {
    let p = server.state.store.participant(code).expect("store").expect("participant");
    let session = server.state.store.session(&p.session).expect("store").expect("session");
    let game = server.state.games[&session.game].clone();
    let key = stoa::GroupKey { round, ..p.group_key() };
    server.state.store.player_fields(&game.manifest, &key, p.id_in_group).expect("fields")[name].clone()
}

/// The hooks in the log of `code`'s group in `round`, by name.
fn hooks(server: &TestServer, code: &str, round: u32) -> Vec<String> {
    let p = server.state.store.participant(code).expect("store").expect("participant");
    let key = stoa::GroupKey { round, ..p.group_key() };
    let calls = server.state.store.calls(&key).expect("calls");
    calls
        .iter()
        .filter(|c| c.error.is_none())
        .filter_map(|c| serde_json::from_str::<Value>(c.payload.get()).ok()?["hook"].as_str().map(str::to_string))
        .collect()
}

async fn session(server: &TestServer, body: Value) -> Vec<String> {
    let auth = format!("Bearer {}", crate::support::TOKEN);
    let a = crate::server_support::request(
        server,
        axum::http::Method::POST,
        "/api/sessions",
        &[("authorization", &auth), ("content-type", "application/json")],
        &body.to_string(),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    codes(&a.json())
}

/// Plays one round: each player contributes, everyone waits, the results page is checked.
async fn play_round(server: &TestServer, people: &[String], round: u32, contributions: [i64; 3]) {
    for (code, c) in people.iter().zip(contributions) {
        let a = send_form(server, code, "Contribute", round, &format!("contribution={c}")).await;
        assert!(a.status == 303 || a.status == 302, "round {round}: {} {}", a.status, a.body);
    }
    // A reload of every page after the group is complete: the hook has run once.
    for code in people {
        let page = get(server, &format!("/p/{code}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(&format!("Results of round {round}")), "{}", page.body);
    }
    assert_eq!(hooks(server, &people[0], round).iter().filter(|h| *h == "after-all-players-arrive").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_goods_session_checks_its_form_computes_payoffs_and_follows_its_treatment() {
    plays_public_goods(PUBLIC_GOODS, "public-goods").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_public_goods_game_in_otrees_shape_plays_the_same_study() {
    plays_public_goods(PUBLIC_GOODS_PYTHON, "public-goods-python").await;
}

/// The public goods study over HTTP, for the game at `path` named `name`.
async fn plays_public_goods(path: &str, name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[path], &dir.path().join("data")).await;
    let people = session(&server, json!({"game": name, "participants": 3})).await;

    // The form, rendered by the host from the field's attributes.
    let page = get(&server, &format!("/p/{}", people[0])).await;
    assert!(
        page.body.contains(r#"<input type="number" step="1" name="contribution" id="id_contribution" value="" min="0" max="100" required>"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("How much will you contribute (0 to 100)?"), "{}", page.body);

    // Over the maximum: the page again, the reason beside the field, nothing stored.
    for bad in ["150", "-5", "ten", ""] {
        let a = send_form(&server, &people[0], "Contribute", 1, &format!("contribution={bad}")).await;
        assert_eq!(a.status, 200, "{bad}: the page is shown again");
        assert!(a.body.contains(r#"<span class="stoa-error" id="error_contribution">"#), "{bad}: {}", a.body);
        assert!(a.body.contains(&format!(r#"value="{bad}""#)), "{bad}: what was typed is kept: {}", a.body);
    }
    let a = send_form(&server, &people[0], "Contribute", 1, "contribution=150").await;
    assert!(a.body.contains("Enter a value of at most 100."), "{}", a.body);
    assert_eq!(player_field(&server, &people[0], 1, "contribution"), Value::Null, "a refused value is not stored");
    assert!(hooks(&server, &people[0], 1).is_empty(), "the game was not called");

    // Round 1: 50 + 30 + 20 = 100, × 1.8 / 3 = 60 each.
    play_round(&server, &people, 1, [50, 30, 20]).await;
    assert_eq!(player_field(&server, &people[0], 1, "contribution"), json!(50));
    let payoffs: Vec<Value> = people.iter().map(|c| player_field(&server, c, 1, "payoff")).collect();
    assert_eq!(payoffs, [json!(110.0), json!(130.0), json!(140.0)]);
    assert_eq!(hooks(&server, &people[0], 1).iter().filter(|h| *h == "before-next-page").count(), 3);
    let results = get(&server, &format!("/p/{}", people[0])).await;
    assert!(results.body.contains(r#"<strong id="payoff">110.0</strong>"#), "{}", results.body);

    // Round 2, reached from the results page; its results list round 1 too.
    for code in &people {
        let a = send_form(&server, code, "Results", 1, "").await;
        assert!(a.status == 303 || a.status == 302, "{} {}", a.status, a.body);
    }
    play_round(&server, &people, 2, [100, 0, 0]).await;
    let results = get(&server, &format!("/p/{}", people[1])).await;
    assert!(results.body.contains("<tr><td>1</td><td>30</td><td>100</td><td>130.0</td></tr>"), "{}", results.body);
    assert_eq!(player_field(&server, &people[1], 2, "payoff"), json!(160.0), "100 × 1.8 / 3 = 60, plus the 100 kept");

    // Payments: round 1 and 2 payoffs (round 3 not played: 0), × 0.01 + a fee of 5.
    let code = server.state.store.participant(&people[0]).expect("store").expect("p").session;
    let pay = crate::server_support::get_admin(&server, &format!("/api/sessions/{code}/payments")).await;
    assert_eq!(pay.status, 200, "{}", pay.body);
    let pay = pay.json();
    let rows: Vec<(Value, Value)> = pay["participants"].as_array().expect("rows").iter().map(|p| (p["points"].clone(), p["money"].clone())).collect();
    assert_eq!(rows, [(json!(170.0), json!(6.7)), (json!(290.0), json!(7.9)), (json!(300.0), json!(8.0))]);
    let page = crate::server_support::get_admin(&server, &format!("/admin/sessions/{code}/payments")).await;
    assert!(
        page.body.contains(&format!(
            "<tr><td><code>{}</code></td><td class=\"label\"></td><td class=\"num\">170.0</td><td class=\"num\">6.7</td></tr>",
            people[0]
        )),
        "{}",
        page.body
    );
    let export = crate::server_support::get_admin(&server, &format!("/api/sessions/{code}/export?format=json")).await;
    let export: Value = serde_json::from_str(&export.body).expect("json");
    assert_eq!(export["payments"], pay["participants"]);

    // The treatment `high` multiplies by 2.4: 100 × 2.4 / 3 = 80 each.
    let high = session(&server, json!({"game": name, "participants": 3, "config": "high"})).await;
    play_round(&server, &high, 1, [50, 30, 20]).await;
    let payoffs: Vec<Value> = high.iter().map(|c| player_field(&server, c, 1, "payoff")).collect();
    assert_eq!(payoffs, [json!(130.0), json!(150.0), json!(160.0)]);
    server.stop().await;
}

/// A form post to the server at `addr`; `None` when it did not answer (killed meanwhile).
async fn post_at(addr: &str, code: &str, page: &str, round: u32, values: &str) -> Option<crate::server_support::Answer> {
    let body = format!("stoa_page={page}&stoa_round={round}&{values}");
    let form = [("content-type", "application/x-www-form-urlencoded")];
    crate::server_support::try_request_at(addr, axum::http::Method::POST, &format!("/p/{code}"), &form, &body).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_all_players_arrive_runs_once_per_group_across_a_sigkill_at_the_last_arrival() {
    let dir = tempfile::tempdir().expect("tempdir");
    let games = crate::crash::games_folder(dir.path(), &[PUBLIC_GOODS]);
    let data = dir.path().join("data");
    let game = crate::support::game(PUBLIC_GOODS);
    const GROUPS: usize = 16;
    let people = {
        let store = stoa::Store::open(&data).expect("store");
        let (session, _) = store.create_session(&game.manifest, 3 * GROUPS as u32).expect("session");
        store.wait_durable().expect("flush");
        session.participants
    };
    let log = std::fs::File::create(dir.path().join("serve.log")).expect("log");
    let mut server = crate::crash::spawn_logging_to(&games, &data, log.try_clone().expect("log")).await;
    for (g, members) in people.chunks(3).enumerate() {
        for code in &members[..2] {
            let a = post_at(&server.addr, code, "Contribute", 1, "contribution=10").await.expect("answered");
            assert!(a.status == 303 || a.status == 302, "{} {}", a.status, a.body);
        }
        // The last arrival, and a SIGKILL a few milliseconds into it (0 to 14 ms: before,
        // during or after the hook's commit), then a restart on the same data.
        let (addr, last) = (server.addr.clone(), members[2].clone());
        let arrival = tokio::spawn(async move { post_at(&addr, &last, "Contribute", 1, "contribution=40").await });
        tokio::time::sleep(std::time::Duration::from_millis(g as u64 % 15)).await;
        server.child.kill().expect("kill");
        server.child.wait().expect("wait");
        let _ = arrival.await;
        server = crate::crash::spawn_logging_to(&games, &data, log.try_clone().expect("log")).await;
        // The last player sends again if the first send was lost; then everyone loads a page.
        let _ = post_at(&server.addr, &members[2], "Contribute", 1, "contribution=40").await;
        for code in members {
            let page =
                crate::server_support::try_request_at(&server.addr, axum::http::Method::GET, &format!("/p/{code}"), &[], "").await.expect("page");
            assert!(page.body.contains("Results of round 1"), "group {}: {}", g + 1, page.body);
        }
    }
    server.child.kill().expect("kill");
    server.child.wait().expect("wait");
    let store = stoa::Store::open(&data).expect("reopen");
    for (g, members) in people.chunks(3).enumerate() {
        let p = store.participant(&members[0]).expect("store").expect("participant");
        let calls = store.calls(&p.group_key()).expect("calls");
        let arrive = calls.iter().filter(|c| c.error.is_none() && c.payload.get().contains("after-all-players-arrive")).count();
        assert_eq!(arrive, 1, "group {}: after-all-players-arrive committed {arrive} times", g + 1);
        let fields = store.group_fields(&game.manifest, &p.group_key()).expect("fields");
        assert_eq!(fields["total_contribution"], json!(60), "group {}", g + 1);
    }
}

#[test]
fn the_public_goods_bots_pass_with_a_must_fail_submission_and_compute_payoffs() {
    bots_pass(PUBLIC_GOODS);
}

#[test]
fn the_python_public_goods_bots_pass_too() {
    bots_pass(PUBLIC_GOODS_PYTHON);
}

fn bots_pass(path: &str) {
    let g = crate::support::game(path);
    let store = stoa::Store::temporary().expect("store");
    let report = stoa::bots::run(&g, &store, 6, None, 2).expect("run");
    assert!(report.passed, "{:?}\n{}", report.failures(), stoa::bots::describe(&report));
    // Every round: 3 × 50 = 150, × 1.8 / 3 = 90 each, + the 50 kept.
    assert_eq!(report.groups.len(), 6, "2 groups × 3 rounds");
    for group in &report.groups {
        assert_eq!(group.group_fields["total_contribution"], json!(150), "round {} group {}", group.round, group.group);
        assert_eq!(group.player_fields[&1]["payoff"], json!(140.0));
    }
}

#[test]
fn a_bot_whose_must_fail_submission_is_accepted_fails_naming_it() {
    // The public goods game with a maximum of 200: its must-fail contribution of 101 is accepted.
    let dir = tempfile::tempdir().expect("tempdir");
    let src = crate::support::root().join(PUBLIC_GOODS);
    for sub in ["target", "templates"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
    }
    for f in ["target/public-goods.wasm", "templates/Contribute.hbs", "templates/ResultsWait.hbs", "templates/Results.hbs"] {
        std::fs::copy(src.join(f), dir.path().join(f)).expect("copy");
    }
    let manifest = std::fs::read_to_string(src.join("game.toml")).expect("manifest").replace("max = 100", "max = 200");
    std::fs::write(dir.path().join("game.toml"), manifest).expect("write");
    let g = stoa::Game::load(crate::support::runtime(), dir.path()).expect("load");
    let report = stoa::bots::run(&g, &stoa::Store::temporary().expect("store"), 3, None, 1).expect("run");
    assert!(!report.passed);
    let failures = report.failures().join("\n");
    assert!(failures.contains("page `Contribute`") && failures.contains("must-fail submission {\"contribution\":101} was accepted"), "{failures}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_participant_fills_the_form_corrects_an_error_waits_and_sees_the_payoff() {
    use fantoccini::Locator;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[PUBLIC_GOODS], &dir.path().join("data")).await;
    let people = session(&server, json!({"game": "public-goods", "participants": 3})).await;
    let (base, me) = (format!("http://{}", server.addr), people[0].clone());
    let others = people[1..].to_vec();
    let addr = server.addr.to_string();
    crate::browser::with_browser(|b| async move {
        b.goto(&format!("{base}/p/{me}")).await.expect("open the link");
        let field = b.find(Locator::Css("#id_contribution")).await.expect("the contribution input");
        field.send_keys("150").await.expect("type");
        b.find(Locator::Css("#next")).await.expect("Next").click().await.expect("submit");
        crate::browser::wait_text(&b, "#error_contribution", "Enter a value of at most 100.").await;
        crate::browser::screenshot(&b, "public-goods-error").await;
        let field = b.find(Locator::Css("#id_contribution")).await.expect("the input again");
        field.clear().await.expect("clear");
        field.send_keys("50").await.expect("type");
        b.find(Locator::Css("#next")).await.expect("Next").click().await.expect("submit");
        // The wait page, until the others contribute; it moves on by itself.
        crate::browser::wait_text(&b, "#waiting", "Waiting for the other players to contribute.").await;
        for (code, c) in others.iter().zip([30, 20]) {
            let a = post_at(&addr, code, "Contribute", 1, &format!("contribution={c}")).await.expect("answered");
            assert!(a.status == 303 || a.status == 302, "{} {}", a.status, a.body);
        }
        crate::browser::wait_text(&b, "#payoff", "110.0").await;
        crate::browser::wait_text(&b, "#total", "100").await;
        crate::browser::screenshot(&b, "public-goods-results").await;
    })
    .await;
    server.stop().await;
}

const SURVEY_JS: &str = "example-games/survey-js";

#[test]
fn the_js_survey_bots_pass_with_three_must_fail_submissions() {
    let g = crate::support::game(SURVEY_JS);
    let report = stoa::bots::run(&g, &stoa::Store::temporary().expect("store"), 1, None, 1).expect("run");
    assert!(report.passed, "{:?}\n{}", report.failures(), stoa::bots::describe(&report));
    assert_eq!(report.groups[0].player_fields[&1]["summary"], json!("30, economics, satisfaction 4, student"));
    assert_eq!(report.groups[0].player_fields[&1]["comments"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_js_survey_checks_each_field_type_and_stores_typed_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&[SURVEY_JS], &dir.path().join("data")).await;
    let code = session(&server, json!({"game": "survey-js", "participants": 1})).await.remove(0);
    let page = get(&server, &format!("/p/{code}")).await;
    for shown in [
        r#"<select name="field_of_study" id="id_field_of_study" required><option value="">---------</option><option value="economics">economics</option>"#,
        r#"<input type="radio" name="satisfaction" id="id_satisfaction_4" value="5" required> 5</label>"#,
        r#"<option value="true">Yes</option><option value="false">No</option>"#,
        r#"<input type="text" name="comments" id="id_comments" value="">"#,
    ] {
        assert!(page.body.contains(shown), "{shown}\n{}", page.body);
    }
    // Each kind of bad value gets its own reason; nothing is stored.
    let a = send_form(&server, &code, "Survey", 1, "age=12&field_of_study=art&satisfaction=9&student=perhaps&comments=").await;
    for (field, why) in [
        ("age", "Enter a value of at least 18."),
        ("field_of_study", "Choose one of the choices."),
        ("satisfaction", "Choose one of the choices."),
        ("student", "Choose yes or no."),
    ] {
        assert!(a.body.contains(&format!(r#"<span class="stoa-error" id="error_{field}">{why}</span>"#)), "{field}: {}", a.body);
    }
    assert!(!a.body.contains(r#"id="error_comments""#), "comments may be blank");
    // The game's own rule across fields, on typed values.
    let a = send_form(&server, &code, "Survey", 1, "age=95&field_of_study=economics&satisfaction=3&student=true&comments=").await;
    assert!(a.body.contains("Students here are under 90."), "{}", a.body);
    assert_eq!(player_field(&server, &code, 1, "age"), Value::Null);
    let a = send_form(&server, &code, "Survey", 1, "age=30&field_of_study=psychology&satisfaction=5&student=false&comments=fine").await;
    assert!(a.status == 303 || a.status == 302, "{} {}", a.status, a.body);
    for (field, value) in [
        ("age", json!(30)),
        ("field_of_study", json!("psychology")),
        ("satisfaction", json!(5)),
        ("student", json!(false)),
        ("comments", json!("fine")),
    ] {
        assert_eq!(player_field(&server, &code, 1, field), value, "{field}");
    }
    let thanks = get(&server, &format!("/p/{code}")).await;
    assert!(thanks.body.contains(r#"<p id="summary">30, psychology, satisfaction 5</p>"#), "{}", thanks.body);
    server.stop().await;
}
