//! Uploaded game packages: a tar archive (plain, or gzip-compressed) holding `game.toml`,
//! its templates and its component — at the top of the archive or in one top-level folder
//! (`tar -czf auction.tar.gz -C example-games auction`).
//!
//! Unpacking refuses, naming the entry: links of any kind, devices and other special
//! entries; absolute names and names with `..`; more than [`Caps::entries`] entries; more
//! than [`Caps::unpacked_bytes`] in all. The archive itself is capped by
//! [`Caps::archive_bytes`], the tar stream it decompresses to by [`Caps::stream_bytes`]
//! (headers, long names, PAX records and skipped data included: the tar reader holds a long
//! name or a PAX record whole in memory before any entry cap sees it), and the component by
//! the runtime's `max_component_bytes`. The
//! unpacked package is then checked as `stoa check` does ([`Game::load`]): manifest,
//! templates, and a component that exports the world and imports nothing else.

use std::cell::Cell;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::engine::Runtime;
use crate::game::Game;
use crate::hosting::accounts::Quotas;

/// Size caps of an upload.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Bytes of the archive as sent.
    pub archive_bytes: usize,
    /// Bytes of all files once unpacked.
    pub unpacked_bytes: u64,
    /// Entries (files and folders) in the archive.
    pub entries: usize,
    /// Bytes of the tar stream once decompressed: the files plus every header, long name,
    /// PAX record and padding block (a few KiB per entry at most in a real package).
    pub stream_bytes: u64,
}

impl Default for Caps {
    fn default() -> Self {
        Caps { archive_bytes: 64 << 20, unpacked_bytes: 96 << 20, entries: 256, stream_bytes: 100 << 20 }
    }
}

/// A reader that fails once more than `left` bytes were asked of it, and says so in `over`
/// (the tar reader's own errors hide the cause).
struct Capped<'a, R> {
    inner: R,
    left: u64,
    over: &'a Cell<bool>,
}

impl<R: Read> Read for Capped<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // At the cap: fine if the stream ends here, refused if it goes on.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.over.set(true);
            return Err(std::io::Error::other("the tar stream is over its cap"));
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Unpacks `archive` into `dest` and returns the package folder (the one holding
/// `game.toml`); the error says which entry and why.
pub fn unpack(archive: &[u8], dest: &Path, caps: &Caps) -> Result<PathBuf, String> {
    if archive.len() > caps.archive_bytes {
        return Err(format!("the archive is {} bytes, above the limit of {} bytes", archive.len(), caps.archive_bytes));
    }
    let over = Cell::new(false);
    let result = unpack_stream(archive, dest, caps, &over);
    if over.get() {
        return Err(format!("the archive decompresses to more than {} bytes (headers included)", caps.stream_bytes));
    }
    result
}

fn unpack_stream(archive: &[u8], dest: &Path, caps: &Caps, over: &Cell<bool>) -> Result<PathBuf, String> {
    let reader: Box<dyn Read + '_> =
        if archive.starts_with(&[0x1f, 0x8b]) { Box::new(flate2::read::GzDecoder::new(archive)) } else { Box::new(archive) };
    let mut tar = tar::Archive::new(Capped { inner: reader, left: caps.stream_bytes, over });
    let entries = tar.entries().map_err(|e| format!("not a tar archive: {e}"))?;
    let (mut count, mut total) = (0usize, 0u64);
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("not a readable tar archive: {e}"))?;
        let kind = entry.header().entry_type();
        let name = entry.path().map(|p| p.into_owned()).map_err(|e| format!("an entry has a bad name: {e}"))?;
        let shown = name.display().to_string();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        count += 1;
        if count > caps.entries {
            return Err(format!("the archive has more than {} entries", caps.entries));
        }
        let mut relative = PathBuf::new();
        for part in name.components() {
            match part {
                Component::Normal(p) => relative.push(p),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(format!("entry `{shown}`: names may not be absolute or contain `..`"));
                }
            }
        }
        let target = dest.join(&relative);
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| format!("cannot unpack `{shown}`: {e}"))?;
            continue;
        }
        if !(kind.is_file() || kind.is_contiguous()) {
            let what = if kind.is_symlink() || kind.is_hard_link() { "a link" } else { "not a regular file" };
            return Err(format!("entry `{shown}` is {what}: a game archive may hold only files and folders"));
        }
        if relative.as_os_str().is_empty() {
            return Err(format!("entry `{shown}` has no name"));
        }
        total = total.saturating_add(entry.size());
        if total > caps.unpacked_bytes {
            return Err(format!("the archive unpacks to more than {} bytes", caps.unpacked_bytes));
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot unpack `{shown}`: {e}"))?;
        }
        let mut file = std::fs::File::create(&target).map_err(|e| format!("cannot unpack `{shown}`: {e}"))?;
        // `take`: the header's size is what we counted; a lying header cannot write more.
        let limit = entry.size();
        std::io::copy(&mut (&mut entry).take(limit), &mut file).map_err(|e| format!("cannot unpack `{shown}`: {e}"))?;
    }
    if count == 0 {
        return Err("not a tar archive, or an empty one: send a .tar or .tar.gz of the game's folder".into());
    }
    if dest.join("game.toml").is_file() {
        return Ok(dest.to_path_buf());
    }
    let tops: Vec<PathBuf> =
        std::fs::read_dir(dest).map_err(|e| format!("cannot read the unpacked archive: {e}"))?.filter_map(Result::ok).map(|e| e.path()).collect();
    match tops.as_slice() {
        [only] if only.join("game.toml").is_file() => Ok(only.clone()),
        _ => Err("the archive has no game.toml, neither at its top nor in a single top-level folder".into()),
    }
}

/// Unpacks and loads an uploaded package with its limits lowered to `quotas`. With `owner`
/// (`(researcher, version)`) the game is renamed to its key `researcher/name@version`, so
/// sessions record the exact version. [`Loaded::game`] is the game or the refusal's reason.
pub fn load(runtime: &Runtime, archive: &[u8], owner: Option<(&str, &str)>, quotas: &Quotas, caps: &Caps) -> Loaded {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return Loaded { game: Err(format!("cannot unpack: {e}")), compiled: None },
    };
    let root = match unpack(archive, dir.path(), caps) {
        Ok(root) => root,
        Err(why) => return Loaded { game: Err(why), compiled: None },
    };
    let game = load_unpacked(runtime, &root, owner, quotas);
    Loaded { game, compiled: compiled_file(runtime, &root) }
}

/// A package loaded from an upload ([`load`]), or why it was refused, and where its compiled
/// component is cached (if it has one there): the file to remove when the upload is
/// refused or deleted.
pub struct Loaded {
    /// The game, or why it was refused.
    pub game: Result<Arc<Game>, String>,
    /// Its compiled component's cache file.
    pub compiled: Option<PathBuf>,
}

/// Where the compiled form of the component of the package `archive` is cached (unpacked to
/// find it; nothing is compiled).
pub fn compiled_file_of(runtime: &Runtime, archive: &[u8], caps: &Caps) -> Option<PathBuf> {
    let dir = tempfile::tempdir().ok()?;
    compiled_file(runtime, &unpack(archive, dir.path(), caps).ok()?)
}

/// Where the compiled form of the component of the package in `root` is cached: None
/// without a cache, or when the component is not a file inside `root` within the host's size
/// limit (then nothing was compiled from it either).
fn compiled_file(runtime: &Runtime, root: &Path) -> Option<PathBuf> {
    let manifest = crate::manifest::Manifest::load(root).ok()?;
    let path = root.join(&manifest.component).canonicalize().ok()?;
    let inside = path.starts_with(root.canonicalize().ok()?);
    let fits = std::fs::metadata(&path).ok()?.len() <= runtime.config.max_component_bytes;
    if !(inside && fits) {
        return None;
    }
    runtime.compiled_file(&std::fs::read(&path).ok()?)
}

fn load_unpacked(runtime: &Runtime, root: &Path, owner: Option<(&str, &str)>, quotas: &Quotas) -> Result<Arc<Game>, String> {
    let mut game = Game::load(runtime, root).map_err(|e| e.to_string())?;
    let Some(g) = Arc::get_mut(&mut game) else { return Err("the game was loaded twice".into()) };
    if let Some((researcher, version)) = owner {
        Arc::make_mut(&mut g.manifest).name = crate::hosting::accounts::game_key(researcher, &g.manifest.name, version);
    }
    if let Some(ms) = quotas.deadline_ms {
        g.limits.deadline = g.limits.deadline.min(std::time::Duration::from_millis(ms));
    }
    if let Some(mb) = quotas.memory_mb {
        g.limits.memory_bytes = g.limits.memory_bytes.min(mb << 20);
    }
    Ok(game)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, body) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            if kind.is_symlink() {
                h.set_link_name("/etc/passwd").expect("link");
            }
            // Write the name bytes raw: `set_path` itself refuses `..`.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_cksum();
            b.append(&h, *body).expect("append");
        }
        b.into_inner().expect("tar")
    }

    fn refusal(archive: &[u8]) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        unpack(archive, dir.path(), &Caps { entries: 4, unpacked_bytes: 100, ..Caps::default() }).expect_err("refused")
    }

    #[test]
    fn traversal_links_and_oversize_are_refused_with_the_entry() {
        let file = tar::EntryType::Regular;
        assert!(refusal(&tar_of(&[("../evil", file, b"x")])).contains("entry `../evil`"));
        assert!(refusal(&tar_of(&[("/abs", file, b"x")])).contains("absolute"));
        let link = refusal(&tar_of(&[("game.toml", tar::EntryType::Symlink, b"")]));
        assert!(link.contains("is a link"), "{link}");
        assert!(refusal(&tar_of(&[("a", file, &[0u8; 101])])).contains("more than 100 bytes"));
        let many: Vec<(&str, tar::EntryType, &[u8])> = ["a", "b", "c", "d", "e"].iter().map(|n| (*n, file, &b""[..])).collect();
        assert!(refusal(&tar_of(&many)).contains("more than 4 entries"));
        assert!(refusal(b"this is not a tar archive at all, just text that goes on").contains("tar"));
        assert!(refusal(&tar_of(&[("x/readme", file, b"hi")])).contains("no game.toml"));
    }

    /// A gzip'd tar whose first header is a GNU long name (`L`) declaring `declared` bytes,
    /// followed by that many zeros (they compress to almost nothing).
    fn long_name_bomb(declared: u64) -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::GNULongName);
        h.set_size(declared);
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_cksum();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, h.as_bytes()).expect("header");
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..declared >> 20 {
            std::io::Write::write_all(&mut gz, &zeros).expect("zeros");
        }
        gz.finish().expect("gzip")
    }

    #[test]
    fn a_long_name_bigger_than_the_stream_cap_is_refused_before_it_is_read_whole() {
        // 512 MiB of long name in a gzip of about half a MiB: refused at the stream cap (here
        // 8 MiB), with the reason, having read no more than that.
        let bomb = long_name_bomb(512 << 20);
        assert!(bomb.len() < Caps::default().archive_bytes, "{} bytes", bomb.len());
        let dir = tempfile::tempdir().expect("tempdir");
        let caps = Caps { stream_bytes: 8 << 20, ..Caps::default() };
        let err = unpack(&bomb, dir.path(), &caps).expect_err("refused");
        assert_eq!(err, "the archive decompresses to more than 8388608 bytes (headers included)");
        // A stream exactly at the cap is fine: the cap counts what is there, not what follows.
        let package = tar_of(&[("game.toml", tar::EntryType::Regular, b"name = 'g'")]);
        let at_cap = Caps { stream_bytes: package.len() as u64, ..Caps::default() };
        unpack(&package, tempfile::tempdir().expect("tempdir").path(), &at_cap).expect("exactly at the cap");
    }

    #[test]
    fn a_package_in_one_top_folder_is_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = tar_of(&[("g/game.toml", tar::EntryType::Regular, b"name = 'g'")]);
        let root = unpack(&archive, dir.path(), &Caps::default()).expect("unpacks");
        assert_eq!(root, dir.path().join("g"));
    }
}
