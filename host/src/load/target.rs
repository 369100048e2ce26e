//! Whom a run drives: the server's address (loopback unless named), the session it creates
//! or the codes it is given, and every participant's page opened as their browser would.

use std::net::ToSocketAddrs as _;

use anyhow::{Context as _, bail};
use axum::http::Method;
use futures_util::StreamExt as _;

use super::config::Target;
use super::http::Http;

/// `host:port` of `url`, refused unless loopback or named in `allow`.
pub fn checked_addr(url: &str, allow: &[String]) -> anyhow::Result<String> {
    let rest = ["http://", "ws://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .with_context(|| format!("`{url}`: expected http://HOST:PORT (TLS is not supported)"))?;
    let hostport = rest.split('/').next().unwrap_or_default();
    let (host, port) = hostport.rsplit_once(':').with_context(|| format!("`{url}`: no port"))?;
    port.parse::<u16>().with_context(|| format!("`{url}`: bad port `{port}`"))?;
    let host_bare = host.trim_start_matches('[').trim_end_matches(']');
    if allow.iter().any(|a| a == host_bare || a == hostport) {
        return Ok(hostport.to_string());
    }
    let addrs: Vec<_> = hostport.to_socket_addrs().with_context(|| format!("cannot resolve `{hostport}`"))?.collect();
    if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
        bail!("`{host}` is not a loopback address: a load test can take a server down, so name the host with --allow-host {host_bare} to test it");
    }
    Ok(hostport.to_string())
}

/// The label of the run and each participant's live path.
pub(super) async fn participants(addr: &str, target: &Target) -> anyhow::Result<(String, Vec<String>)> {
    let http = Http::new(addr);
    let codes = match target {
        Target::Echo { participants } => return Ok(("echo".into(), (0..*participants).map(|i| format!("/echo/{i}")).collect())),
        Target::Codes(codes) => codes.clone(),
        Target::NewSession { token, game, participants } => {
            let body = serde_json::json!({ "game": game, "participants": participants }).to_string();
            let r = http.request(Method::POST, "/api/sessions", Some(token), Some(body)).await?;
            if r.status != 201 {
                bail!("creating a session of `{game}` failed ({}): {}", r.status, r.body.trim());
            }
            let info: serde_json::Value = serde_json::from_str(&r.body).context("the session info is not JSON")?;
            let list = info["participants"].as_array().context("the session info has no participants")?;
            list.iter().filter_map(|p| p["code"].as_str().map(String::from)).collect()
        }
    };
    let label = match target {
        Target::NewSession { game, .. } => game.clone(),
        _ => "stoa".into(),
    };
    // Open each participant's page, as their browser would, 32 at a time.
    let http = &http;
    let mut pages = futures_util::stream::iter(codes.iter().map(|code| async move {
        let r = http.request(Method::GET, &format!("/p/{code}"), None, None).await?;
        if r.status != 200 {
            bail!("the page of participant `{code}` answered {}: {}", r.status, brief(&r.body));
        }
        anyhow::Ok(())
    }))
    .buffer_unordered(32);
    while let Some(r) = pages.next().await {
        r?;
    }
    Ok((label, codes.iter().map(|c| format!("/live/{c}")).collect()))
}

/// The text of an error body, HTML tags, styles and scripts dropped, at most 200 characters.
fn brief(body: &str) -> String {
    let mut text = String::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        let tag = &rest[open..];
        // Skip a style or script element whole, any other tag alone.
        let skip = ["<style", "<script"]
            .iter()
            .find(|t| tag.starts_with(**t))
            .and_then(|t| tag.find(&format!("</{}>", &t[1..])).map(|end| end + t.len() + 2))
            .or_else(|| tag.find('>').map(|end| end + 1));
        let Some(skip) = skip else { break };
        rest = &tag[skip..];
    }
    if !rest.contains('<') {
        text.push_str(rest);
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_unless_named() {
        assert_eq!(checked_addr("http://127.0.0.1:8000", &[]).expect("loopback"), "127.0.0.1:8000");
        assert!(checked_addr("http://localhost:80/x", &[]).is_ok());
        let e = checked_addr("http://10.1.2.3:8000", &[]).expect_err("not loopback").to_string();
        assert!(e.contains("--allow-host 10.1.2.3"), "{e}");
        assert!(checked_addr("http://10.1.2.3:8000", &["10.1.2.3".into()]).is_ok());
        assert!(checked_addr("https://127.0.0.1:8000", &[]).is_err());
    }

    #[test]
    fn error_pages_are_read_as_text() {
        let page = "<!doctype html><html><head><title>Oops</title><style>p { color: red }</style></head>\n<body><p>the game ran\n past its deadline</p></body></html>";
        assert_eq!(brief(page), "Oops the game ran past its deadline");
        assert_eq!(brief("plain reason"), "plain reason");
    }
}
