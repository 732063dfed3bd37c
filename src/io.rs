//! Output that never leaves a half-written file: [`AtomicFile`] writes to a temporary file beside the
//! target and renames it into place only on [`AtomicFile::commit`]; dropping it uncommitted removes the
//! temporary file and leaves any previous file untouched. [`Sink`] is stdout (`-`) or such a file. A
//! process ended by a signal runs no destructors, so every temporary file or directory being written is
//! also listed ([`Unfinished`]) for [`abandon_and_exit`] to remove.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::{Error, Result};

/// The temporary files and directories being written, by path.
static UNFINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn unfinished() -> MutexGuard<'static, Vec<PathBuf>> {
    // The list stays whole whatever a panicking thread was doing: entries are pushed and removed whole.
    UNFINISHED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A temporary file or directory on the list [`abandon_and_exit`] removes, for as long as this lives.
#[derive(Debug)]
pub struct Unfinished {
    path: PathBuf,
}

impl Unfinished {
    /// Lists `path` (a temporary file or directory just created).
    pub fn new(path: &Path) -> Self {
        unfinished().push(path.to_owned());
        Self { path: path.to_owned() }
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let mut list = unfinished();
        if let Some(at) = list.iter().position(|p| *p == self.path) {
            list.swap_remove(at);
        }
    }
}

/// Removes every listed temporary file and directory and ends the process with `code`, holding the list so
/// that no other is created meanwhile: for a run interrupted by a signal (Ctrl-C), which would otherwise
/// leave them behind, hidden and as large as the output written so far.
pub fn abandon_and_exit(code: i32) -> ! {
    let list = unfinished();
    for path in list.iter() {
        // Gone already is fine: a file renamed into place just now is complete.
        let _ = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    }
    std::process::exit(code)
}

/// A file being written; it replaces `path` only when committed.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    writer: BufWriter<tempfile::NamedTempFile>,
    /// Dropped after the writer, whose temporary file is then gone or renamed.
    _unfinished: Unfinished,
}

impl AtomicFile {
    /// Starts writing `path` (the temporary file is created in the same directory). An existing `path`
    /// must be a regular file: renaming over a directory or a device (`/dev/full`) would be wrong.
    pub fn create(path: &Path) -> Result<Self> {
        if let Ok(meta) = std::fs::metadata(path)
            && !meta.is_file()
        {
            let what = if meta.is_dir() { "is a directory" } else { "is not a regular file" };
            return Err(Error::io(path, std::io::Error::other(format!("{what}; expected a file path to write"))));
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".narrative-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| Error::io(path, e))?;
        let unfinished = Unfinished::new(temp.path());
        Ok(Self { path: path.to_owned(), writer: BufWriter::new(temp), _unfinished: unfinished })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<()> {
        let fail = |e: std::io::Error| Error::io(&self.path, e);
        let temp = self.writer.into_inner().map_err(|e| fail(e.into_error()))?;
        temp.as_file().sync_all().map_err(fail)?;
        temp.persist(&self.path).map_err(|e| fail(e.error))?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// Writes `path` through `write`; the file appears (or is replaced) only if everything succeeded.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(&mut file).map_err(|e| Error::io(path, e))?;
    file.commit()
}

/// Where a command's data goes: stdout, a file written atomically, or a device or pipe written directly.
#[derive(Debug)]
pub enum Sink {
    /// Standard output (buffered).
    Stdout(BufWriter<std::io::Stdout>),
    /// A file that appears only when complete.
    File(AtomicFile),
    /// An existing device, pipe or socket (`/dev/stdout`, `/dev/full`, a FIFO), written in place.
    Device(PathBuf, BufWriter<std::fs::File>),
}

impl Sink {
    /// `-` is stdout; an existing non-regular file is written in place; anything else is a file written
    /// atomically.
    pub fn create(path: &Path) -> Result<Self> {
        if path.as_os_str() == "-" {
            return Ok(Self::Stdout(BufWriter::with_capacity(1 << 16, std::io::stdout())));
        }
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() && !meta.is_dir() => {
                let file = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| Error::io(path, e))?;
                Ok(Self::Device(path.to_owned(), BufWriter::new(file)))
            }
            _ => AtomicFile::create(path).map(Self::File),
        }
    }

    /// Flushes stdout or the device, or commits the file.
    pub fn finish(self) -> Result<()> {
        match self {
            Self::Stdout(mut w) => w.flush().map_err(|e| Error::io("stdout", e)),
            Self::File(f) => f.commit(),
            Self::Device(path, mut w) => w.flush().map_err(|e| Error::io(path, e)),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Stdout(w) => w.write(buf),
            Self::File(f) => f.write(buf),
            Self::Device(_, w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Stdout(w) => w.flush(),
            Self::File(f) => f.flush(),
            Self::Device(_, w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        write_atomically(&path, |w| w.write_all(b"old")).unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
    }

    #[test]
    fn an_uncommitted_file_never_appears() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.csv");
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"half").unwrap();
        drop(f);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_temporary_file_is_listed_for_removal_until_committed_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let listed = |d: &Path| unfinished().iter().filter(|p| p.starts_with(d)).count();
        let (first, second) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        let committed = AtomicFile::create(&first).unwrap();
        let dropped = AtomicFile::create(&second).unwrap();
        assert_eq!(listed(dir.path()), 2);
        committed.commit().unwrap();
        assert_eq!(listed(dir.path()), 1);
        drop(dropped);
        assert_eq!(listed(dir.path()), 0);
        assert!(first.exists() && !second.exists());
    }

    #[test]
    fn devices_are_written_in_place_and_never_replaced() {
        let mut sink = Sink::create(Path::new("/dev/null")).unwrap();
        sink.write_all(b"discarded").unwrap();
        sink.finish().unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device(), "still the device");
        let err = AtomicFile::create(Path::new("/dev/null")).unwrap_err().to_string();
        assert!(err.contains("is not a regular file"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        assert!(AtomicFile::create(dir.path()).unwrap_err().to_string().contains("is a directory"));
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let err = write_atomically(Path::new("/nonexistent-dir/x.model"), |w| w.write_all(b"x")).unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent-dir/x.model:"), "{err}");
    }
}
