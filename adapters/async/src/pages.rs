//! The page walk: [`Client::pages`] drives the core's page machine
//! ([`paceline::paginate::Pages`]) with up to `concurrency` exchanges truly in flight, and
//! persists its checkpoints.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;

use futures_lite::{Stream, future, stream};
use http::Response;
use paceline::paginate::{
    Delivered, Delivery, Failure, Guards, Hints, Output, PageEvent, PageRequest, PageSpec,
    Pages as Machine, PagesConfig, Record, RecordPage, RequestTemplate, Resume, Save, Slot, Walk,
};

use crate::checkpoint::{CheckpointFile, CheckpointStore};
use crate::client::Client;
use crate::error::Error;
use crate::transport::{HttpTransport, Transport};

/// Why [`Pages`] stopped: the core's [`paceline::paginate::PagesError`] with this client's
/// [`Error`] for a failed request. After an error the walk is over.
pub type PagesError = paceline::paginate::PagesError<Error>;

/// How many [`PageEvent`]s [`Pages`] keeps for [`Pages::poll_event`] (all are logged).
pub const EVENTS_KEPT: usize = 256;

/// How [`Client::pages`] walks: as `paceline-ureq`'s `PageOptions`.
///
/// ```
/// use paceline_async::{PageOptions, Resume};
///
/// let options = PageOptions::new()
///     .checkpoint_file("issues.checkpoint.json")
///     .resume(Resume::IfPresent)
///     .concurrency(4);
/// # let _ = options;
/// ```
#[derive(Default)]
pub struct PageOptions {
    guards: Guards,
    hints: Hints,
    store: Option<Box<dyn CheckpointStore>>,
    resume: Resume,
    resends: Option<u32>,
    held: Vec<Vec<u8>>,
    concurrency: usize,
}

impl PageOptions {
    /// No checkpoints, [`Resume::IfPresent`], the core's resend bound, one page at a time.
    pub fn new() -> Self {
        PageOptions::default()
    }

    /// Keeps checkpoints in the file at `path` ([`CheckpointFile`]).
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
        self.resume = resume;
        self
    }

    /// How many times a truncated or non-JSON page is requested again (default
    /// [`paceline::paginate::DEFAULT_RESENDS`]).
    pub fn page_retries(mut self, n: u32) -> Self {
        self.resends = Some(n);
        self
    }

    /// Records the sink already holds past the stored checkpoint: skipped when the resumed
    /// walk receives them again ([`Machine::hold`]; recognised by the spec's key).
    pub fn already_delivered<R: Into<Vec<u8>>>(
        mut self,
        records: impl IntoIterator<Item = R>,
    ) -> Self {
        self.held = records.into_iter().map(Into::into).collect();
        self
    }

    /// Pages requested at once (default 1): the machine's slots, each an exchange in flight
    /// at the same time (offset and page-number walks; others learn each position from the
    /// page before).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The guards of a walk without a spec.
    pub fn guards(mut self, guards: Guards) -> Self {
        self.guards = guards;
        self
    }

    /// What is known of how a list without a spec pages.
    pub fn hints(mut self, hints: Hints) -> Self {
        self.hints = hints;
        self
    }
}

impl fmt::Debug for PageOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageOptions")
            .field("resume", &self.resume)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

type Exchange = Pin<Box<dyn Future<Output = (Slot, Result<Response<Vec<u8>>, Error>)> + Send>>;
type Store = Arc<Mutex<Box<dyn CheckpointStore>>>;

impl<T: Transport> Client<T> {
    /// Walks the list `template` asks for, paged as `spec` says (`None`: detected), every page
    /// request sent through this client: the list's [`Record`]s, in order, each once
    /// ([`Pages::next_record`], or [`Pages::into_stream`] for a [`Stream`]).
    ///
    /// The rules (what is requested, resent, saved and when) are the core machine's; this
    /// sends what it asks, hands out what it delivers and persists what it saves, a page's
    /// checkpoint only after its records were handed out.
    ///
    /// # Errors
    /// Before the first request: the spec or template is unusable, the checkpoint cannot be
    /// loaded, is not one, or does not fit.
    pub async fn pages(
        &self,
        spec: Option<PageSpec>,
        template: RequestTemplate,
        options: PageOptions,
    ) -> Result<Pages<T>, PagesError> {
        let PageOptions {
            guards,
            hints,
            store,
            resume,
            resends,
            held,
            concurrency,
        } = options;
        let store: Option<Store> = store.map(|s| Arc::new(Mutex::new(s)));
        let saved = match (&store, resume) {
            (Some(store), Resume::IfPresent | Resume::Required) => {
                let store = Arc::clone(store);
                blocking::unblock(move || lock(&store).load())
                    .await
                    .map_err(|error| PagesError::Checkpoint {
                        error,
                        delivered: Delivered::default(),
                    })?
            }
            _ => None,
        };
        let mut config = PagesConfig::default()
            .guards(guards.clone())
            .hints(hints)
            .resume(resume)
            .concurrency(concurrency)
            .saves(store.is_some());
        if let Some(n) = resends {
            config = config.resends(n);
        }
        let mut machine = Machine::start(spec, template, config, saved.as_deref())?;
        machine.hold(held.iter().map(Vec::as_slice));
        let secrets = machine
            .walk()
            .spec()
            .map_or(&guards, |s| &s.guards)
            .credential_headers
            .clone();
        Ok(Pages {
            client: self.clone(),
            errors: (0..concurrency.max(1)).map(|_| None).collect(),
            machine,
            store,
            saving: None,
            store_error: None,
            secrets,
            in_flight: Vec::new(),
            current: None,
            events: VecDeque::new(),
            done: false,
        })
    }
}

/// A list's records, page after page: made by [`Client::pages`].
///
/// Every method is cancel-safe: exchanges and a save in progress live in the walk, not in the
/// future that awaits them. Dropping the walk (a crash, as far as the list is concerned)
/// cancels the exchanges in flight; the next run resumes from the last saved checkpoint.
pub struct Pages<T: Transport = HttpTransport> {
    client: Client<T>,
    machine: Machine,
    store: Option<Store>,
    /// A save in progress on the blocking pool: its page and task.
    saving: Option<(u64, blocking::Task<io::Result<()>>)>,
    store_error: Option<io::Error>,
    /// The error of the last failed exchange in each slot.
    errors: Vec<Option<Error>>,
    secrets: Vec<String>,
    in_flight: Vec<Exchange>,
    current: Option<Current>,
    events: VecDeque<PageEvent>,
    done: bool,
}

/// The page being handed out.
struct Current {
    page: RecordPage,
    next: usize,
    /// Whether the machine was told it is delivered.
    told: bool,
}

impl<T: Transport> Pages<T> {
    /// The next record, `None` after the last one or an error.
    pub async fn next_record(&mut self) -> Option<Result<Record, PagesError>> {
        self.next_with(|cur| {
            cur.next += 1;
            cur.page.get(cur.next - 1)
        })
        .await
    }

    /// The rest of the current page, or the next page, all at once. Asking for it means the
    /// caller is done with what it was given before, whose checkpoint is saved first.
    pub async fn next_page(&mut self) -> Option<Result<RecordPage, PagesError>> {
        self.next_with(|cur| {
            let rest = cur.page.tail(cur.next);
            cur.next = cur.page.len();
            Some(rest)
        })
        .await
    }

    /// The records as a [`Stream`] (the walk is dropped with it).
    pub fn into_stream(self) -> impl Stream<Item = Result<Record, PagesError>> + Send {
        stream::unfold(self, |mut pages| async move {
            pages.next_record().await.map(|r| (r, pages))
        })
    }

    /// Says the caller is done with every record handed out: when that is a whole page, its
    /// checkpoint is saved now (before a graceful exit). Returns whether one was saved.
    ///
    /// # Errors
    /// [`PagesError::Checkpoint`] when the store fails (the walk is then over).
    pub async fn commit(&mut self) -> Result<bool, PagesError> {
        match &mut self.current {
            Some(cur) if cur.next == cur.page.len() && !cur.told && self.store.is_some() => {
                cur.told = true;
                self.machine.on_delivered(cur.page.number());
            }
            _ if self.saving.is_none() => return Ok(false),
            _ => {}
        }
        loop {
            if self.saving.is_some() {
                self.wait().await;
                if self.store_error.is_none() {
                    return Ok(true);
                }
                self.done = true;
                return match self.machine.poll() {
                    Output::Failed(f) => Err(self.error(f)),
                    _ => unreachable!("a failed save ends the walk"),
                };
            }
            match self.machine.poll() {
                out @ (Output::Save(_) | Output::Send { .. } | Output::Event(_)) => {
                    self.output(out);
                }
                // Nothing else comes before a delivered page's save.
                _ => return Ok(false),
            }
        }
    }

    /// What was handed out so far.
    pub fn delivered(&self) -> Delivered {
        let d = self.machine.delivered();
        match &self.current {
            Some(cur) if cur.next < cur.page.len() => {
                let left = (cur.page.len() - cur.next) as u64;
                let pages = d.pages.saturating_sub(1);
                let covered = self.machine.covered() == Some(pages);
                Delivered::new(
                    pages,
                    d.records.saturating_sub(left),
                    d.this_run.saturating_sub(left),
                    covered,
                )
            }
            _ => d,
        }
    }

    /// The next event of the walk (also logged to `tracing`); at most [`EVENTS_KEPT`] are kept.
    pub fn poll_event(&mut self) -> Option<PageEvent> {
        self.events.pop_front()
    }

    /// The walk: its style, spec, position and state.
    pub fn walk(&self) -> &Walk {
        self.machine.walk()
    }

    async fn next_with<R>(
        &mut self,
        take: impl FnOnce(&mut Current) -> Option<R>,
    ) -> Option<Result<R, PagesError>> {
        if self.done {
            return None;
        }
        if let Err(e) = self.pump().await {
            self.done = true;
            return e.map(Err);
        }
        take(self.current.as_mut()?).map(Ok)
    }

    /// Pumps the machine until a page with records left is in hand: `Err(None)` at the end.
    async fn pump(&mut self) -> Result<(), Option<PagesError>> {
        loop {
            if let Some(cur) = &mut self.current {
                if cur.next < cur.page.len() {
                    return Ok(());
                }
                if !cur.told {
                    cur.told = true;
                    self.machine.on_delivered(cur.page.number());
                }
            }
            match self.machine.poll() {
                Output::Idle => self.wait().await,
                out => {
                    if let Some(end) = self.output(out) {
                        return Err(end);
                    }
                }
            }
        }
    }

    /// Handles one output other than `Idle`; `Some` when the walk is over.
    fn output(&mut self, out: Output) -> Option<Option<PagesError>> {
        match out {
            Output::Send { slot, request } => self.start(slot, &request),
            Output::Event(e) => self.note(e),
            Output::Deliver(page) => self.deliver(page),
            Output::Save(save) => self.save(&save),
            Output::Idle => {}
            Output::Done(_) => return Some(None),
            Output::Failed(f) => return Some(Some(self.error(f))),
        }
        None
    }

    fn deliver(&mut self, page: Delivery) {
        self.current = Some(Current {
            page: RecordPage::from(page),
            next: 0,
            told: false,
        });
    }

    /// Starts one exchange: it runs whenever the walk is awaited, beside the others.
    fn start(&mut self, slot: Slot, request: &PageRequest) {
        let client = self.client.clone();
        let request = request.to_http(&self.secrets);
        self.in_flight.push(Box::pin(async move {
            match request {
                Ok(request) => (slot, client.send(request).await),
                Err(e) => (slot, Err(Error::InvalidRequest(e.to_string()))),
            }
        }));
    }

    /// Starts persisting a save on the blocking pool (no store: done at once).
    fn save(&mut self, save: &Save) {
        let Some(store) = &self.store else {
            return self.machine.on_saved(save.page);
        };
        let (store, bytes) = (Arc::clone(store), save.checkpoint.to_bytes());
        self.saving = Some((
            save.page,
            blocking::unblock(move || lock(&store).save(&bytes)),
        ));
    }

    /// Waits for what the machine waits for: the save in progress, else the first exchange
    /// to finish; reports it.
    async fn wait(&mut self) {
        if let Some((page, task)) = &mut self.saving {
            let (page, saved) = (*page, task.await);
            self.saving = None;
            match saved {
                Ok(()) => self.machine.on_saved(page),
                Err(e) => {
                    self.store_error = Some(e);
                    self.machine.on_save_failed(page);
                }
            }
            return;
        }
        assert!(
            !self.in_flight.is_empty(),
            "the machine waits only for what it asked"
        );
        let in_flight = &mut self.in_flight;
        let (slot, outcome) = future::poll_fn(|cx| {
            let ready =
                in_flight
                    .iter_mut()
                    .enumerate()
                    .find_map(|(i, f)| match f.as_mut().poll(cx) {
                        Poll::Ready(out) => Some((i, out)),
                        Poll::Pending => None,
                    });
            ready.map_or(Poll::Pending, |(i, out)| {
                drop(in_flight.swap_remove(i));
                Poll::Ready(out)
            })
        })
        .await;
        match outcome {
            Ok(response) => {
                let (head, body) = response.into_parts();
                self.machine
                    .on_response(slot, head.status, head.headers, body);
            }
            Err(error) => {
                if let Some(e) = self.errors.get_mut(slot.index()) {
                    *e = Some(error);
                }
                self.machine.on_send_failed(slot);
            }
        }
    }

    fn note(&mut self, event: PageEvent) {
        if event.is_warning() {
            tracing::warn!(event = %event, code = event.code(), "paceline: page walk");
        } else {
            tracing::info!(event = %event, code = event.code(), "paceline: page walk");
        }
        if self.events.len() == EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    fn error(&mut self, failure: Failure) -> PagesError {
        let delivered = self.delivered();
        let (errors, store_error) = (&mut self.errors, &mut self.store_error);
        let lost = || Error::InvalidRequest("the exchange's error was already reported".into());
        PagesError::from_failure(
            failure,
            delivered,
            |slot| {
                errors
                    .get_mut(slot.index())
                    .and_then(Option::take)
                    .unwrap_or_else(lost)
            },
            || store_error.take(),
        )
    }
}

impl<T: Transport> fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("style", &self.machine.walk().style())
            .field("in_flight", &self.in_flight.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

fn lock(store: &Store) -> std::sync::MutexGuard<'_, Box<dyn CheckpointStore>> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}
