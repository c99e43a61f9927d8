//! What every paceline driver shares beyond the sans-IO core: where a page walk's checkpoints
//! are kept ([`CheckpointStore`], and [`CheckpointFile`], which replaces its file atomically),
//! how a walk is asked for ([`PageOptions`]), and how one request's exchange is pumped under
//! the Pacer all the client's requests share ([`SharedPacer`], [`Paced`]: the lock held only
//! for a decision, the requests waiting for a concurrency permit woken after every report,
//! the events forwarded; a blocking driver waits on the permit listener, an async one awaits
//! it).
//!
//! The core decides everything about a walk (its machine, [`paceline::paginate::Handout`],
//! says what to send, deliver and save); a driver does the I/O. The one piece of I/O that
//! every driver does alike, writing a checkpoint so that a crash leaves the old one or the new
//! one, lives here once: `paceline-ureq` and `paceline-async` re-export all of this crate, so
//! their users need not depend on it.
//!
//! ```
//! use paceline::paginate::Guards;
//! use paceline_driver::{PageOptions, Resume};
//!
//! let options = PageOptions::new()
//!     .checkpoint_file("issues.checkpoint.json")
//!     .resume(Resume::IfPresent)
//!     .page_retries(3)
//!     .concurrency(4)
//!     .guards(Guards::default().max_pages(500));
//! assert_eq!(options.config().concurrency, 4);
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use paceline::{Event, Now, Pacer};

pub use paceline::paginate::Resume;
use paceline::paginate::{Delivered, Guards, Hints, PagesConfig, PagesError};

mod checkpoint;
mod pacer;

pub use checkpoint::{CheckpointFile, CheckpointStore, write_atomically};
pub use event_listener::{EventListener, Listener};
pub use pacer::{Observer, Paced, SharedPacer, no_store};

/// How many times a page whose body is truncated or not JSON is requested again, by default:
/// [`paceline::paginate::DEFAULT_RESENDS`] (2: three responses in all).
pub const DEFAULT_PAGE_RETRIES: u32 = paceline::paginate::DEFAULT_RESENDS;

/// How a driver's page walk runs: where checkpoints go, whether to resume, how often to
/// re-request a garbled page, how many pages are requested at once, and the guards of an
/// auto-detected walk. The rules themselves are the core's ([`PagesConfig`]).
#[derive(Default)]
pub struct PageOptions {
    config: PagesConfig,
    store: Option<Box<dyn CheckpointStore>>,
    held: Vec<Vec<u8>>,
}

impl PageOptions {
    /// No checkpoints, [`Resume::IfPresent`], [`DEFAULT_PAGE_RETRIES`], one page at a time,
    /// default [`Guards`].
    pub fn new() -> Self {
        PageOptions::default()
    }

    /// Keeps checkpoints in the file at `path` ([`CheckpointFile`]: replaced atomically).
    pub fn checkpoint_file(self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint_store(CheckpointFile::new(path))
    }

    /// Keeps checkpoints in `store`.
    pub fn checkpoint_store(mut self, store: impl CheckpointStore) -> Self {
        self.store = Some(Box::new(store));
        self
    }

    /// What to do with a stored checkpoint (default [`Resume::IfPresent`]).
    pub fn resume(mut self, resume: Resume) -> Self {
        self.config.resume = resume;
        self
    }

    /// How many times a page whose body is truncated or not JSON is requested again (default
    /// [`DEFAULT_PAGE_RETRIES`]). Each request goes through the Pacer.
    pub fn page_retries(mut self, n: u32) -> Self {
        self.config.resends = n;
        self
    }

    /// Records the sink already holds past the stored checkpoint: those of the page a crash
    /// interrupted, written out before its checkpoint could be saved (a file's lines past the
    /// length it had at that checkpoint, say). When the resumed walk receives them again they
    /// are skipped, not handed out twice ([`paceline::paginate::Walk::already_delivered`];
    /// they are recognised by the spec's key, so without one this does nothing).
    pub fn already_delivered<R: Into<Vec<u8>>>(
        mut self,
        records: impl IntoIterator<Item = R>,
    ) -> Self {
        self.held = records.into_iter().map(Into::into).collect();
        self
    }

    /// Pages requested at once (default 1). Offset and page-number walks know their next
    /// positions: with `n` above 1, the pending page and the `n − 1` after it are in flight
    /// together, sharing the client's Pacer (which still paces every request; give it a
    /// concurrency limit too if the API has one), a slot refilled as soon as its page is
    /// handed out, pages read in order. A guess the walk does not take (a short page, a change
    /// of style) is dropped: it costs a request, never a record. Cursor, keyset and URL walks
    /// learn each position from the page before, so they request one page at a time whatever
    /// `n` is.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.config.concurrency = n.max(1);
        self
    }

    /// The guards of a walk without a spec (auto-detected); a spec carries its own.
    pub fn guards(mut self, guards: Guards) -> Self {
        self.config.guards = guards;
        self
    }

    /// What is known of how a list without a spec pages ([`Hints`]: a style, where the items
    /// or the next cursor are); the rest is detected from the first page.
    pub fn hints(mut self, hints: Hints) -> Self {
        self.config.hints = hints;
        self
    }

    /// The core's configuration these options make ([`PagesConfig::saves`] follows whether a
    /// store is set).
    pub fn config(&self) -> &PagesConfig {
        &self.config
    }

    /// What a driver starts a walk with: the core's configuration, the records already
    /// delivered, and the store (whose [`CheckpointStore::load`] gives the saved bytes when
    /// the configuration's [`PagesConfig::resume`] is not [`Resume::Never`]).
    pub fn into_parts(self) -> (PagesConfig, Vec<Vec<u8>>, Option<Box<dyn CheckpointStore>>) {
        let config = self.config.saves(self.store.is_some());
        (config, self.held, self.store)
    }
}

impl fmt::Debug for PageOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageOptions")
            .field("config", &self.config)
            .field("store", &self.store.as_ref().map(|_| "…"))
            .field("already_delivered", &self.held.len())
            .finish()
    }
}

/// The checkpoint a walk resumes from: `store`'s, unless `resume` is [`Resume::Never`]. A
/// store that cannot load is the walk's [`PagesError::Checkpoint`], before any request.
///
/// # Errors
/// [`PagesError::Checkpoint`], with the store's error.
pub fn load_checkpoint<E>(
    store: &mut dyn CheckpointStore,
    resume: Resume,
) -> Result<Option<Vec<u8>>, PagesError<E>> {
    if resume == Resume::Never {
        return Ok(None);
    }
    store.load().map_err(|error| PagesError::Checkpoint {
        error,
        delivered: Delivered::default(),
    })
}

/// Both clocks, read together: the `now` every call into the core takes.
pub fn clock() -> Now {
    Now::new(Instant::now(), SystemTime::now())
}

/// A seed for a Pacer's jitter: the process's random hash keys, mixed with the time.
pub fn os_seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.finish()
}

/// Takes the events the Pacer queued, to forward once its lock is released (allocates only
/// when there are some): the drain rule of [`Pacer::poll_event`].
pub(crate) fn drain(pacer: &mut Pacer) -> Vec<Event> {
    std::iter::from_fn(|| pacer.poll_event()).collect()
}

/// Takes the signals the Pacer queued for the other sharers of a shared budget, to publish
/// once its lock is released (allocates only when there are some): see
/// [`Pacer::poll_shared`].
pub(crate) fn drain_shared(pacer: &mut Pacer) -> Vec<paceline::shared::SharedSignal> {
    std::iter::from_fn(|| pacer.poll_shared()).collect()
}
