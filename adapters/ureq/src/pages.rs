//! The page iterator: [`Client::pages`] pumps the core's [`Handout`] (the page machine as
//! records handed out), sending every page request through the client, each on a thread of
//! its own when several are in flight, and persists the walk's checkpoints.
//!
//! The loop and the checkpoint rule are drawn in the [crate docs](crate#walking-a-list).

use std::fmt;
use std::iter::FusedIterator;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use http::{Request, Response};
use paceline::paginate::{
    Delivered, Handout, Next, PageEvent, PageSpec, Record, RecordPage, RequestTemplate, Save, Slot,
    Walk,
};

use crate::client::Client;
use crate::{CheckpointStore, Error, PageOptions, PagesError};
use paceline_driver::load_checkpoint;

/// A page request as the walk asks for it (`Err`: one `http` refused to build).
type Asked = Result<Request<Vec<u8>>, http::Error>;

/// The outcome of one page exchange, in its slot (`Err`: its thread panicked, with this).
type Done = std::thread::Result<(Slot, Result<Response<Vec<u8>>, Error>)>;

impl Client {
    /// Walks the list `template` asks for, paged as `spec` says (`None`: detected from the
    /// first response), every page request sent through this client (so the Pacer paces and
    /// retries it): an iterator of the list's [`Record`]s, in order, each once.
    ///
    /// The rules (which pages are requested again, when a checkpoint is saved, which guesses
    /// are sent ahead) are the core's page machine's ([`paceline::paginate::Pages`]); this
    /// iterator sends what it asks, hands out what it delivers and persists what it saves.
    /// With [`PageOptions::concurrency`] above 1, each page request in flight runs on a thread
    /// of its own (a clone of this client: one Pacer), and a slot is refilled as soon as its
    /// page is handed out.
    ///
    /// With a checkpoint store ([`PageOptions::checkpoint_file`]), the walk resumes from the
    /// stored checkpoint ([`Resume`](crate::Resume)) and saves one after each page's records were handed out;
    /// see the [crate docs](crate#walking-a-list) for exactly when.
    ///
    /// Requests to another origin (a next URL the guards allow,
    /// [`Guards::allowed_origins`](paceline::paginate::Guards::allowed_origins)) carry the
    /// template's headers but no credentials: `Authorization`, `Proxy-Authorization`, `Cookie`
    /// and the spec's [`Guards::credential_headers`](paceline::paginate::Guards) are removed.
    ///
    /// # Errors
    /// Before the first request: the spec or template is unusable ([`PagesError::Spec`]), the
    /// checkpoint cannot be loaded ([`PagesError::Checkpoint`]), is not a checkpoint
    /// ([`PagesError::BadCheckpoint`]), does not fit ([`PagesError::Resume`]: another request,
    /// another style), or is missing under [`Resume::Required`](crate::Resume::Required).
    pub fn pages(
        &self,
        spec: Option<PageSpec>,
        template: RequestTemplate,
        options: PageOptions,
    ) -> Result<Pages<'_>, PagesError> {
        let (config, held, mut store) = options.into_parts();
        let saved = match &mut store {
            Some(store) => load_checkpoint(store.as_mut(), config.resume)?,
            None => None,
        };
        let threads = config.concurrency > 1;
        let walk = Handout::start(spec, template, config, held, saved.as_deref(), lost)?;
        let (tx, rx) = mpsc::channel();
        Ok(Pages {
            client: self,
            walk,
            store,
            queued: Vec::new(),
            threads,
            running: 0,
            tx,
            rx,
        })
    }
}

/// What stands for a failed exchange's error that went missing (never expected).
fn lost() -> Error {
    Error::GaveUp {
        error: paceline::Error::Transport(paceline::retry::TransportError::after_send(
            paceline::retry::TransportKind::Other,
        )),
        attempts: Vec::new(),
    }
}

/// The records of a list, page after page: made by [`Client::pages`].
///
/// An [`Iterator`] of `Result<Record, PagesError>`; after an error or the end it yields
/// `None`. [`Pages::next_page`] hands out a page at a time instead (to make the records
/// durable before the checkpoint that covers them is saved, ask for the next page only once
/// they are).
///
/// Memory: one page body at a time (the records share it; see [`Record`]), the pages sent
/// ahead ([`PageOptions::concurrency`]) and the [`Walk`]'s state: a few counters, plus a
/// 16-byte hash per cursor or URL used (its loop guard) and, for offset walks with a key or
/// de-duplicating walks, per key. Measured with `examples/page_rss.rs`: peak RSS 4.4 MB
/// walking 100,000 records and 4.5 MB walking 1,000,000, in pages of 100.
///
/// Dropping it mid-walk (a crash, as far as the list is concerned) leaves the page requests
/// in flight to finish on their threads, unread; the next run resumes from the last saved
/// checkpoint.
pub struct Pages<'c> {
    client: &'c Client,
    walk: Handout<Error>,
    store: Option<Box<dyn CheckpointStore>>,
    /// Requests asked for and not yet sent (one at a time, without threads).
    queued: Vec<(Slot, Asked)>,
    /// Whether page requests run on threads of their own (concurrency above 1).
    threads: bool,
    /// Exchanges running on their threads.
    running: usize,
    tx: mpsc::Sender<Done>,
    rx: mpsc::Receiver<Done>,
}

impl Pages<'_> {
    /// The rest of the current page, or the next page: its records, all handed out at once.
    /// Asking for it means the caller is done with what it was given before, whose
    /// checkpoint is saved first (unless [`Pages::commit`] already did). Empty pages are not
    /// returned (their checkpoints are saved all the same).
    pub fn next_page(&mut self) -> Option<Result<RecordPage, PagesError>> {
        match self.pump()? {
            Ok(()) => self.walk.next_page().map(Ok),
            Err(e) => Some(Err(e)),
        }
    }

    /// Says the caller is done with every record handed out so far: when that is a whole page,
    /// its checkpoint is saved now rather than when the next record is asked for (before a
    /// graceful exit, so that a resumed walk does not deliver that page again). Returns
    /// whether a checkpoint was saved; `false` in the middle of a page (a checkpoint covers
    /// whole pages only), when it is already saved, or with no store.
    ///
    /// # Errors
    /// [`PagesError::Checkpoint`] when the store fails (the iterator is then over).
    pub fn commit(&mut self) -> Result<bool, PagesError> {
        if !self.walk.commit() {
            return Ok(false);
        }
        loop {
            match self.walk.poll() {
                Next::Save(save) => {
                    if self.save(&save) {
                        return Ok(true);
                    }
                }
                Next::Send(slot, request) => self.send(slot, request),
                Next::End(Some(error)) => return Err(error),
                // Nothing else comes before a delivered page's save.
                Next::Ready | Next::Wait | Next::End(None) => return Ok(false),
            }
        }
    }

    /// What was handed out so far.
    pub fn delivered(&self) -> Delivered {
        self.walk.delivered()
    }

    /// The next event of the walk (auto-detection, a style switch, drift, a next URL on an
    /// allowed origin, a garbled page requested again). Events are also logged to `tracing`
    /// as they happen. At most [`EVENTS_KEPT`](crate::EVENTS_KEPT) are kept: drain them after
    /// each page.
    pub fn poll_event(&mut self) -> Option<PageEvent> {
        self.walk.poll_event()
    }

    /// Events dropped because more than [`EVENTS_KEPT`](crate::EVENTS_KEPT) were waiting.
    pub fn events_dropped(&self) -> u64 {
        self.walk.events_dropped()
    }

    /// The walk (its style and spec, detected or given; its position; its state).
    pub fn walk(&self) -> &Walk {
        self.walk.walk()
    }

    /// Pumps the walk until records are in hand: `None` at the end, `Some(Err)` when the walk
    /// cannot go on.
    fn pump(&mut self) -> Option<Result<(), PagesError>> {
        loop {
            match self.walk.poll() {
                Next::Ready => return Some(Ok(())),
                Next::Send(slot, request) => self.send(slot, request),
                Next::Save(save) => {
                    self.save(&save);
                }
                Next::Wait => self.wait(),
                Next::End(end) => return end.map(Err),
            }
        }
    }

    /// Starts an exchange on a thread of its own, or queues it for [`Pages::wait`].
    fn send(&mut self, slot: Slot, request: Asked) {
        if !self.threads {
            return self.queued.push((slot, request));
        }
        let (client, tx) = (self.client.clone(), self.tx.clone());
        self.running += 1;
        std::thread::spawn(move || {
            let done =
                std::panic::catch_unwind(AssertUnwindSafe(|| (slot, exchange(&client, request))));
            // The walk may be gone: its outcome is then unread.
            let _ = tx.send(done);
        });
    }

    /// Waits for the first exchange to finish and reports it.
    fn wait(&mut self) {
        let (slot, outcome) = match self.queued.pop() {
            Some((slot, request)) => (slot, exchange(self.client, request)),
            None if self.running > 0 => {
                self.running -= 1;
                // Every thread sends once, panic or not; the walk holds a sender too.
                match self.rx.recv() {
                    Ok(Ok(done)) => done,
                    Ok(Err(panic)) => std::panic::resume_unwind(panic),
                    Err(mpsc::RecvError) => unreachable!("the walk holds a sender"),
                }
            }
            None => unreachable!("the machine waits only for what it asked"),
        };
        self.walk.on_sent(slot, outcome);
    }

    /// Persists a save and tells the walk how it went; false when it failed.
    fn save(&mut self, save: &Save) -> bool {
        let saved = match &mut self.store {
            Some(store) => store.save(&save.checkpoint.to_bytes()),
            None => Ok(()),
        };
        self.walk.on_save_done(save.page, saved)
    }
}

/// One page exchange through the client.
fn exchange(client: &Client, request: Asked) -> Result<Response<Vec<u8>>, Error> {
    client.send(request.map_err(|e| Error::InvalidRequest(ureq::Error::Http(e)))?)
}

impl Iterator for Pages<'_> {
    type Item = Result<Record, PagesError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.pump()? {
            Ok(()) => self.walk.next_record().map(Ok),
            Err(e) => Some(Err(e)),
        }
    }
}

impl FusedIterator for Pages<'_> {}

impl fmt::Debug for Pages<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("style", &self.walk.walk().style())
            .field("delivered", &self.delivered())
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}
