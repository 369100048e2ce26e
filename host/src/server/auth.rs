//! Who may use the experimenter's side: the admin token (the operator) or a researcher's
//! token as `Authorization: Bearer`, or the `stoa_admin` cookie that `/admin?token=` or the
//! sign-in form sets; and the same-origin check on admin forms.
//!
//! A researcher's cookie is `NAME.DIGEST`, the digest covering the admin token (the server's
//! secret), the name and the digest of the researcher's current API token: nobody can make
//! one without the admin token, and a new API token signs every browser of the old one out.
//!
//! The cookie holds a digest of the token, not the token: it is fixed-length ASCII (any token
//! fits in a cookie) and a leaked cookie jar does not reveal the token itself. It is HttpOnly
//! and SameSite=Strict, so other sites can neither read it nor make a browser send it with a
//! form; forms also check `Origin` when the browser sends one.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

use crate::hosting::accounts::Researcher;
use crate::server::state::AppState;
use crate::server::who::Who;

/// The cookie's name.
pub(crate) const COOKIE: &str = "stoa_admin";

/// The bearer token of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The value of cookie `name`, if the request has it.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
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
    let value = cookie(headers, COOKIE)?;
    if constant_eq(value.as_bytes(), cookie_value(state).as_bytes()) {
        return Some(Who::Operator);
    }
    let (name, _) = value.split_once('.')?;
    let researcher = state.tenants.accounts.get(name).ok().flatten()?;
    constant_eq(value.as_bytes(), researcher_cookie(state, &researcher).as_bytes()).then_some(Who::Researcher(researcher))
}

/// The cookie value of a researcher.
fn researcher_cookie(state: &AppState, r: &Researcher) -> String {
    let digest = Sha256::digest(format!("stoa-researcher-cookie:{}:{}:{}", state.admin_token, r.name, r.token_sha256));
    format!("{}.{}", r.name, hex::encode(digest))
}

/// The `Set-Cookie` header that signs `who` in.
pub(crate) fn set_cookie_for(state: &AppState, who: &Who) -> String {
    match who {
        Who::Operator => set_cookie(state),
        Who::Researcher(r) => format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", researcher_cookie(state, r)),
    }
}

/// The cookie value for this server's token.
pub(crate) fn cookie_value(state: &AppState) -> String {
    hex::encode(Sha256::digest(format!("stoa-admin-cookie:{}", state.admin_token)))
}

/// The `Set-Cookie` header that signs the browser in.
pub(crate) fn set_cookie(state: &AppState) -> String {
    format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", cookie_value(state))
}

/// Whether a state-changing request may proceed: no `Origin` header (not a browser form, or an
/// old browser: the SameSite cookie still protects it), or an `Origin` naming this host.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), headers.get(header::HOST).map(|h| h.to_str())) else {
        return false;
    };
    origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host)
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
}
