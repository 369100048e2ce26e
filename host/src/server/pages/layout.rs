//! The host's own HTML: the participant page layout, message pages and the admin pages,
//! handlebars templates from `host/templates/` compiled into the binary.
//!
//! Every value goes through `{{ }}`, which HTML-escapes it. The one triple-stash is the page
//! layout's `{{{body}}}`: the game template's output, whose own values handlebars escaped
//! when the game's template was rendered.

use std::sync::LazyLock;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use handlebars::Handlebars;
use serde::Serialize;

/// The policy of every participant page (and a room's): scripts, forms and dialogs, in an
/// origin of its own.
pub(crate) const SANDBOX: &str = "sandbox allow-scripts allow-forms allow-modals";

/// Host templates by name; `base` is the partial every page fills.
const TEMPLATES: &[(&str, &str)] = &[
    ("base", include_str!("../../../templates/base.hbs")),
    ("page", include_str!("../../../templates/page.hbs")),
    ("message", include_str!("../../../templates/message.hbs")),
    ("room", include_str!("../../../templates/room.hbs")),
    ("admin_login", include_str!("../../../templates/admin_login.hbs")),
    ("admin_confirm", include_str!("../../../templates/admin_confirm.hbs")),
    ("admin_home", include_str!("../../../templates/admin_home.hbs")),
    ("admin_sessions", include_str!("../../../templates/admin_sessions.hbs")),
    ("admin_session", include_str!("../../../templates/admin_session.hbs")),
    ("admin_payments", include_str!("../../../templates/admin_payments.hbs")),
    ("admin_researchers", include_str!("../../../templates/admin_researchers.hbs")),
    ("admin_rooms", include_str!("../../../templates/admin_rooms.hbs")),
    ("admin_room", include_str!("../../../templates/admin_room.hbs")),
];

/// Compiled once. Strict mode: a variable missing from the data is a bug in the host, not a
/// blank on the page.
static HOST: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    for (name, text) in TEMPLATES {
        // These are compiled into the binary and parsed by the unit test below.
        hb.register_template_string(name, *text).expect("host templates parse");
    }
    hb
});

/// Renders host template `name` with `data`.
pub(crate) fn render(name: &str, data: &impl Serialize) -> Result<String, String> {
    HOST.render(name, data).map_err(|e| format!("host template `{name}` failed: {e}"))
}

/// An HTML response from host template `name`; a template failure becomes a plain 500.
pub(crate) fn html(status: StatusCode, name: &str, data: &impl Serialize) -> Response {
    match render(name, data) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body).into_response(),
        Err(e) => {
            tracing::error!("{e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error: a host template failed").into_response()
        }
    }
}

/// A page that only says something: `title` as heading, `text` below it.
pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, "message", &serde_json::json!({ "title": title, "text": text }))
}

/// What the participant page layout shows around the game's template.
#[derive(Debug, Serialize)]
pub(crate) struct PageView {
    /// Participant code.
    pub(crate) participant: String,
    /// Page name (also the title).
    pub(crate) page: String,
    /// 1-based round and the number of rounds.
    pub(crate) round: u32,
    pub(crate) num_rounds: u32,
    /// The game template's HTML.
    pub(crate) body: String,
    /// Why `error-message` refused the last submission.
    pub(crate) error: Option<String>,
    /// Whether to load live.js.
    pub(crate) live: bool,
    /// Whether this is a wait page (poll until the group moves on).
    pub(crate) wait: bool,
    /// Milliseconds left before the page times out.
    pub(crate) timeout_ms: Option<u64>,
    /// Whether live.js replays the page's messages when it opens.
    pub(crate) history: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> PageView {
        PageView {
            participant: "abc".into(),
            page: "Bid".into(),
            round: 1,
            num_rounds: 2,
            body: "<p id=\"inner\">hi</p>".into(),
            error: Some("<b>too low</b>".into()),
            live: true,
            wait: false,
            timeout_ms: Some(5000),
            history: true,
        }
    }

    #[test]
    fn every_host_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(HOST.get_template(name).is_some(), "{name}");
        }
    }

    #[test]
    fn the_layout_wraps_the_page_in_a_form_and_escapes_the_error() {
        let html = render("page", &view()).expect("render");
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert!(html.contains("<title>Bid</title>"));
        assert!(html.contains("<form method=\"post\" id=\"form\" action=\"/p/abc\" novalidate>"));
        assert!(html.contains("<p id=\"inner\">hi</p>"), "the game's HTML is kept as HTML");
        assert!(html.contains("&lt;b&gt;too low&lt;/b&gt;"), "the error is text: {html}");
        assert!(html.contains("<script src=\"/static/live.js\" data-participant=\"abc\" data-page=\"Bid\" data-history=\"true\"></script>"));
        let live = html.find("/static/live.js").expect("live.js");
        assert!(live < html.find("id=\"inner\"").expect("body"), "live.js comes before the page's scripts");
        assert!(html.contains("data-ms=\"5000\""));
    }

    #[test]
    fn a_page_without_live_timeout_or_error_has_none_of_them() {
        let html = render("page", &PageView { live: false, error: None, timeout_ms: None, ..view() }).expect("render");
        assert!(!html.contains("live.js"));
        assert!(!html.contains("id=\"stoa-error\""));
        assert!(!html.contains("stoa-timer"));
    }
}
