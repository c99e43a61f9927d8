//! Ctrl-C: between pages the extract exits at once (the checkpoint covers everything written);
//! while a page is being written the run loop finishes it, saves the checkpoint and exits.
//!
//! The state is one [`Interrupt`] per run, shared (an `Arc`) by the run loop and the handler.
//! `ctrlc` takes one handler per process, so the first run installs it and every run points it
//! at its own `Interrupt` ([`arm`]): that installation is the only process-wide state, and what
//! a Ctrl-C does is decided by the run it points at.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use super::code;
use super::progress::{self, Limits};
use super::state::StateFlush;
use super::stats::Stats;

/// One run's Ctrl-C state.
pub(super) struct Interrupt {
    /// Set by the handler.
    requested: AtomicBool,
    /// Whether the run loop is between pages (fetching or waiting: everything written is
    /// covered by the checkpoint), so that the handler may exit at once. The loop holds the
    /// lock while it writes a page, so that it cannot start writing while the handler exits.
    fetching: Mutex<bool>,
    /// The run's checkpoint file: with one, an interrupted run is resumable.
    checkpoint: Option<PathBuf>,
    /// The run's state writer, waited on before exiting.
    saves: Option<StateFlush>,
    /// For the summary the handler prints.
    stats: Arc<Stats>,
    limits: Limits,
}

/// An interrupted run's exit code and what the summary says.
pub(super) type Stop = (u8, String);

impl Interrupt {
    pub(super) fn new(
        stats: Arc<Stats>,
        limits: Limits,
        checkpoint: Option<PathBuf>,
        saves: Option<StateFlush>,
    ) -> Arc<Self> {
        Arc::new(Self {
            requested: AtomicBool::new(false),
            fetching: Mutex::new(false),
            checkpoint,
            saves,
            stats,
            limits,
        })
    }

    /// Before a page is fetched: the stop if Ctrl-C came, else the loop is marked as between
    /// pages (the handler may exit at once).
    pub(super) fn fetching(&self) -> Result<(), Stop> {
        let mut fetching = self.lock();
        if self.requested.load(Relaxed) {
            return Err(self.stop());
        }
        *fetching = true;
        Ok(())
    }

    /// A page came back: until the returned guard is dropped the loop is writing it, and a
    /// Ctrl-C waits for the loop to stop at [`Writing::stop`].
    pub(super) fn writing(&self) -> Writing<'_> {
        let mut fetching = self.lock();
        *fetching = false;
        Writing {
            interrupt: self,
            _fetching: fetching,
        }
    }

    /// The exit code: resumable with a checkpoint, else the shell's for SIGINT.
    fn code(&self) -> u8 {
        if self.checkpoint.is_some() {
            code::INTERRUPTED
        } else {
            130
        }
    }

    fn stop(&self) -> Stop {
        let outcome = if self.checkpoint.is_some() {
            "interrupted; the checkpoint is saved: run the same command with --resume".into()
        } else {
            "interrupted; not resumable (no --checkpoint)".into()
        };
        (self.code(), outcome)
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        self.fetching.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The handler: between pages it exits at once (the checkpoint covers everything written);
    /// while a page is being written it lets the loop finish the page, save the checkpoint and
    /// exit.
    fn on_ctrlc(&self) {
        self.requested.store(true, Relaxed);
        let fetching = self.lock();
        if *fetching {
            // The checkpoint covering the last page written may still be on its way to disk.
            if let Some(saves) = &self.saves {
                saves.wait_idle();
            }
            let (code, outcome) = self.stop();
            eprintln!(
                "{}",
                progress::summary(
                    &self.stats,
                    None,
                    &self.limits,
                    &outcome,
                    self.checkpoint.as_deref()
                )
            );
            std::process::exit(i32::from(code));
        }
    }
}

/// The run loop writing a page (see [`Interrupt::writing`]).
pub(super) struct Writing<'a> {
    interrupt: &'a Interrupt,
    _fetching: MutexGuard<'a, bool>,
}

impl Writing<'_> {
    /// After the page is written and checkpointed: the stop if Ctrl-C came meanwhile.
    pub(super) fn stop(&self) -> Option<Stop> {
        let i = self.interrupt;
        i.requested.load(Relaxed).then(|| i.stop())
    }
}

/// The process's Ctrl-C handler, once installed: the run it stops (or why it could not be
/// installed). `ctrlc` takes one handler per process, so this cannot be per run.
static HANDLER: OnceLock<Result<Arc<Mutex<Arc<Interrupt>>>, String>> = OnceLock::new();

/// Points Ctrl-C at `run`, installing the handler if this is the process's first run.
pub(super) fn arm(run: &Arc<Interrupt>) {
    let handler = HANDLER.get_or_init(|| {
        let current = Arc::new(Mutex::new(Arc::clone(run)));
        let slot = Arc::clone(&current);
        ctrlc::set_handler(move || {
            let run = Arc::clone(&slot.lock().unwrap_or_else(PoisonError::into_inner));
            run.on_ctrlc();
        })
        .map(|()| current)
        .map_err(|e| e.to_string())
    });
    match handler {
        Ok(current) => *current.lock().unwrap_or_else(PoisonError::into_inner) = Arc::clone(run),
        Err(e) => eprintln!("paceline extract: Ctrl-C will not save a checkpoint: {e}"),
    }
}
