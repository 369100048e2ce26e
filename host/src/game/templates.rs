//! A game's page templates: the Handlebars registry its pages are registered in at load, and
//! rendering one of them with its data. A missing variable renders as nothing; every
//! `{{value}}` is HTML-escaped, so a payload or field a participant controls cannot inject
//! markup.

use std::path::Path;

use handlebars::Handlebars;
use serde_json::Value;

use crate::game::error::CallError;
use crate::game::manifest::{Manifest, ManifestError};

/// An empty registry for a game's page templates, set up as every game's is (a missing
/// variable renders as nothing; every `{{value}}` is HTML-escaped).
pub fn registry() -> Handlebars<'static> {
    let mut templates = Handlebars::new();
    templates.set_strict_mode(false);
    templates
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
    Ok(templates)
}

/// Renders template `page` of `templates` with `data` (as [`crate::game::render::render`]
/// does after gathering the data; public for the fuzz target).
pub fn render_data(templates: &Handlebars<'_>, page: &str, data: &Value) -> Result<String, CallError> {
    templates.render(page, data).map_err(|e| CallError::Output(format!("template of page `{page}` failed: {e}")))
}
