//! [`Provenance`]: what a session's game was loaded from — its component's and templates'
//! SHA-256, its manifest's text, the host's version and wasmtime's — kept with the session
//! in the `provenance` tree (session code → JSON) when it is created, so an export or a
//! replay names the build that made its log, not the one loaded now.

use serde::{Deserialize, Serialize};

use crate::store::database::Store;
use crate::store::error::StoreError;
use crate::store::records::{decode, encode};

/// The tree provenance records live in.
const TREE: &str = "provenance";

/// What a game package was loaded from, and by which host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// The component's path in the package (the manifest's `component`).
    pub component: String,
    /// SHA-256 of the component's bytes, lowercase hex.
    pub component_sha256: String,
    /// The text of `game.toml`.
    pub manifest: String,
    /// Each page's template, in page order.
    pub templates: Vec<TemplateHash>,
    /// The host: its crate version and git commit.
    pub host: HostVersion,
    /// The wasmtime version the host runs games on.
    pub wasmtime: String,
}

/// One page's template file and its SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TemplateHash {
    /// The page's name.
    pub page: String,
    /// The template's path in the package.
    pub file: String,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

/// A host build: crate version and git commit ("unknown" when built outside a git checkout).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HostVersion {
    /// The `stoa-host` crate's version.
    pub version: String,
    /// `git rev-parse HEAD` at build time.
    pub commit: String,
}

impl HostVersion {
    /// This host's build.
    pub fn current() -> HostVersion {
        HostVersion { version: env!("CARGO_PKG_VERSION").to_string(), commit: env!("STOA_GIT_COMMIT").to_string() }
    }
}

/// The wasmtime version this host was built with (read from Cargo.lock at build time).
pub const WASMTIME_VERSION: &str = env!("STOA_WASMTIME_VERSION");

impl Store {
    /// Keeps `provenance` as session `code`'s.
    pub(crate) fn put_provenance(&self, code: &str, provenance: &Provenance) -> Result<(), StoreError> {
        self.tree(TREE)?.insert(code.as_bytes(), encode(provenance))?;
        Ok(())
    }

    /// Session `code`'s provenance, if it was kept (sessions made before provenance: none).
    pub fn provenance(&self, code: &str) -> Result<Option<Provenance>, StoreError> {
        self.tree(TREE)?.get(code.as_bytes())?.map(|v| decode(code.as_bytes(), &v)).transpose()
    }
}
