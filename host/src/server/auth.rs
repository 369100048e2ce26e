//! Who may use the experimenter's side: the admin token (the operator) or a researcher's
//! token as `Authorization: Bearer`, or the `stoa_admin` cookie that the sign-in form
//! (`POST /admin/login`) sets; and the same-origin check on admin forms.
//!
//! The operator's cookie is `EXPIRES.DIGEST`, a researcher's `NAME.EXPIRES.DIGEST`, the digest
//! covering the admin token (the server's secret), the expiry and, for a researcher, the name
//! and the digest of their current API token: nobody can make one without the admin token,
//! and a new API token signs every browser of the old one out.
//!
//! The cookie holds a digest of the token, not the token: it is fixed-length ASCII (any token
//! fits in a cookie) and a leaked cookie jar does not reveal the token itself. It is HttpOnly
//! and SameSite=Strict, so other sites can neither read it nor make a browser send it with a
//! form; forms also check where they come from (`same_origin`). It signs its expiry, 12 h
//! after sign-in ([`SIGN_IN_SECONDS`], also its `Max-Age`), so a copied cookie stops working
//! too, and is `Secure` when the server says it is reached over TLS.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

use crate::hosting::accounts::Researcher;
use crate::server::state::AppState;
use crate::server::who::Who;

/// The cookie's name.
pub(crate) const COOKIE: &str = "stoa_admin";

/// How long a sign-in lasts: the cookie's `Max-Age`, and the expiry its value signs, so a
/// copied cookie stops working too.
pub(crate) const SIGN_IN_SECONDS: u64 = 12 * 60 * 60;

/// The bearer token of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The value of cookie `name`, if the request has it.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Who the bearer token of the request belongs to: the operator or a researcher.
pub(crate) fn bearer_who(state: &AppState, headers: &HeaderMap) -> Option<Who> {
    token_who(state, bearer(headers)?)
}

/// Whether `given` is the admin token, compared in constant time.
pub(crate) fn is_admin(state: &AppState, given: &str) -> bool {
    constant_eq(state.admin_token.as_bytes(), given.as_bytes())
}

/// Who `token` belongs to.
pub(crate) fn token_who(state: &AppState, token: &str) -> Option<Who> {
    if is_admin(state, token) {
        return Some(Who::Operator);
    }
    state.tenants.accounts.by_token(token).ok().flatten().map(Who::Researcher)
}

/// Who the request is: bearer token, or the cookie of the operator or a researcher.
pub(crate) fn who(state: &AppState, headers: &HeaderMap) -> Option<Who> {
    if let Some(found) = bearer_who(state, headers) {
        return Some(found);
    }
    cookie_who(state, cookie(headers, COOKIE)?, now_secs())
}

/// Who a cookie value signs in at `now` (Unix seconds); an expired or forged value is nobody.
fn cookie_who(state: &AppState, value: &str, now: u64) -> Option<Who> {
    let (name, expires) = unexpired(value, now)?;
    let Some(name) = name else {
        return constant_eq(value.as_bytes(), operator_cookie(&state.admin_token, expires).as_bytes()).then_some(Who::Operator);
    };
    if !crate::hosting::accounts::valid_name(name) {
        return None;
    }
    let researcher = state.tenants.accounts.get(name).ok().flatten()?;
    let expected = researcher_cookie(&state.admin_token, &researcher, expires);
    constant_eq(value.as_bytes(), expected.as_bytes()).then_some(Who::Researcher(researcher))
}

/// The name (none: the operator) and expiry a cookie value claims, `EXPIRES.DIGEST` or
/// `NAME.EXPIRES.DIGEST`, if it has not expired at `now`; the digest is checked by the caller.
fn unexpired(value: &str, now: u64) -> Option<(Option<&str>, u64)> {
    let (signed, _digest) = value.rsplit_once('.')?;
    let (name, expires) = match signed.split_once('.') {
        Some((name, expires)) => (Some(name), expires),
        None => (None, signed),
    };
    let expires: u64 = expires.parse().ok()?;
    (expires > now).then_some((name, expires))
}

/// The operator's cookie value, valid until `expires` (Unix seconds).
fn operator_cookie(admin_token: &str, expires: u64) -> String {
    let digest = Sha256::digest(format!("stoa-admin-cookie:{admin_token}:{expires}"));
    format!("{expires}.{}", hex::encode(digest))
}

/// A researcher's cookie value, valid until `expires` (Unix seconds).
fn researcher_cookie(admin_token: &str, r: &Researcher, expires: u64) -> String {
    let digest = Sha256::digest(format!("stoa-researcher-cookie:{admin_token}:{}:{}:{expires}", r.name, r.token_sha256));
    format!("{}.{expires}.{}", r.name, hex::encode(digest))
}

/// The `Set-Cookie` header that signs `who` in for [`SIGN_IN_SECONDS`]: `Secure` when the
/// server is reached over TLS (`ServerConfig::secure_cookies`).
pub(crate) fn set_cookie_for(state: &AppState, who: &Who) -> String {
    let expires = now_secs() + SIGN_IN_SECONDS;
    let value = match who {
        Who::Operator => operator_cookie(&state.admin_token, expires),
        Who::Researcher(r) => researcher_cookie(&state.admin_token, r, expires),
    };
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/; Max-Age={SIGN_IN_SECONDS}; HttpOnly; SameSite=Strict{secure}")
}

/// Seconds since the Unix epoch.
fn now_secs() -> u64 {
    crate::clock::now_ms() / 1000
}

/// Whether a state-changing request comes from this site. A browser says where a request
/// comes from in `Sec-Fetch-Site` (only `same-origin`, or `none` for one the user typed, may
/// go on); an older one in `Origin`, else `Referer`, whose host must be the `Host` asked for.
/// A request with none of them is not a browser's cross-site form (those send `Origin`).
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    let Some(from) = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)) else { return true };
    let (Ok(from), Some(Ok(host))) = (from.to_str(), headers.get(header::HOST).map(|h| h.to_str())) else {
        return false;
    };
    let Some(rest) = from.strip_prefix("http://").or_else(|| from.strip_prefix("https://")) else { return false };
    rest.split('/').next() == Some(host)
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn bearer_is_case_insensitive_in_its_scheme_only() {
        assert_eq!(bearer(&headers(&[(header::AUTHORIZATION, "bearer abc")])), Some("abc"));
        assert_eq!(bearer(&headers(&[(header::AUTHORIZATION, "Basic abc")])), None);
        assert_eq!(bearer(&headers(&[])), None);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let h = headers(&[(header::COOKIE, "a=1; stoa_admin=xyz; b=2")]);
        assert_eq!(cookie(&h, COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "stoa"), None);
    }

    #[test]
    fn origin_must_name_the_host_when_present() {
        assert!(same_origin(&headers(&[(header::HOST, "127.0.0.1:8000")])));
        assert!(same_origin(&headers(&[(header::HOST, "127.0.0.1:8000"), (header::ORIGIN, "http://127.0.0.1:8000")])));
        assert!(!same_origin(&headers(&[(header::HOST, "127.0.0.1:8000"), (header::ORIGIN, "http://evil.example")])));
        assert!(!same_origin(&headers(&[(header::HOST, "127.0.0.1:8000"), (header::ORIGIN, "null")])));
    }

    #[test]
    fn a_browser_saying_cross_site_is_refused_whatever_else_it_sends() {
        let host = (header::HOST, "127.0.0.1:8000");
        let site = |v: &'static str| (header::HeaderName::from_static("sec-fetch-site"), v);
        assert!(same_origin(&headers(&[host.clone(), site("same-origin")])));
        assert!(same_origin(&headers(&[host.clone(), site("none")])));
        assert!(!same_origin(&headers(&[host.clone(), site("cross-site"), (header::ORIGIN, "http://127.0.0.1:8000")])));
        assert!(!same_origin(&headers(&[host.clone(), site("same-site")])));
    }

    #[test]
    fn without_origin_the_referer_must_name_the_host() {
        let host = (header::HOST, "127.0.0.1:8000");
        assert!(same_origin(&headers(&[host.clone(), (header::REFERER, "http://127.0.0.1:8000/admin?token=x")])));
        assert!(!same_origin(&headers(&[host.clone(), (header::REFERER, "https://evil.example/127.0.0.1:8000")])));
        assert!(!same_origin(&headers(&[host.clone(), (header::REFERER, "http://127.0.0.1:8000.evil.example/")])));
    }

    #[test]
    fn a_cookie_signs_in_until_its_signed_expiry() {
        let value = operator_cookie("secret", 200);
        assert_eq!(unexpired(&value, 100), Some((None, 200)));
        assert_eq!(unexpired(&value, 200), None, "expired at its second");
        // A later expiry written over the signed one no longer matches its digest.
        let stretched = value.replacen("200.", "900.", 1);
        assert_eq!(unexpired(&stretched, 300), Some((None, 900)));
        assert_ne!(stretched, operator_cookie("secret", 900));
        assert_eq!(unexpired("bob.150.abc", 100), Some((Some("bob"), 150)));
        assert_eq!(unexpired("no-expiry", 0), None);
        assert_eq!(unexpired("bob.soon.abc", 0), None);
    }
}
