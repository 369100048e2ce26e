//! A game's [`Provenance`] as it is loaded: the SHA-256 of the component bytes it compiles
//! and of each page's template file, the manifest's text, and this host's build.

use std::path::Path;

use crate::manifest::Manifest;
use crate::store::{HostVersion, Provenance, TemplateHash, WASMTIME_VERSION, sha256_hex};

/// The provenance of the package in `dir` whose manifest is `manifest` and component `component`.
pub(super) fn of(manifest: &Manifest, dir: &Path, component: &[u8]) -> Result<Provenance, String> {
    let read = |file: &Path| std::fs::read(dir.join(file)).map_err(|e| format!("cannot read `{}`: {e}", file.display()));
    let text = read(Path::new("game.toml"))?;
    let templates = manifest
        .pages
        .iter()
        .map(|page| Ok(TemplateHash { page: page.name.clone(), file: slashed(&page.template), sha256: sha256_hex(&read(&page.template)?) }))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Provenance {
        component: slashed(&manifest.component),
        component_sha256: sha256_hex(component),
        manifest: String::from_utf8_lossy(&text).into_owned(),
        templates,
        host: HostVersion::current(),
        wasmtime: WASMTIME_VERSION.to_string(),
    })
}

/// A package path with `/` separators, as the manifest and a bundle name it.
fn slashed(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}
