//! The state file that says how much of the output is durable.
//!
//! The state file (`--checkpoint`) is one JSON object, replaced atomically
//! ([`write_atomically`]) after each page:
//!
//! ```json
//! {"paceline_extract":1,"output":"out.jsonl","output_bytes":123456,"checkpoint":{...}}
//! ```
//!
//! `checkpoint` is the walk's [`Checkpoint`] as the core wrote
//! it; `output_bytes` is the length of the output file when that checkpoint was taken. The
//! order is records first (flushed and `fsync`ed), then the state file, so the state never
//! covers records a crash could lose. On resume the output is cut back to `output_bytes`
//! (records written after the last checkpoint are requested again), so the file ends up with
//! every record exactly once. Neither holds a header value: the checkpoint's fingerprint
//! covers the method, URL and body only.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use paceline::breaker::BreakerState;
use paceline::paginate::Checkpoint;
use paceline_ureq::{CheckpointStore, write_atomically};
use serde::{Deserialize, Serialize};

use super::output::Output;

/// The state file's format version.
const STATE_VERSION: u32 = 1;

/// The state file's content.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    paceline_extract: u32,
    /// The output file, as given (`None`: standard output).
    output: Option<PathBuf>,
    /// The output's length when `checkpoint` was taken.
    output_bytes: u64,
    checkpoint: serde_json::Value,
    /// The Pacer's breakers when a run stopped on an outage (exit 3): a resumed run starts
    /// from them, so it waits for the probe the stopped run was waiting for instead of
    /// hammering a server that is still down with a fresh breaker's attempts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    breakers: Vec<BreakerState>,
}

/// A state file read back for `--resume`.
#[derive(Debug)]
pub struct Saved {
    pub output: Option<PathBuf>,
    pub output_bytes: u64,
    /// The walk's checkpoint, as [`Checkpoint::to_bytes`] wrote it.
    pub checkpoint: Vec<u8>,
    /// The breakers of a run that stopped on an outage.
    pub breakers: Vec<BreakerState>,
}

/// Reads the state file at `path`: `Ok(None)` when there is none.
///
/// # Errors
/// When it cannot be read, or is not a state file of this version.
pub fn load(path: &Path) -> Result<Option<Saved>, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: cannot open: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    file.take(Checkpoint::MAX_LEN as u64 + 4096)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let state: State = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a paceline extract checkpoint: {e}", path.display()))?;
    if state.paceline_extract != STATE_VERSION {
        return Err(format!(
            "{}: checkpoint version {} (this build reads {STATE_VERSION})",
            path.display(),
            state.paceline_extract
        ));
    }
    Ok(Some(Saved {
        output: state.output,
        output_bytes: state.output_bytes,
        checkpoint: serde_json::to_vec(&state.checkpoint).expect("a JSON value serializes"),
        breakers: state.breakers,
    }))
}

/// Adds the Pacer's breakers to the state file at `path` (after a run stopped on an outage,
/// its last save written): replaced atomically, the rest as it was.
///
/// # Errors
/// When the file cannot be read back or written.
pub fn save_breakers(path: &Path, breakers: Vec<BreakerState>) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut state: State = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a paceline extract checkpoint: {e}", path.display()))?;
    state.breakers = breakers;
    let bytes = serde_json::to_vec(&state).expect("a state serializes");
    write_atomically(path, &bytes).map_err(|e| e.to_string())
}

/// The walk's [`CheckpointStore`]: each save first makes the output durable, then replaces the
/// state file atomically with the checkpoint and the output's length.
///
/// Both happen on a thread of the store's own, so the walk fetches and writes the next pages
/// while the disk catches up (three `fsync`s a page would otherwise bound a fast extract). The
/// order within a save is kept — output synced, then the state written — and each state records
/// the output's length at its page's end, so a crash at any moment leaves a state that covers
/// only durable records: at worst the pages after it are requested again on resume (the output
/// is cut back to the state's length), each record still once. When pages come faster than the
/// disk syncs, the thread writes the newest state and skips the ones it overtook. Dropping the
/// store writes the last state saved; [`StateFlush::error`] then says whether any save failed.
pub struct StateStore {
    path: PathBuf,
    output_name: Option<PathBuf>,
    output: Arc<Mutex<Output>>,
    /// What `load` hands the walk (the checkpoint resumed from), once.
    initial: Option<Vec<u8>>,
    writer: Option<JoinHandle<()>>,
    shared: Arc<Saves>,
}

/// The newest state waiting to be written, and how the saves went; shared with the writer.
#[derive(Default)]
struct Saves {
    pending: Mutex<Pending>,
    wake: Condvar,
    error: Mutex<Option<io::Error>>,
}

#[derive(Default)]
struct Pending {
    state: Option<Vec<u8>>,
    /// The writer is saving a state it took.
    busy: bool,
    closed: bool,
}

/// A handle on a [`StateStore`]'s saves that outlives it.
#[derive(Clone)]
pub struct StateFlush(Arc<Saves>);

impl StateFlush {
    /// Blocks until every state saved so far is written (or failed): for an exit that must
    /// leave the newest checkpoint behind (Ctrl-C).
    pub fn wait_idle(&self) {
        let mut p = self
            .0
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while p.state.is_some() || p.busy {
            p = self.0.wake.wait(p).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The first save that failed, if any (its output sync or its state file).
    pub fn error(&self) -> Option<io::Error> {
        let e = self.0.error.lock().unwrap_or_else(PoisonError::into_inner);
        e.as_ref().map(|e| io::Error::new(e.kind(), e.to_string()))
    }
}

/// Makes the output durable, then writes `state`.
fn save_now(output: &Mutex<Output>, path: &Path, state: &[u8]) -> io::Result<()> {
    // Flush under the lock, wait for the disk without it: the walk goes on writing meanwhile.
    let (file, _) = output
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .flush_for_sync()?;
    if let Some(f) = file {
        f.sync_data()?;
    }
    write_atomically(path, state)
}

impl StateStore {
    pub fn new(
        path: PathBuf,
        output_name: Option<PathBuf>,
        output: Arc<Mutex<Output>>,
        initial: Option<Vec<u8>>,
    ) -> Self {
        let shared = Arc::new(Saves::default());
        let writer = {
            let (path, output, shared) = (path.clone(), Arc::clone(&output), Arc::clone(&shared));
            std::thread::Builder::new()
                .name("paceline-state".into())
                .spawn(move || {
                    loop {
                        let state = {
                            let mut p = shared
                                .pending
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner);
                            loop {
                                if let Some(s) = p.state.take() {
                                    p.busy = true;
                                    break s;
                                }
                                if p.closed {
                                    return;
                                }
                                p = shared.wake.wait(p).unwrap_or_else(PoisonError::into_inner);
                            }
                        };
                        if let Err(e) = save_now(&output, &path, &state) {
                            shared
                                .error
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .get_or_insert(e);
                        }
                        shared
                            .pending
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .busy = false;
                        shared.wake.notify_all();
                    }
                })
                .ok()
        };
        StateStore {
            path,
            output_name,
            output,
            initial,
            writer,
            shared,
        }
    }

    /// A handle to ask, once the store is dropped, whether every save succeeded.
    pub fn flush_handle(&self) -> StateFlush {
        StateFlush(Arc::clone(&self.shared))
    }
}

impl Drop for StateStore {
    fn drop(&mut self) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed = true;
        self.shared.wake.notify_all();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

impl CheckpointStore for StateStore {
    fn load(&mut self) -> io::Result<Option<Vec<u8>>> {
        Ok(self.initial.take())
    }

    fn save(&mut self, checkpoint: &[u8]) -> io::Result<()> {
        if let Some(e) = StateFlush(Arc::clone(&self.shared)).error() {
            return Err(e);
        }
        let output_bytes = self
            .output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .written();
        let checkpoint: serde_json::Value = serde_json::from_slice(checkpoint)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let state = State {
            paceline_extract: STATE_VERSION,
            output: self.output_name.clone(),
            output_bytes,
            checkpoint,
            breakers: Vec::new(),
        };
        let bytes = serde_json::to_vec(&state).expect("the state serializes");
        if self.writer.is_none() {
            // No thread could be started: save here.
            return save_now(&self.output, &self.path, &bytes);
        }
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .state = Some(bytes);
        self.shared.wake.notify_all();
        Ok(())
    }
}
