//! A lab session end to end in headless Chromium, on a real server with the public goods game
//! (3 players, 3 rounds): the operator creates a room with seat labels on the admin pages;
//! three lab computers (three browsers, each its own profile) open their seat's link before
//! any session exists and wait; the operator opens a session in the room from the
//! create-session form with a completion URL ending in `=`; every waiting page moves on by
//! itself; each participant fills the contribution form in every round, waits on the wait
//! page until it moves on by itself, reads the results, and after round 3 lands on the
//! completion URL with its own label; the payments page lists each label with its money.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::browser::{screenshot, sign_in, wait_text, with_browsers};
use crate::server_support::eventually;
use crate::support::{TOKEN, TestServer};

/// The seats: each label's contribution in rounds 1, 2 and 3, then its points over the three
/// rounds and its money, as the payments page must show them. Every round's group total is
/// 100, so each share is 100 × 1.8 / 3 = 60 and a round's payoff is 100 − contribution + 60:
/// PC01 110 + 60 + 160, PC02 130 + 160 + 120, PC03 140 + 160 + 100; money = points × 0.01 + 5.
const SEATS: [(&str, [u32; 3], f64, f64); 3] =
    [("PC01", [50, 100, 0], 330.0, 8.3), ("PC02", [30, 0, 40], 410.0, 9.1), ("PC03", [20, 0, 60], 400.0, 9.0)];

/// The number `x` as the host's pages write it (serde_json's formatting: `110.0`, `8.3`).
fn shown(x: f64) -> String {
    json!(x).to_string()
}

/// A round's payoff of a player who contributed `mine` in a group that contributed `total`,
/// from the game's `[config]`.
fn payoff(config: &serde_json::Map<String, Value>, mine: u32, total: u32) -> f64 {
    let number = |key: &str| config[key].as_f64().unwrap_or_else(|| panic!("`{key}` in public-goods' [config]"));
    number("endowment") - f64::from(mine) + f64::from(total) * number("multiplier") / 3.0
}

/// The path of `b`'s current page.
async fn path(b: &Client) -> Option<String> {
    b.current_url().await.ok().map(|u| u.path().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_session_in_chromium_from_room_to_completion_url_and_payments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&["example-games/public-goods"], &dir.path().join("data")).await;
    let base = format!("http://{}", server.addr);

    // The expected points and money follow from game.toml's [config]; check that here, so a
    // changed config fails with the reason rather than as a mismatch on the page.
    let config = server.state.games["public-goods"].manifest.config.clone();
    let totals: Vec<u32> = (0..3).map(|r| SEATS.iter().map(|s| s.1[r]).sum()).collect();
    for (label, contributions, points, money) in SEATS {
        let computed: f64 = contributions.iter().zip(&totals).map(|(&c, &t)| payoff(&config, c, t)).sum();
        let rate = config["real_world_currency_per_point"].as_f64().expect("rate");
        let fee = config["participation_fee"].as_f64().expect("fee");
        assert_eq!((computed, ((computed * rate + fee) * 100.0).round() / 100.0), (points, money), "{label}");
    }

    let srv = &server;
    with_browsers(4, |clients| async move {
        let (admin, seats) = (&clients[0], &clients[1..]);

        // The operator: sign in, create the room with the seat labels pasted one per line.
        sign_in(admin, &base, TOKEN).await;
        admin.goto(&format!("{base}/admin/rooms")).await.expect("open Rooms");
        admin.find(Locator::Css("#create-room input[name=name]")).await.expect("name box").send_keys("lab").await.expect("type");
        admin.find(Locator::Css("#create-room input[name=display_name]")).await.expect("display name").send_keys("Lab").await.expect("type");
        let labels = SEATS.map(|s| s.0).join("\n");
        admin.find(Locator::Css("#create-room textarea[name=labels]")).await.expect("labels box").send_keys(&labels).await.expect("type");
        admin.find(Locator::Css("#create-room button[type=submit]")).await.expect("Create room").click().await.expect("click");
        wait_text(admin, "#room-session", "No session is open: arrivals wait. Open one from the create-session form (choose this room).").await;
        assert_eq!(path(admin).await.as_deref(), Some("/admin/rooms/lab"));
        // The room's page gives one link per seat: those go on the lab computers.
        let mut links = Vec::new();
        for a in admin.find_all(Locator::Css("#labels a")).await.expect("label links") {
            links.push(a.attr("href").await.expect("href").expect("a link"));
        }
        let expected: Vec<String> = SEATS.iter().map(|s| format!("{base}/room/lab?participant_label={}", s.0)).collect();
        assert_eq!(links, expected);

        // Each computer opens its link before any session exists: the waiting page.
        for (b, link) in seats.iter().zip(&links) {
            b.goto(link).await.expect("open the seat's link");
            let waiting = "Please wait: the session has not started yet. This page moves on by itself once it does.";
            wait_text(b, "#stoa-room-waiting", waiting).await;
        }
        screenshot(&seats[0], "lab-waiting").await;

        // The operator opens the session in the room, with a completion URL ending in `=`
        // (on this server, where it is a 404: the browser landing there is what counts).
        admin.goto(&format!("{base}/admin")).await.expect("open /admin");
        let form = "#create-session";
        admin.find(Locator::Css(&format!("{form} select[name=game]"))).await.expect("game").select_by_value("public-goods").await.expect("pick");
        let count = admin.find(Locator::Css(&format!("{form} input[name=participants]"))).await.expect("participants");
        count.clear().await.expect("clear");
        count.send_keys("3").await.expect("type");
        let params = json!({ "completion_url": format!("{base}/done?pid=") }).to_string();
        admin.find(Locator::Css(&format!("{form} input[name=params]"))).await.expect("params").send_keys(&params).await.expect("type");
        admin.find(Locator::Css("#session-room")).await.expect("room").select_by_value("lab").await.expect("pick the room");
        admin.find(Locator::Css(&format!("{form} button[type=submit]"))).await.expect("Create").click().await.expect("click");
        let code = eventually(Duration::from_secs(10), "the new session's page", || async {
            let p = path(admin).await?;
            p.strip_prefix("/admin/sessions/").filter(|c| !c.is_empty()).map(str::to_string)
        })
        .await;
        let session = srv.state.store.session(&code).expect("store").expect("the session");

        // Every waiting page moves on by itself to its participant's first page.
        let mut given = Vec::new();
        for b in seats {
            let p =
                eventually(Duration::from_secs(20), "the waiting page to move on", || async { path(b).await.filter(|p| p.starts_with("/p/")) }).await;
            wait_text(b, "h1", "Round 1 of 3: contribute").await;
            given.push(p.trim_start_matches("/p/").to_string());
        }
        let mut sorted = given.clone();
        sorted.sort();
        let mut participants = session.participants.clone();
        participants.sort();
        assert_eq!(sorted, participants, "each seat got one of the session's participants, no two the same");

        for round in 1..=3usize {
            // PC01, PC02, then PC03: the first two wait, the third completes the group.
            for (i, (b, seat)) in seats.iter().zip(SEATS).enumerate() {
                wait_text(b, "h1", &format!("Round {round} of 3: contribute")).await;
                let field = b.find(Locator::Css("#id_contribution")).await.expect("the contribution box");
                field.send_keys(&seat.1[round - 1].to_string()).await.expect("type");
                b.find(Locator::Css("#next")).await.expect("Next").click().await.expect("submit");
                if i < 2 {
                    wait_text(b, "#waiting", "Waiting for the other players to contribute.").await;
                }
            }
            // The wait pages move on by themselves; every results page shows its payoff.
            for (b, seat) in seats.iter().zip(SEATS) {
                wait_text(b, "h1", &format!("Results of round {round}")).await;
                wait_text(b, "#contribution", &seat.1[round - 1].to_string()).await;
                wait_text(b, "#total", &totals[round - 1].to_string()).await;
                wait_text(b, "#share", "60.0").await;
                wait_text(b, "#payoff", &shown(payoff(&config, seat.1[round - 1], totals[round - 1]))).await;
                let rows = b.find_all(Locator::Css("#history tbody tr")).await.expect("history");
                assert_eq!(rows.len(), round, "{}: the history lists every round so far", seat.0);
            }
            if round == 1 {
                screenshot(&seats[0], "lab-results").await;
            }
            for b in seats {
                b.find(Locator::Css("#next")).await.expect("Next").click().await.expect("submit Results");
            }
        }

        // After round 3, each computer lands on the completion URL with its own label.
        for (b, seat) in seats.iter().zip(SEATS) {
            let url = eventually(Duration::from_secs(20), "the completion URL", || async {
                let u = b.current_url().await.ok()?;
                (u.path() == "/done").then_some(u)
            })
            .await;
            assert!(url.as_str().ends_with(&format!("pid={}", seat.0)), "{}: {url}", seat.0);
            assert_eq!(url.as_str(), format!("{base}/done?pid={}", seat.0));
        }

        // The payments page: each label with its participant, points and money.
        admin.goto(&format!("{base}/admin/sessions/{code}/payments")).await.expect("open the payments");
        wait_text(admin, "h1", &format!("Payments of session {code}")).await;
        let mut rows = Vec::new();
        for tr in admin.find_all(Locator::Css("#payments tbody tr")).await.expect("rows") {
            let mut cells = Vec::new();
            for td in tr.find_all(Locator::Css("td")).await.expect("cells") {
                cells.push(td.text().await.expect("text").trim().to_string());
            }
            rows.push(cells);
        }
        rows.sort_by(|a, b| a[1].cmp(&b[1]));
        let expected: Vec<Vec<String>> = SEATS
            .iter()
            .zip(&given)
            .map(|((label, _, points, money), code)| vec![code.clone(), label.to_string(), shown(*points), shown(*money)])
            .collect();
        assert_eq!(rows, expected, "payments: [code, label, points, money]");
        screenshot(admin, "lab-payments").await;
    })
    .await;
    server.stop().await;
}
