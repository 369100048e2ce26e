//! [`Fs`]: segments as files in a folder, named by [`format::file_name`]. Prepared segments are
//! written directly ([`super::direct`]) where the file system takes it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;

use super::direct::{self, Direct};
use super::{SegmentFile, Segments};
use crate::journal::format;

/// The segments in one folder (created when first listed).
pub(crate) struct Fs {
    dir: PathBuf,
}

impl Fs {
    /// The segments in `dir`.
    pub(crate) fn new(dir: PathBuf) -> Fs {
        Fs { dir }
    }

    fn path(&self, number: u64) -> PathBuf {
        self.dir.join(format::file_name(number))
    }

    /// Creates segment `number` and makes its directory entry durable.
    fn create_file(&self, number: u64) -> io::Result<FsFile> {
        let path = self.path(number);
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(FsFile { number, path, file, direct: None })
    }

    /// [`Segments::prepare`], then the file opened again for direct writes if it can be.
    fn prepare_file(&self, number: u64, bytes: u64) -> io::Result<FsFile> {
        let mut segment = self.create_file(number)?;
        let zeros = vec![0u8; 1 << 20];
        let mut at = 0;
        while at < bytes {
            let n = (bytes - at).min(zeros.len() as u64);
            segment.file.write_all_at(&zeros[..n as usize], at)?;
            at += n;
        }
        segment.file.sync_all()?;
        if let Some(file) = direct::open(&segment.path) {
            segment = FsFile { file, direct: Some(Direct::new()), ..segment };
        }
        Ok(segment)
    }
}

impl std::fmt::Display for Fs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.dir.display().fmt(f)
    }
}

impl Segments for Fs {
    fn create(&self, number: u64) -> io::Result<Box<dyn SegmentFile>> {
        Ok(Box::new(self.create_file(number)?))
    }

    fn prepare(&self, number: u64, bytes: u64) -> io::Result<Box<dyn SegmentFile>> {
        Ok(Box::new(self.prepare_file(number, bytes)?))
    }

    fn list(&self) -> io::Result<Vec<u64>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&self.dir)?;
                return Ok(Vec::new());
            }
            entries => entries?,
        };
        let mut found = Vec::new();
        for entry in entries {
            if let Some(number) = entry?.file_name().to_str().and_then(format::segment_number) {
                found.push(number);
            }
        }
        found.sort();
        Ok(found)
    }

    fn read(&self, number: u64) -> io::Result<Vec<u8>> {
        std::fs::read(self.path(number))
    }

    fn remove(&self, number: u64) -> io::Result<()> {
        std::fs::remove_file(self.path(number))
    }
}

/// A segment file being written: through the page cache (a `pwrite` and an `fdatasync`), or
/// directly when it was prepared on a file system that takes it.
struct FsFile {
    number: u64,
    path: PathBuf,
    file: File,
    /// Set when `file` was opened for direct, synchronous writes.
    direct: Option<Direct>,
}

impl SegmentFile for FsFile {
    fn write_at(&mut self, bytes: &[u8], at: u64) -> io::Result<()> {
        if let Some(direct) = &mut self.direct {
            match direct.write(&self.file, at, bytes) {
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    // The device wants another alignment: write this segment through the page cache.
                    tracing::warn!("journal segment {} cannot be written directly ({e}); writing through the page cache", self.number);
                    self.direct = None;
                    self.file = OpenOptions::new().write(true).open(&self.path)?;
                }
                done => return done,
            }
        }
        self.file.write_all_at(bytes, at)
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.direct.is_some() { Ok(()) } else { self.file.sync_data() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepared_segment_is_written_directly_and_reads_back_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = Fs::new(dir.path().join("journal"));
        assert_eq!(fs.list().expect("list"), Vec::<u64>::new(), "a new folder");
        let mut file = fs.prepare_file(3, 8192).expect("prepare");
        let mut bytes = format::header().to_vec();
        file.write_at(&bytes, 0).expect("header");
        // Records crossing their blocks' ends, each written and synced as the writer does.
        for i in 0..60u32 {
            let at = bytes.len();
            format::encode(&mut bytes, &i.to_be_bytes(), &[3; 100]).expect("fits");
            file.write_at(&bytes[at..], at as u64).expect("write");
            file.sync().expect("sync");
        }
        assert!(file.direct.is_some(), "written directly throughout");
        let on_disk = fs.read(3).expect("read");
        assert_eq!(on_disk.len(), 8192, "no longer than prepared");
        let contents = format::read(&on_disk).expect("format");
        assert_eq!(contents.records.len(), 60);
        assert!(contents.corruption.is_none());
        assert_eq!(fs.list().expect("list"), vec![3]);
        fs.remove(3).expect("remove");
        assert!(fs.list().expect("list").is_empty());
    }
}
