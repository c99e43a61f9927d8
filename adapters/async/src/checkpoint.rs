//! Where a page walk's checkpoints are kept: [`CheckpointStore`] and [`CheckpointFile`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use paceline::paginate::Checkpoint;

/// Where [`Pages`](crate::Pages) keeps its checkpoint: the bytes of
/// [`Checkpoint::to_bytes`], loaded once when the walk starts and saved after each page's
/// records were handed out.
///
/// Its methods may block: the walk runs them on the [`blocking`] thread pool, never on the
/// executor. A store that makes records durable (a file they are written to) flushes them in
/// `save` before persisting the checkpoint.
pub trait CheckpointStore: Send + 'static {
    /// The checkpoint saved last, or `None` (a first run).
    ///
    /// # Errors
    /// When the store cannot be read; the walk does not start.
    fn load(&mut self) -> io::Result<Option<Vec<u8>>>;

    /// Replaces the checkpoint: durable once `Ok`, and a crash during `save` leaves the old
    /// bytes or the new ones, never a mix.
    ///
    /// # Errors
    /// When the bytes could not be made durable; the walk stops.
    fn save(&mut self, checkpoint: &[u8]) -> io::Result<()>;
}

/// A checkpoint kept in one file, replaced atomically: written to a temporary file in the same
/// directory, `fsync`ed, renamed over the file, the directory `fsync`ed (as `paceline-ureq`'s
/// `write_atomically`).
///
/// ```
/// use paceline_async::{CheckpointFile, CheckpointStore};
///
/// let dir = std::env::temp_dir().join(format!("paceline-async-doc-{}", std::process::id()));
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
}

/// Distinguishes the temporary files of several writers in one process.
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl CheckpointStore for CheckpointFile {
    /// Reads at most [`Checkpoint::MAX_LEN`]` + 1` bytes: a huge file is refused by
    /// [`Checkpoint::from_bytes`] rather than filling memory.
    fn load(&mut self) -> io::Result<Option<Vec<u8>>> {
        let file = match File::open(&self.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            file => file.map_err(|e| named(e, &self.path))?,
        };
        let mut bytes = Vec::new();
        file.take(Checkpoint::MAX_LEN as u64 + 1)
            .read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    fn save(&mut self, checkpoint: &[u8]) -> io::Result<()> {
        let path = &self.path;
        let name = path
            .file_name()
            .ok_or_else(|| named(io::ErrorKind::InvalidInput.into(), path))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(
            ".{}.{}.{seq}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)?;
            file.write_all(checkpoint)?;
            file.sync_all()?;
            fs::rename(&temp, path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(named(e, path));
        }
        #[cfg(unix)]
        match File::open(dir)?.sync_all() {
            // Filesystems that cannot sync a directory say EINVAL.
            Err(e) if e.kind() != io::ErrorKind::InvalidInput && e.raw_os_error() != Some(22) => {
                return Err(named(e, path));
            }
            _ => {}
        }
        Ok(())
    }
}

fn named(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
