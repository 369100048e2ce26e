//! Export bundles: one tar.gz holding a session's JSON export ([`EXPORT_FILE`], with its
//! seed and provenance) beside its game's package — `game.toml`, the component and the page
//! templates at the archive's top, as `stoa check` reads a package — so `stoa replay BUNDLE`
//! needs nothing else.
//!
//! Opening one unpacks it as an uploaded game is unpacked ([`crate::hosting::upload`]):
//! links, special entries, absolute names and `..` are refused naming the entry, and the
//! archive, its decompressed stream, its entries and its unpacked bytes are capped.

use std::path::Path;
use std::sync::Arc;

use crate::engine::Runtime;
use crate::game::Game;
use crate::hosting::upload::{Caps, unpack};
use crate::replay::recorded::Recorded;

/// The JSON export's name in a bundle.
pub const EXPORT_FILE: &str = "export.json";

/// What a bundle may hold: a session's log can be large, a package a few components' worth.
const CAPS: Caps = Caps { archive_bytes: 1 << 30, unpacked_bytes: 1 << 30, entries: 4096, stream_bytes: (1 << 30) + (64 << 20) };

/// The bundle of a session of `game`, whose package files are in `dir`, and whose JSON
/// export is `export`: tar.gz bytes. Refused when the component file on disk is no longer
/// the one the game was loaded from.
pub fn write(export: &[u8], game: &Game, dir: &Path) -> Result<Vec<u8>, String> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    append(&mut tar, EXPORT_FILE, export)?;
    let component = read(dir, &game.provenance.component)?;
    if crate::store::sha256_hex(&component) != game.provenance.component_sha256 {
        return Err(format!(
            "the component `{}` of game `{}` changed on disk since it was loaded: its bundle would not hold the component that ran (restart the server to load the new one)",
            game.provenance.component,
            game.name()
        ));
    }
    append(&mut tar, "game.toml", game.provenance.manifest.as_bytes())?;
    append(&mut tar, &game.provenance.component, &component)?;
    let mut written = vec![game.provenance.component.as_str()];
    for t in &game.provenance.templates {
        if !written.contains(&t.file.as_str()) {
            append(&mut tar, &t.file, &read(dir, &t.file)?)?;
            written.push(&t.file);
        }
    }
    let gz = tar.into_inner().map_err(|e| format!("cannot write the bundle: {e}"))?;
    gz.finish().map_err(|e| format!("cannot write the bundle: {e}"))
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>, String> {
    std::fs::read(dir.join(file)).map_err(|e| format!("cannot read `{file}` of the game's package: {e}"))
}

fn append<W: std::io::Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> Result<(), String> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, bytes).map_err(|e| format!("cannot write `{name}` into the bundle: {e}"))
}

/// An opened bundle: its game, loaded from the unpacked package (whose folder is deleted
/// once it is loaded: a game holds its templates and compiled component), and its session.
pub struct Bundle {
    /// The game as the bundle packs it.
    pub game: Arc<Game>,
    /// The session its export records.
    pub recorded: Recorded,
}

/// Opens the bundle at `path`: unpacks it, loads its game on `runtime`, reads its export.
/// The error says what is wrong with it.
pub fn open(runtime: &Runtime, path: &Path) -> Result<Bundle, String> {
    let size = std::fs::metadata(path).map_err(|e| format!("cannot read bundle `{}`: {e}", path.display()))?.len();
    if size > CAPS.archive_bytes as u64 {
        return Err(format!("bundle `{}` is {size} bytes, above the limit of {} bytes", path.display(), CAPS.archive_bytes));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read bundle `{}`: {e}", path.display()))?;
    let dir = tempfile::tempdir().map_err(|e| format!("cannot unpack the bundle: {e}"))?;
    let root = unpack(&bytes, dir.path(), &CAPS).map_err(|why| format!("`{}` is not a readable bundle: {why}", path.display()))?;
    let export = std::fs::read(root.join(EXPORT_FILE)).map_err(|e| format!("`{}` is not a bundle: it has no {EXPORT_FILE} ({e})", path.display()))?;
    let game = Game::load(runtime, &root).map_err(|e| format!("the bundle's game does not load: {e}"))?;
    let recorded = Recorded::from_export(&export).map_err(|why| format!("the bundle's {EXPORT_FILE}: {why}"))?;
    Ok(Bundle { game, recorded })
}
