//! Output that never leaves a half-written file: [`AtomicFile`] writes to a temporary file beside the
//! target and renames it into place only on [`AtomicFile::commit`]; dropping it uncommitted removes the
//! temporary file and leaves any previous file untouched. [`AtomicDir`] does the same for a directory of
//! files. [`Sink`] is stdout (`-`) or such a file. A process ended by a signal runs no destructors, so
//! every temporary file or directory being written is also listed ([`Unfinished`]) for
//! [`abandon_and_exit`] to remove.

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

/// Names a temporary twin of an output: hidden, and plainly ours. The twin becomes the output, so on Unix
/// it is created with `mode` (`0o666` for a file, `0o777` for a directory) less the umask, as
/// `File::create` or `create_dir` would make the output, not tempfile's owner-only default.
#[cfg_attr(not(unix), allow(unused_variables))]
fn twin(mode: u32) -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".narrative-").suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
    builder
}

/// Gives the twin at `twin` the permissions of the output it will replace, if there is one (`replaced`):
/// writing over an output keeps its mode, as writing it in place would.
fn keep_permissions(twin: &Path, replaced: Option<std::fs::Metadata>, output: &Path) -> Result<()> {
    match replaced {
        Some(meta) => std::fs::set_permissions(twin, meta.permissions()).map_err(|e| Error::io(output, e)),
        None => Ok(()),
    }
}

/// The directory `path` is in (`.` for a bare name), where its temporary twin is written.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A file being written; it replaces `path` only when committed.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    writer: BufWriter<WriteBehind>,
    /// Dropped after the writer, whose temporary file is then gone or renamed.
    _unfinished: Unfinished,
}

impl AtomicFile {
    /// Starts writing `path` (the temporary file is created in the same directory). An existing `path`
    /// must be a regular file: renaming over a directory or a device (`/dev/full`) would be wrong.
    pub fn create(path: &Path) -> Result<Self> {
        let replaced = std::fs::metadata(path).ok();
        if let Some(meta) = &replaced
            && !meta.is_file()
        {
            let what = if meta.is_dir() { "is a directory" } else { "is not a regular file" };
            return Err(Error::io(path, std::io::Error::other(format!("{what}; expected a file path to write"))));
        }
        let temp = twin(0o666).tempfile_in(parent_dir(path)).map_err(|e| Error::io(path, e))?;
        let unfinished = Unfinished::new(temp.path());
        keep_permissions(temp.path(), replaced, path)?;
        let writer = BufWriter::new(WriteBehind::new(temp).map_err(|e| Error::io(path, e))?);
        Ok(Self { path: path.to_owned(), writer, _unfinished: unfinished })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<()> {
        let fail = |e: std::io::Error| Error::io(&self.path, e);
        let temp = self.writer.into_inner().map_err(|e| fail(e.into_error()))?.sync().map_err(fail)?;
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

/// A file whose data is synced to disk on a thread of its own while more is written: every
/// [`WriteBehind::STEP`] bytes the [`Syncer`] is asked to sync what is there, so that the sync on commit
/// only waits for the last of it. On the VM we measure on, a sync costs about 1 ms per MB written since the
/// last one, whether or not it was written back already (the host, it seems, makes the data durable only
/// when asked): 45 to 65 ms for the 45 MB of rows of a 100 MB classification, serial at the end of a run.
#[derive(Debug)]
struct WriteBehind {
    /// Dropped first: an uncommitted file is removed once no sync holds it.
    syncer: Syncer,
    file: tempfile::NamedTempFile,
    /// Bytes written since a sync was last asked for.
    unsynced: u64,
}

impl WriteBehind {
    const STEP: u64 = 1 << 20;

    fn new(file: tempfile::NamedTempFile) -> std::io::Result<Self> {
        let syncer = Syncer::start(file.as_file())?;
        Ok(Self { syncer, file, unsynced: 0 })
    }

    /// Waits for the syncs asked for, then syncs the rest of the file and its metadata.
    fn sync(mut self) -> std::io::Result<tempfile::NamedTempFile> {
        self.syncer.finish()?;
        self.file.as_file().sync_all()?;
        Ok(self.file)
    }
}

impl Write for WriteBehind {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.unsynced += n as u64;
        if self.unsynced >= Self::STEP {
            self.syncer.ask();
            self.unsynced = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A thread that syncs a file's data to disk whenever asked. Asking while a sync is waiting to start
/// does nothing: that sync covers all that was written before it starts.
#[derive(Debug)]
struct Syncer {
    asks: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Syncer {
    /// Starts the thread, which syncs a second handle of `file`.
    fn start(file: &std::fs::File) -> std::io::Result<Self> {
        let file = file.try_clone()?;
        let (asks, asked) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new().name("sync".into()).spawn(move || {
            for () in asked {
                file.sync_data()?;
            }
            Ok(())
        })?;
        Ok(Self { asks: Some(asks), thread: Some(thread) })
    }

    /// Asks for a sync of all that is written so far.
    fn ask(&self) {
        if let Some(asks) = &self.asks {
            // Full: a sync is waiting to start. Gone: a sync failed, and `finish` reports it.
            let _ = asks.try_send(());
        }
    }

    /// Waits for the syncs asked for and returns the first error of any: both handles share one
    /// open file, so an error a sync here has seen would not be reported again by the sync on commit.
    fn finish(&mut self) -> std::io::Result<()> {
        drop(self.asks.take());
        self.thread.take().map_or(Ok(()), |thread| thread.join().expect("syncing a file does not panic"))
    }
}

impl Drop for Syncer {
    /// Waits for the sync under way, if any.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Writes `path` through `write`; the file appears (or is replaced) only if everything succeeded.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(&mut file).map_err(|e| Error::io(path, e))?;
    file.commit()
}

/// A directory being written beside `path`; it takes the place of `path` only when committed, and
/// dropping it uncommitted removes it and leaves any previous directory untouched.
#[derive(Debug)]
pub struct AtomicDir {
    path: PathBuf,
    staging: tempfile::TempDir,
    /// Dropped after the staging directory, which is then gone or moved into place.
    _unfinished: Unfinished,
}

impl AtomicDir {
    /// Starts writing the directory `path`. An existing `path` must be a directory that is empty or holds
    /// `marker` (a file only this kind of directory has), so a mistyped path never replaces unrelated files.
    pub fn create(path: &Path, marker: &str) -> Result<Self> {
        let refuse = |why: String| Err(Error::io(path, std::io::Error::other(why)));
        let replaced = std::fs::metadata(path).ok();
        if let Some(meta) = &replaced {
            if !meta.is_dir() {
                return refuse("exists and is not a directory; expected a directory to write".into());
            }
            let mut entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
            if entries.next().is_some() && !path.join(marker).is_file() {
                return refuse(format!("exists and has no {marker}; not replacing a directory we did not write"));
            }
        }
        let staging = twin(0o777).tempdir_in(parent_dir(path)).map_err(|e| Error::io(path, e))?;
        let unfinished = Unfinished::new(staging.path());
        keep_permissions(staging.path(), replaced, path)?;
        Ok(Self { path: path.to_owned(), staging, _unfinished: unfinished })
    }

    /// The directory to write the files into.
    pub fn staging(&self) -> &Path {
        self.staging.path()
    }

    /// Moves the directory into place. An existing directory is swapped with it in one step where the
    /// system can (Linux `renameat2` with `RENAME_EXCHANGE`), so `path` always holds a whole directory,
    /// old or new; the old one is then removed. On failure the old directory stays and the new one goes.
    pub fn commit(self) -> Result<()> {
        let fresh = self.staging.keep();
        let placed = place(&fresh, &self.path);
        if placed.is_err() {
            // The new directory, or after a swap the old one: what is at `path` stays.
            let _ = std::fs::remove_dir_all(&fresh);
        }
        placed
    }
}

/// Moves the directory `fresh` to `path`, replacing a directory there (see [`AtomicDir::commit`]).
fn place(fresh: &Path, path: &Path) -> Result<()> {
    let fail = |e: std::io::Error| Error::io(path, e);
    if !path.exists() {
        return std::fs::rename(fresh, path).map_err(fail);
    }
    if exchange(fresh, path).map_err(fail)? {
        // `fresh` now holds the old directory (still listed, so an interruption removes it too).
        return std::fs::remove_dir_all(fresh).map_err(|e| Error::io(fresh, e));
    }
    // Two renames: an interruption between them leaves the old directory under a hidden name.
    let old = fresh.with_extension("old");
    std::fs::rename(path, &old).map_err(fail)?;
    if let Err(e) = std::fs::rename(fresh, path) {
        let _ = std::fs::rename(&old, path);
        return Err(fail(e));
    }
    std::fs::remove_dir_all(&old).map_err(|e| Error::io(old, e))
}

/// Swaps the sibling directories `a` and `b` in one step; `Ok(false)` where the system or the file
/// system cannot.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    use nix::errno::Errno;
    use nix::fcntl::{RenameFlags, renameat2};
    use std::os::unix::fs::OpenOptionsExt;
    let (Some(a_name), Some(b_name)) = (a.file_name(), b.file_name()) else { return Ok(false) };
    // A path descriptor: the directory needs no read permission, only the search the renames need anyway.
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_PATH | nix::libc::O_DIRECTORY)
        .open(parent_dir(b))?;
    match renameat2(&dir, a_name, &dir, b_name, RenameFlags::RENAME_EXCHANGE) {
        Ok(()) => Ok(true),
        Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Swaps the sibling directories `a` and `b`: not in one step on this system.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<bool> {
    Ok(false)
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
    #[cfg(target_os = "linux")]
    fn a_failed_background_sync_is_reported_when_finished() {
        // A pipe cannot be synced (EINVAL): the error the thread met comes back from `finish`, once.
        let (_reader, writer) = std::io::pipe().unwrap();
        let mut syncer = Syncer::start(&std::fs::File::from(std::os::fd::OwnedFd::from(writer))).unwrap();
        syncer.ask();
        let err = syncer.finish().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        syncer.ask();
        assert!(syncer.finish().is_ok(), "finished already");
    }

    #[cfg(unix)]
    #[test]
    fn outputs_get_the_mode_of_a_new_file_or_keep_the_one_they_replace() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
        // Whatever the umask, a new output gets what File::create and create_dir give.
        let plain = dir.path().join("plain.csv");
        std::fs::File::create(&plain).unwrap();
        let out = dir.path().join("out.csv");
        write_atomically(&out, |w| w.write_all(b"x")).unwrap();
        assert_eq!(mode(&out), mode(&plain));
        let plain_dir = dir.path().join("plain");
        std::fs::create_dir(&plain_dir).unwrap();
        let report = dir.path().join("report");
        AtomicDir::create(&report, "marker").unwrap().commit().unwrap();
        assert_eq!(mode(&report), mode(&plain_dir));
        // A replaced output keeps its mode.
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomically(&out, |w| w.write_all(b"y")).unwrap();
        assert_eq!((mode(&out), std::fs::read(&out).unwrap()), (0o640, b"y".to_vec()));
        std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o750)).unwrap();
        AtomicDir::create(&report, "marker").unwrap().commit().unwrap();
        assert_eq!(mode(&report), 0o750);
    }

    #[test]
    fn a_file_written_to_disk_step_by_step_is_whole_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        // Two and a half steps, in writes of uneven sizes that straddle the steps.
        let bytes: Vec<u8> = (0..WriteBehind::STEP * 5 / 2).map(|i| (i % 251) as u8).collect();
        write_atomically(&path, |w| bytes.chunks(1_000_003).try_for_each(|chunk| w.write_all(chunk))).unwrap();
        assert!(std::fs::read(&path).unwrap() == bytes);
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
    fn a_committed_directory_replaces_the_old_one_whole() {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("report");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("report.json"), "old").unwrap();
        std::fs::write(path.join("stale.txt"), "old").unwrap();
        let dir = AtomicDir::create(&path, "report.json").unwrap();
        std::fs::write(dir.staging().join("report.json"), "new").unwrap();
        assert_eq!(std::fs::read(path.join("stale.txt")).unwrap(), b"old", "untouched until committed");
        dir.commit().unwrap();
        assert_eq!(std::fs::read(path.join("report.json")).unwrap(), b"new");
        assert!(!path.join("stale.txt").exists(), "replaced, not merged");
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 1, "the old directory is removed");
    }

    #[test]
    fn an_uncommitted_directory_leaves_the_old_one() {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("out");
        std::fs::create_dir(&path).unwrap();
        let dir = AtomicDir::create(&path, "report.json").unwrap();
        std::fs::write(dir.staging().join("report.json"), "half").unwrap();
        drop(dir);
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 1);
        assert_eq!(std::fs::read_dir(&path).unwrap().count(), 0, "the empty directory is still there");
    }

    #[test]
    fn only_an_empty_or_marked_directory_is_replaced() {
        let parent = tempfile::tempdir().unwrap();
        let file = parent.path().join("notes.txt");
        std::fs::write(&file, "mine").unwrap();
        let err = AtomicDir::create(&file, "report.json").unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: exists and is not a directory", file.display())), "{err}");
        let unrelated = parent.path().join("documents");
        std::fs::create_dir(&unrelated).unwrap();
        std::fs::write(unrelated.join("thesis.tex"), "mine").unwrap();
        let err = AtomicDir::create(&unrelated, "report.json").unwrap_err().to_string();
        assert!(err.contains("has no report.json"), "{err}");
        assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 2, "no staging directory was made");
    }

    #[test]
    fn an_exchange_swaps_both_directories_or_neither() {
        let parent = tempfile::tempdir().unwrap();
        let (a, b) = (parent.path().join("a"), parent.path().join("b"));
        for dir in [&a, &b] {
            std::fs::create_dir(dir).unwrap();
            std::fs::write(dir.join("name"), dir.file_name().unwrap().as_encoded_bytes()).unwrap();
        }
        let swapped = exchange(&a, &b).unwrap();
        let expected: &[u8] = if swapped { b"b" } else { b"a" };
        assert_eq!(std::fs::read(a.join("name")).unwrap(), expected);
        if swapped {
            assert_eq!(std::fs::read(b.join("name")).unwrap(), b"a");
        }
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
