//! A game's page templates: the Handlebars registry its pages are registered in at load, and
//! rendering one of them with its data. A missing variable renders as nothing; every
//! `{{value}}` is HTML-escaped, so a payload or field a participant controls cannot inject
//! markup.
//!
//! Templates are researchers' code too. At load, a template that reaches itself through
//! partials is refused (that recursion would overflow the host's stack and abort the
//! process), and so are inline partials and decorators (which could do the same out of sight
//! of the check). There is no `log` helper (a page view must not write to the host's log).
//! A render stops past [`MAX_PAGE_BYTES`] or [`MAX_RENDER_TIME`] (the time is checked as the
//! page is written and at the end of every `{{#each}}` body).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use handlebars::Handlebars;
use handlebars::template::{Parameter, Template, TemplateElement};
use serde_json::Value;

use crate::game::error::CallError;
use crate::manifest::{Manifest, ManifestError};

/// The most bytes one page's template may render to.
pub(crate) const MAX_PAGE_BYTES: usize = 4 << 20;

/// The longest one page's template may take to render.
pub(crate) const MAX_RENDER_TIME: Duration = Duration::from_secs(1);

/// An empty registry for a game's page templates, set up as every game's is: a missing
/// variable renders as nothing, every `{{value}}` is HTML-escaped, and there is no `log`
/// helper.
pub fn registry() -> Handlebars<'static> {
    let mut templates = Handlebars::new();
    templates.set_strict_mode(false);
    templates.unregister_helper("log");
    templates.register_helper(TICK, Box::new(Tick));
    templates.register_helper("formfield", Box::new(formfield));
    templates.register_helper("formfields", Box::new(formfields));
    templates
}

thread_local! {
    /// When the render running on this thread must stop (renders are synchronous).
    static RENDER_DEADLINE: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// The helper every `{{#each}}` body calls last (added at load, see [`tick_loops`]): it
/// writes nothing and stops the render past its deadline, so loops that write nothing (three
/// nested `{{#each}}` over a long array) still meet the time check.
const TICK: &str = "__stoa_tick";

struct Tick;

impl handlebars::HelperDef for Tick {
    fn call<'reg: 'rc, 'rc>(
        &self,
        _: &handlebars::Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc handlebars::Context,
        _: &mut handlebars::RenderContext<'reg, 'rc>,
        _: &mut dyn handlebars::Output,
    ) -> handlebars::HelperResult {
        if RENDER_DEADLINE.get().is_some_and(|d| Instant::now() >= d) {
            return Err(handlebars::RenderErrorReason::Other(RenderFailure::TooSlow.to_string()).into());
        }
        Ok(())
    }
}

/// `{{formfield "name"}}`: the page's form field `name` (label, input, error), as
/// [`crate::game::forms`] wrote it.
fn formfield(
    h: &handlebars::Helper<'_>,
    _: &Handlebars<'_>,
    ctx: &handlebars::Context,
    _: &mut handlebars::RenderContext<'_, '_>,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    let name = h.param(0).and_then(|p| p.value().as_str()).ok_or(handlebars::RenderErrorReason::ParamNotFoundForIndex("formfield", 0))?;
    let html = ctx
        .data()
        .get("stoa_form")
        .and_then(|f| f.get(name))
        .and_then(Value::as_str)
        .ok_or_else(|| handlebars::RenderErrorReason::Other(format!("`{name}` is not a form field of this page (form_fields in game.toml)")))?;
    out.write(html)?;
    Ok(())
}

/// `{{formfields}}`: every form field of the page, in order.
fn formfields(
    _: &handlebars::Helper<'_>,
    _: &Handlebars<'_>,
    ctx: &handlebars::Context,
    _: &mut handlebars::RenderContext<'_, '_>,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    let data = ctx.data();
    for name in data.get("stoa_form_order").and_then(Value::as_array).into_iter().flatten() {
        if let Some(html) = name.as_str().and_then(|n| data.get("stoa_form")?.get(n)?.as_str()) {
            out.write(html)?;
        }
    }
    Ok(())
}

/// Adds a call of [`TICK`] at the end of every `{{#each}}` body in `template`, at any depth.
fn tick_loops(template: &mut Template) {
    for element in &mut template.elements {
        if let TemplateElement::HelperBlock(block) = element {
            let is_each = matches!(&block.name, Parameter::Name(n) if n == "each");
            if let Some(body) = block.template.as_mut() {
                tick_loops(body);
                if is_each && let Ok(mut tick) = Template::compile(&format!("{{{{{TICK}}}}}")) {
                    body.elements.append(&mut tick.elements);
                    // Error positions are by element: the tick borrows the last one's.
                    if let Some(last) = body.mapping.last().cloned() {
                        body.mapping.push(last);
                    }
                }
            }
            if let Some(inverse) = block.inverse.as_mut() {
                tick_loops(inverse);
            }
        }
    }
}

/// The templates of `manifest`'s pages, read from the package in `dir`, each registered under
/// its page's name; one that does not parse is refused naming its key in `file`.
pub(crate) fn load(manifest: &Manifest, dir: &Path, file: &Path) -> Result<Handlebars<'static>, ManifestError> {
    let mut templates = registry();
    for (i, page) in manifest.pages.iter().enumerate() {
        templates.register_template_file(&page.name, dir.join(&page.template)).map_err(|e| ManifestError {
            file: file.to_path_buf(),
            key: format!("page[{i}].template"),
            reason: format!("template `{}` does not parse: {e}", page.template.display()),
        })?;
    }
    check_partials(&templates).map_err(|(name, reason)| {
        let i = manifest.pages.iter().position(|p| p.name == name).unwrap_or(0);
        ManifestError { file: file.to_path_buf(), key: format!("page[{i}].template"), reason }
    })?;
    add_ticks(&mut templates);
    Ok(templates)
}

/// [`tick_loops`] on every template of `templates`.
pub(crate) fn add_ticks(templates: &mut Handlebars<'static>) {
    let ticked: Vec<(String, Template)> = templates
        .get_templates()
        .iter()
        .map(|(name, t)| {
            let mut t = t.clone();
            tick_loops(&mut t);
            (name.clone(), t)
        })
        .collect();
    for (name, t) in ticked {
        templates.register_template(&name, t);
    }
}

/// Renders template `page` of `templates` with `data` (as [`crate::game::render::render`]
/// does after gathering the data; public for the fuzz target).
pub fn render_data(templates: &Handlebars<'_>, page: &str, data: &Value) -> Result<String, CallError> {
    render_bounded(templates, page, data).map_err(|e| CallError::Output(format!("template of page `{page}` failed: {e}")))
}

/// Why a bounded render stopped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RenderFailure {
    /// The template's own error (a missing partial, a helper's error...).
    Template(String),
    /// The page went over [`MAX_PAGE_BYTES`].
    TooLarge,
    /// The render went over [`MAX_RENDER_TIME`].
    TooSlow,
}

impl std::fmt::Display for RenderFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderFailure::Template(e) => write!(f, "{e}"),
            RenderFailure::TooLarge => write!(f, "it renders to more than {} bytes", MAX_PAGE_BYTES),
            RenderFailure::TooSlow => write!(f, "it took more than {} ms to render", MAX_RENDER_TIME.as_millis()),
        }
    }
}

/// Collects what a page's rendering writes, up to [`MAX_PAGE_BYTES`] and until its deadline.
struct Bounded {
    page: Vec<u8>,
    deadline: Instant,
    failed: Option<RenderFailure>,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let failure = if self.page.len() + buf.len() > MAX_PAGE_BYTES {
            RenderFailure::TooLarge
        } else if Instant::now() >= self.deadline {
            RenderFailure::TooSlow
        } else {
            self.page.extend_from_slice(buf);
            return Ok(buf.len());
        };
        let error = std::io::Error::other(failure.to_string());
        self.failed = Some(failure);
        Err(error)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders template `page` of `templates` with `data`, within [`MAX_PAGE_BYTES`] and
/// [`MAX_RENDER_TIME`].
fn render_bounded(templates: &Handlebars<'_>, page: &str, data: &serde_json::Value) -> Result<String, RenderFailure> {
    let deadline = Instant::now() + MAX_RENDER_TIME;
    let mut out = Bounded { page: Vec::new(), deadline, failed: None };
    RENDER_DEADLINE.set(Some(deadline));
    let result = templates.render_to_write(page, data, &mut out);
    RENDER_DEADLINE.set(None);
    if result.is_err() && out.failed.is_none() && Instant::now() >= deadline {
        return Err(RenderFailure::TooSlow);
    }
    match (result, out.failed) {
        (Ok(()), _) => String::from_utf8(out.page).map_err(|e| RenderFailure::Template(format!("it rendered text that is not UTF-8: {e}"))),
        (Err(_), Some(failure)) => Err(failure),
        (Err(e), None) => Err(RenderFailure::Template(e.to_string())),
    }
}

/// Checks the templates registered in `templates` (each a page, by name): none reaches
/// itself through partials, and none defines inline partials or uses decorators. The error
/// is the template to blame and why, naming the templates involved.
pub(crate) fn check_partials(templates: &Handlebars<'_>) -> Result<(), (String, String)> {
    let mut includes: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, template) in templates.get_templates() {
        let mut found = BTreeSet::new();
        partials(template, &mut found).map_err(|reason| (name.clone(), format!("template `{name}`: {reason}")))?;
        includes.insert(name.as_str(), found);
    }
    // Depth-first from every template, along partials that name registered templates.
    for start in includes.keys() {
        let mut path = vec![start.to_string()];
        if let Some(cycle) = cycle_from(&includes, &mut path) {
            let reason = format!(
                "templates include each other in a circle ({}): rendering it would never end",
                cycle.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" includes ")
            );
            return Err((start.to_string(), reason));
        }
    }
    Ok(())
}

/// The circle reached from the last template of `path`, if any, as the templates along it.
fn cycle_from(includes: &BTreeMap<&str, BTreeSet<String>>, path: &mut Vec<String>) -> Option<Vec<String>> {
    let last = path.last()?.clone();
    for next in includes.get(last.as_str()).into_iter().flatten() {
        if let Some(at) = path.iter().position(|p| p == next) {
            let mut cycle = path[at..].to_vec();
            cycle.push(next.clone());
            return Some(cycle);
        }
        if includes.contains_key(next.as_str()) {
            path.push(next.clone());
            if let Some(cycle) = cycle_from(includes, path) {
                return Some(cycle);
            }
            path.pop();
        }
    }
    None
}

/// The names of the partials `template` includes, anywhere inside it; refuses inline partials,
/// decorators and partials whose name is computed.
fn partials(template: &Template, found: &mut BTreeSet<String>) -> Result<(), String> {
    for element in &template.elements {
        match element {
            TemplateElement::PartialExpression(d) | TemplateElement::PartialBlock(d) => {
                let name = match &d.name {
                    Parameter::Name(n) => n.clone(),
                    Parameter::Literal(serde_json::Value::String(s)) => s.clone(),
                    _ => return Err("a partial's name must be written out, not computed".into()),
                };
                if name != "@partial-block" {
                    found.insert(name);
                }
                if let Some(inner) = &d.template {
                    partials(inner, found)?;
                }
            }
            TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => {
                return Err("templates may not use decorators or define inline partials (`{{#*inline}}`)".into());
            }
            TemplateElement::HelperBlock(h) | TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                for inner in [&h.template, &h.inverse].into_iter().flatten() {
                    partials(inner, found)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pages: &[(&str, &str)]) -> Handlebars<'static> {
        let mut t = registry();
        for (name, text) in pages {
            t.register_template_string(name, text).expect("parses");
        }
        add_ticks(&mut t);
        t
    }

    #[test]
    fn templates_including_each_other_are_refused_naming_them() {
        let err = check_partials(&with(&[("A", "a {{> B}}"), ("B", "{{#if x}}{{> A}}{{/if}}"), ("C", "{{> A}}")])).expect_err("a circle").1;
        assert!(err.contains("`A` includes `B` includes `A`"), "{err}");
        let err = check_partials(&with(&[("A", "{{#each xs}}{{> A}}{{/each}}")])).expect_err("itself").1;
        assert!(err.contains("`A` includes `A`"), "{err}");
        assert!(check_partials(&with(&[("A", "{{> B}} {{> B}}"), ("B", "b")])).is_ok(), "a partial used twice is no circle");
        assert!(check_partials(&with(&[("A", "{{> Missing}}")])).is_ok(), "a missing partial fails at render, not here");
    }

    #[test]
    fn inline_partials_and_computed_partial_names_are_refused() {
        let err = check_partials(&with(&[("A", "{{#*inline \"x\"}}{{> x}}{{/inline}}{{> x}}")])).expect_err("inline").1;
        assert!(err.contains("inline partials"), "{err}");
        let err = check_partials(&with(&[("A", "{{> (lookup this \"p\")}}")])).expect_err("computed").1;
        assert!(err.contains("written out"), "{err}");
    }

    #[test]
    fn a_render_is_bounded_in_output_and_time_and_has_no_log() {
        let big = serde_json::json!({ "xs": vec!["x".repeat(1000); 5000] });
        let t = with(&[("Big", "{{#each xs}}{{this}}{{/each}}"), ("Slow", "{{#each xs}}{{#each ../xs}}{{/each}}.{{/each}}")]);
        assert_eq!(render_bounded(&t, "Big", &big), Err(RenderFailure::TooLarge));
        // 900 million iterations writing 30 KB in all, far below the size cap: stopped by time.
        let many = serde_json::json!({ "xs": vec![0; 30_000] });
        let started = Instant::now();
        assert_eq!(render_bounded(&t, "Slow", &many), Err(RenderFailure::TooSlow));
        assert!(started.elapsed() < MAX_RENDER_TIME * 3, "took {:?}", started.elapsed());
        // Three nested loops writing nothing at all (27 billion iterations): stopped by time
        // too. Run on a thread, so a render that never ends fails the test instead of hanging it.
        let silent = with(&[("Silent", "{{#each xs}}{{#each ../xs}}{{#each ../../xs}}{{/each}}{{/each}}{{/each}}done")]);
        let xs = serde_json::json!({ "xs": vec![0; 3_000] });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(render_bounded(&silent, "Silent", &xs)));
        let result = rx.recv_timeout(MAX_RENDER_TIME * 10).expect("the silent render ends");
        assert_eq!(result, Err(RenderFailure::TooSlow));
        let t = with(&[("Log", "{{log \"flood\"}}ok")]);
        assert!(matches!(render_bounded(&t, "Log", &serde_json::json!({})), Err(RenderFailure::Template(_))));
        let t = with(&[("Fine", "{{#each xs}}{{this}},{{/each}}")]);
        assert_eq!(render_bounded(&t, "Fine", &serde_json::json!({ "xs": [1, 2] })).as_deref(), Ok("1,2,"));
    }
}
