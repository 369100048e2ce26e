//! The session API and the admin pages over real HTTP: authentication, creating and reading
//! sessions, and the JSON and CSV exports after live calls through real WebSockets.

use axum::http::Method;
use serde_json::json;

use crate::server_support::{codes, create_session, get, get_admin, live_send, post_form, request, submit};
use crate::support::{TOKEN, TestServer};

const AUCTION: &str = "example-games/auction";

async fn auction_server(dir: &tempfile::TempDir) -> TestServer {
    TestServer::start(&[AUCTION], &dir.path().join("data")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_refuses_a_missing_or_wrong_token_with_401_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = auction_server(&dir).await;
    let code = create_session(&server, "auction", 3).await["code"].as_str().expect("code").to_string();
    let routes = [
        (Method::POST, "/api/sessions".to_string()),
        (Method::GET, "/api/sessions".to_string()),
        (Method::GET, format!("/api/sessions/{code}")),
        (Method::GET, format!("/api/sessions/{code}/export?format=json")),
        (Method::GET, format!("/api/sessions/{code}/export?format=csv")),
    ];
    let body = r#"{"game": "auction", "participants": 3}"#;
    for (method, path) in &routes {
        for auth in [None, Some("Bearer wrong-token"), Some("Bearer test-admin-token-and-more"), Some(TOKEN)] {
            let headers: Vec<(&str, &str)> = auth.map(|a| vec![("authorization", a)]).unwrap_or_default();
            let a = request(&server, method.clone(), path, &headers, body).await;
            assert_eq!(a.status, 401, "{method} {path} with {auth:?}: {}", a.body);
            assert!(a.json()["error"].as_str().is_some_and(|e| e.contains("token")), "{}", a.body);
        }
    }
    assert_eq!(server.state.store.sessions().expect("sessions").len(), 1, "no refused request created a session");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_session_has_n_participants_with_unguessable_codes_and_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = auction_server(&dir).await;
    let info = create_session(&server, "auction", 6).await;
    assert_eq!(info["game"], "auction");
    let people = info["participants"].as_array().expect("participants");
    assert_eq!(people.len(), 6);
    let mut seen = std::collections::HashSet::new();
    for (i, p) in people.iter().enumerate() {
        let code = p["code"].as_str().expect("code");
        assert_eq!(code.len(), 16, "{code}");
        assert!(code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{code}");
        assert!(seen.insert(code.to_string()), "codes are distinct");
        assert_eq!(p["url"], format!("/p/{code}"));
        assert_eq!((p["group"].as_u64(), p["id_in_group"].as_u64()), (Some(i as u64 / 3 + 1), Some(i as u64 % 3 + 1)));
        assert_eq!((p["page"].as_str(), p["round"].as_u64()), (Some("Bid"), Some(1)));
    }
    let code = info["code"].as_str().expect("code");
    submit(&server, &codes(&info)[0], "Bid", 1).await;
    let back = get_admin(&server, &format!("/api/sessions/{code}")).await;
    assert_eq!(back.status, 200);
    let back = back.json();
    assert_eq!(back["participants"][0]["page"], "Results", "the info shows where each participant is");
    assert_eq!(back["participants"][1]["page"], "Bid");
    assert_eq!(back["participants"][0]["live"]["connected"], 0);
    let list = get_admin(&server, "/api/sessions").await.json();
    assert_eq!(list["sessions"], json!([{ "code": code, "game": "auction", "participants": 6, "created_ms": info["created_ms"] }]));
    assert_eq!(get_admin(&server, "/api/sessions/nosuchsession").await.status, 404);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_session_requests_are_400_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = auction_server(&dir).await;
    let auth = format!("Bearer {TOKEN}");
    let cases = [
        ("not json", "expected {\"game\""),
        (r#"{"game": "chess", "participants": 3}"#, "unknown game `chess`"),
        (r#"{"game": "auction", "participants": 4}"#, "multiple of 3"),
        (r#"{"game": "auction", "participants": 0}"#, "multiple of 3"),
        (r#"{"game": "auction", "participants": -3}"#, "participants"),
        (r#"{"game": "auction"}"#, "participants"),
    ];
    for (body, expected) in cases {
        let a = request(&server, Method::POST, "/api/sessions", &[("authorization", &auth)], body).await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        let error = a.json()["error"].as_str().expect("error text").to_string();
        assert!(error.contains(expected), "{body}: {error}");
    }
    let a = get_admin(&server, "/api/sessions/x/export?format=xml").await;
    assert_eq!(a.status, 404, "unknown session first: {}", a.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exports_hold_the_fields_and_the_live_log_after_live_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = auction_server(&dir).await;
    let info = create_session(&server, "auction", 3).await;
    let code = info["code"].as_str().expect("code");
    let people = codes(&info);
    assert_eq!(live_send(&server, &people[0], "Bid", r#"{"bid": 10}"#).await["seq"], 1);
    assert_eq!(live_send(&server, &people[1], "Bid", r#"{"bid": 25}"#).await["seq"], 2);
    assert_eq!(live_send(&server, &people[2], "Bid", "7").await["data"]["type"], "rejected");

    let a = get_admin(&server, &format!("/api/sessions/{code}/export?format=json")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let doc = a.json();
    assert_eq!((doc["session"].as_str(), doc["game"].as_str()), (Some(code), Some("auction")));
    let group = &doc["rounds"][0]["groups"][0];
    assert_eq!(group["fields"]["max_bid"], 25);
    assert_eq!(group["fields"]["highest_bidder"], 2);
    assert_eq!(
        group["players"][2],
        json!({"id_in_group": 3, "participant": people[2], "label": null, "fields": {"bids": 1, "payoff": 0}, "participant_fields": {}}),
        "every game has the built-in payoff"
    );
    // The log starts with round 1's creating-session (group 0), then group 1's calls.
    assert_eq!(doc["live_log"][0]["group"], json!(0));
    let log = &doc["live_log"][1];
    assert_eq!((log["round"].as_u64(), log["group"].as_u64()), (Some(1), Some(1)));
    assert_eq!(log["calls"].as_array().map(Vec::len), Some(3));
    assert_eq!(log["calls"][1]["payload"], json!({"bid": 25}));
    assert_eq!(log["messages"][2], json!({"seq": 3, "to": 3, "payload": {"type": "rejected", "max_bid": 25, "bid": 7}}));

    let csv = get_admin(&server, &format!("/api/sessions/{code}/export?format=csv")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").starts_with("text/csv"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "session,round,group,id_in_group,participant,participant.label,group.highest_bidder,group.max_bid,player.bids,player.payoff"
    );
    assert_eq!(lines.len(), 4, "one row per player: {}", csv.body);
    assert_eq!(lines[2], format!("{code},1,1,2,{},,2,25,1,0", people[1]));

    let log = get_admin(&server, &format!("/api/sessions/{code}/export?format=csv&table=log")).await;
    let rows: Vec<&str> = log.body.lines().collect();
    assert_eq!(rows[0], "round,group,call,time_ms,page,sender,payload,seqs,error");
    assert_eq!(rows.len(), 5, "{}", log.body);
    assert!(rows[1].starts_with("1,0,1,") && rows[1].contains("creating-session"), "{}", rows[1]);
    assert!(rows[2].starts_with("1,1,1,") && rows[2].ends_with(r#",Bid,1,"{""bid"": 10}",1-1,"#), "{}", rows[2]);
    assert!(rows[4].ends_with(",Bid,3,7,3-3,"), "{}", rows[4]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_site_cannot_sign_a_browser_in_as_someone_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = auction_server(&dir).await;
    let host = server.addr.to_string();
    let body = format!("token={TOKEN}");
    let form = "application/x-www-form-urlencoded";
    for (what, headers) in [
        ("Sec-Fetch-Site cross-site", vec![("content-type", form), ("sec-fetch-site", "cross-site")]),
        ("Sec-Fetch-Site same-site", vec![("content-type", form), ("sec-fetch-site", "same-site")]),
        ("Origin of another site", vec![("content-type", form), ("origin", "http://evil.example")]),
        ("Referer of another site", vec![("content-type", form), ("referer", "http://evil.example/attack.html")]),
    ] {
        let refused = request(&server, Method::POST, "/admin/login", &headers, &body).await;
        assert_eq!(refused.status, 403, "{what}: {}", refused.body);
        assert_eq!(refused.header("set-cookie"), "", "{what} set a cookie");
        assert!(refused.body.contains("sent from another site"), "{what}: {}", refused.body);
    }
    // This site's own page (the link's button) signs in.
    let referer = format!("http://{host}/admin?token={TOKEN}");
    let ours = request(&server, Method::POST, "/admin/login", &[("content-type", form), ("referer", &referer)], &body).await;
    assert_eq!(ours.status, 303, "{}", ours.body);
    assert!(ours.header("set-cookie").starts_with("stoa_admin="));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_secure_when_the_server_is_told_it_is_behind_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = stoa::server::ServerConfig { secure_cookies: true, ..Default::default() };
    let server = TestServer::start_with(&["example-games/auction"], &dir.path().join("data"), config).await;
    let login = post_form(&server, "/admin/login", &format!("token={TOKEN}")).await;
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login.header("set-cookie");
    assert!(cookie.ends_with("; Secure") && cookie.contains("Max-Age=43200"), "{cookie}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pages_need_the_cookie_that_the_token_link_sets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = auction_server(&dir).await;
    let a = get(&server, "/admin").await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("name=\"token\""), "the 401 page asks for the token: {}", a.body);
    assert_eq!(get(&server, "/admin?token=wrong").await.status, 401);
    // The link shows a button posting the token; it sets no cookie itself.
    let link = get(&server, &format!("/admin?token={TOKEN}")).await;
    assert_eq!(link.status, 200, "{}", link.body);
    assert_eq!(link.header("set-cookie"), "", "the link alone signs nobody in");
    assert!(link.body.contains(r#"action="/admin/login""#) && link.body.contains(&format!(r#"value="{TOKEN}""#)), "{}", link.body);
    assert_eq!(link.header("x-frame-options"), "DENY", "no other site frames the button");
    let host = server.addr.to_string();
    let origin = format!("http://{host}");
    let form = [("content-type", "application/x-www-form-urlencoded"), ("origin", origin.as_str()), ("sec-fetch-site", "same-origin")];
    let login = request(&server, Method::POST, "/admin/login", &form, &format!("token={TOKEN}")).await;
    assert_eq!(login.status, 303, "{}", login.body);
    assert_eq!(login.header("location"), "/admin");
    let cookie = login.header("set-cookie").to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Max-Age=43200"), "a sign-in lasts 12 h: {cookie}");
    assert!(!cookie.contains("Secure"), "not Secure unless --secure-cookies: {cookie}");
    assert!(!cookie.contains(TOKEN), "the cookie does not carry the token itself: {cookie}");
    let pair = cookie.split(';').next().expect("cookie pair").to_string();
    let home = request(&server, Method::GET, "/admin", &[("cookie", &pair)], "").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("<strong>auction</strong>"), "{}", home.body);

    // The create form: refused from another origin, accepted from this one.
    let evil = [("cookie", pair.as_str()), ("content-type", "application/x-www-form-urlencoded"), ("origin", "http://evil.example")];
    let refused = request(&server, Method::POST, "/admin/sessions", &evil, "game=auction&participants=3").await;
    assert_eq!(refused.status, 403);
    assert!(server.state.store.sessions().expect("sessions").is_empty());
    let ours = [("cookie", pair.as_str()), ("content-type", "application/x-www-form-urlencoded"), ("origin", origin.as_str())];
    let created = request(&server, Method::POST, "/admin/sessions", &ours, "game=auction&participants=3").await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page_path = created.header("location").to_string();
    let page = request(&server, Method::GET, &page_path, &[("cookie", &pair)], "").await;
    let session = &server.state.store.sessions().expect("sessions")[0];
    for code in &session.participants {
        assert!(page.body.contains(&format!("http://{host}/p/{code}")), "absolute links: {}", page.body);
    }
    let monitor = request(&server, Method::GET, &format!("{page_path}/monitor"), &[("cookie", &pair)], "").await.json();
    assert_eq!(monitor["participants"].as_array().map(Vec::len), Some(3));
    assert_eq!(get(&server, &format!("{page_path}/monitor")).await.status, 401);
    let bad = request(&server, Method::POST, "/admin/sessions", &ours, "game=auction&participants=2").await;
    assert_eq!(bad.status, 400);
    assert!(post_form(&server, "/admin/sessions", "game=auction&participants=3").await.status == 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_admin_token_file_serve_prints_its_path_and_never_the_token() {
    use std::io::BufRead as _;
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let games = crate::crash::games_folder(dir.path(), &["example-games/auction"]);
    // A file that was there, readable by everyone: replaced, and made private.
    let file = dir.path().join("admin-token");
    std::fs::write(&file, "old").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_stoa"))
        .args(["serve", "--addr", &addr, "--admin-token-file"])
        .arg(&file)
        .arg("--games")
        .arg(&games)
        .arg("--data")
        .arg(dir.path().join("data"))
        .env("STOA_CACHE_DIR", crate::support::root().join("target/stoa-cache"))
        .env("STOA_ADMIN_TOKEN", TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn stoa serve");
    let mut server = crate::crash::Server { child, addr };
    let stdout = server.child.stdout.take().expect("stdout");
    // Everything printed up to and including the admin line.
    let printed = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::task::spawn_blocking(move || {
            let mut printed = String::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let line = line.expect("stdout line");
                printed.push_str(&line);
                printed.push('\n');
                if line.starts_with("admin:") {
                    break;
                }
            }
            printed
        }),
    )
    .await
    .expect("stoa serve printed its admin line")
    .expect("reader");
    assert!(!printed.contains(TOKEN), "the token is printed: {printed}");
    assert!(printed.contains(&format!("{}/admin (sign in with the token in {})", server.addr, file.display())), "{printed}");
    assert_eq!(std::fs::read_to_string(&file).expect("token file"), TOKEN);
    let mode = std::fs::metadata(&file).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token file is the owner's alone: {mode:o}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_on_disk_before_its_creation_is_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = auction_server(&dir).await;
    // The API's 201: a flush of the database ran after the write and before the answer.
    let before = server.state.store.flushes().1;
    create_session(&server, "auction", 3).await;
    assert!(server.state.store.flushes().1 > before, "201 before the session was flushed");
    // The admin form's 303 too.
    let login = post_form(&server, "/admin/login", &format!("token={TOKEN}")).await;
    let cookie = login.header("set-cookie").split(';').next().expect("cookie").to_string();
    let before = server.state.store.flushes().1;
    let form = [("cookie", cookie.as_str()), ("content-type", "application/x-www-form-urlencoded")];
    let created = request(&server, Method::POST, "/admin/sessions", &form, "game=auction&participants=3").await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert!(server.state.store.flushes().1 > before, "303 before the session was flushed");
    server.stop().await;
}
