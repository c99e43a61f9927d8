//! Where a page walk's checkpoints are kept: [`CheckpointStore`], and the file that keeps them
//! crash-safely, [`CheckpointFile`].

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use paceline::paginate::Checkpoint;

/// Where a driver's page walk keeps its checkpoint: the bytes of [`Checkpoint::to_bytes`],
/// saved after each page's records were handed out and loaded once, when the walk starts.
///
/// [`CheckpointFile`] is the one to use. Implement this to keep checkpoints elsewhere, or to
/// make something else durable *first*: an extract that writes records to a file should flush
/// and sync that file in `save` before persisting the checkpoint, so that a checkpoint never
/// covers records that a crash could still lose.
///
/// Its methods may block: an async driver runs them on a blocking thread pool, never on its
/// executor.
pub trait CheckpointStore: Send + 'static {
    /// The checkpoint saved last, or `None` when there is none (a first run).
    ///
    /// # Errors
    /// When the store cannot be read; the walk does not start.
    fn load(&mut self) -> io::Result<Option<Vec<u8>>>;

    /// Replaces the checkpoint. When this returns `Ok`, the bytes must survive a crash (a power
    /// loss included), and a crash *during* `save` must leave either the old bytes or the new
    /// ones, never a mix.
    ///
    /// # Errors
    /// When the bytes could not be made durable; the walk stops with
    /// [`PagesError::Checkpoint`](paceline::paginate::PagesError::Checkpoint).
    fn save(&mut self, checkpoint: &[u8]) -> io::Result<()>;
}

/// A checkpoint kept in one file, replaced atomically: see [`write_atomically`].
///
/// ```
/// use paceline_driver::{CheckpointFile, CheckpointStore};
///
/// let dir = std::env::temp_dir().join(format!("paceline-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let mut file = CheckpointFile::new(dir.join("walk.json"));
/// assert_eq!(file.load()?, None);
/// file.save(br#"{"version":1}"#)?;
/// assert_eq!(file.load()?.as_deref(), Some(&br#"{"version":1}"#[..]));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    /// The checkpoint at `path`. Nothing is read or created until the walk starts.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CheckpointFile { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl CheckpointStore for CheckpointFile {
    /// Reads the file: `None` when it does not exist. At most
    /// [`Checkpoint::MAX_LEN`]` + 1` bytes are read, so that a huge file is reported as too
    /// large by [`Checkpoint::from_bytes`] rather than filling memory.
    fn load(&mut self) -> io::Result<Option<Vec<u8>>> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(with_path(e, "cannot open", &self.path)),
        };
        let mut bytes = Vec::new();
        file.take(Checkpoint::MAX_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| with_path(e, "cannot read", &self.path))?;
        Ok(Some(bytes))
    }

    fn save(&mut self, checkpoint: &[u8]) -> io::Result<()> {
        write_atomically(&self.path, checkpoint)
    }
}

/// Distinguishes the temporary files of several writers in one process.
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Replaces the file at `path` with `bytes` so that a crash at any moment leaves either the old
/// content or the new one, and the new one survives a power loss once this returns:
///
/// 1. write `bytes` to a temporary file in the same directory (`.NAME.PID.SEQ.tmp`: a rename
///    is atomic only within one filesystem);
/// 2. `fsync` it (its content is on disk before its name is);
/// 3. rename it over `path` (atomic on POSIX filesystems; on Windows, `MoveFileEx` with
///    replace);
/// 4. `fsync` the directory (the rename itself is on disk). Filesystems that cannot sync a
///    directory (they answer `EINVAL`) are tolerated.
///
/// On error the temporary file is removed (a crash may leave one behind: harmless, and never
/// read).
///
/// # Errors
/// When `path` has no file name, or any step fails; the message names the path.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file path", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let temp = dir.join(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(with_path(e, "cannot write", path));
    }
    sync_dir(dir).map_err(|e| with_path(e, "cannot sync the directory of", path))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir)?.sync_all() {
        Err(e) if e.kind() == io::ErrorKind::InvalidInput || e.raw_os_error() == Some(22) => Ok(()),
        other => other,
    }
}

/// Windows has no directory handle to sync; the rename's durability is the filesystem's.
#[cfg(not(unix))]
fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        PathError(format!("{what} {}: {e}", path.display())),
    )
}

/// An I/O error's message with the path it concerns.
#[derive(Debug)]
struct PathError(String);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PathError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "paceline-driver-{name}-{}-{}",
            std::process::id(),
            TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_and_leaves_no_temporary_file() {
        let dir = temp_dir("atomic");
        let path = dir.join("cp.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["cp.json"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let err = write_atomically(Path::new("/"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn errors_name_the_path_and_clean_up() {
        let dir = temp_dir("missing");
        let path = dir.join("no/such/dir/cp.json");
        let err = write_atomically(&path, b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("no/such/dir/cp.json"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_is_none_when_missing_and_bounded_when_huge() {
        let dir = temp_dir("load");
        let mut file = CheckpointFile::new(dir.join("cp.json"));
        assert_eq!(file.load().unwrap(), None);
        fs::write(file.path(), vec![b' '; Checkpoint::MAX_LEN + 100]).unwrap();
        assert_eq!(file.load().unwrap().unwrap().len(), Checkpoint::MAX_LEN + 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
