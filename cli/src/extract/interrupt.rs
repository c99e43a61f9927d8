//! Ctrl-C: between pages the extract exits at once (the checkpoint covers everything written);
//! while a page is being written the run loop finishes it, saves the checkpoint and exits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use super::code;
use super::output::StateFlush;
use super::progress::{self, Limits};
use super::stats::Stats;

/// Set by the Ctrl-C handler.
pub(super) static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Whether the extract loop is between pages (fetching or waiting: everything written is
/// covered by the checkpoint), so that the Ctrl-C handler may exit at once. Guarded by
/// [`PHASE`] so that the loop cannot start writing while the handler exits.
pub(super) static PHASE: Mutex<Phase> = Mutex::new(Phase {
    fetching: false,
    checkpoint: false,
});
/// The exit code the Ctrl-C handler uses.
pub(super) static INTERRUPT_CODE: AtomicU8 = AtomicU8::new(code::INTERRUPTED);

pub(super) struct Phase {
    pub(super) fetching: bool,
    pub(super) checkpoint: bool,
}

pub(super) fn phase() -> std::sync::MutexGuard<'static, Phase> {
    PHASE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs the Ctrl-C handler (once per process): between pages it exits at once (the
/// checkpoint covers everything written); while a page is being written it lets the loop
/// finish the page, save the checkpoint and exit.
/// The state writer of the running extract, for the Ctrl-C handler.
pub(super) static SAVES: std::sync::OnceLock<StateFlush> = std::sync::OnceLock::new();

pub(super) fn install_ctrlc(stats: Arc<Stats>, limits: Limits, checkpoint: Option<PathBuf>) {
    let result = ctrlc::set_handler(move || {
        INTERRUPTED.store(true, Relaxed);
        let phase = phase();
        if phase.fetching {
            // The checkpoint covering the last page written may still be on its way to disk.
            if let Some(saves) = SAVES.get() {
                saves.wait_idle();
            }
            let outcome = interrupted_outcome(phase.checkpoint);
            eprintln!(
                "{}",
                progress::summary(&stats, None, &limits, &outcome, checkpoint.as_deref())
            );
            std::process::exit(i32::from(INTERRUPT_CODE.load(Relaxed)));
        }
    });
    if let Err(e) = result {
        eprintln!("paceline extract: Ctrl-C will not save a checkpoint: {e}");
    }
}

pub(super) fn interrupted_outcome(checkpoint: bool) -> String {
    if checkpoint {
        "interrupted; the checkpoint is saved: run the same command with --resume".into()
    } else {
        "interrupted; not resumable (no --checkpoint)".into()
    }
}
