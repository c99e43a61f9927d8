//! The page walk: [`Client::pages`] pumps the core's [`Handout`] (the page machine as records
//! handed out) with up to `concurrency` exchanges truly in flight, and persists its
//! checkpoints.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;

use futures_lite::{Stream, future, stream};
use http::{Request, Response};
use paceline::paginate::{
    Delivered, Handout, Next, PageEvent, PageSpec, Record, RecordPage, RequestTemplate, Save, Slot,
    Walk,
};

use crate::client::Client;
use crate::transport::{HttpTransport, Transport};
use crate::{CheckpointStore, Error, PageOptions};
use paceline_driver::load_checkpoint;

/// Why [`Pages`] stopped: the core's [`paceline::paginate::PagesError`] with this client's
/// [`Error`] for a failed request. After an error the walk is over.
pub type PagesError = paceline::paginate::PagesError<Error>;

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
        let (config, held, store) = options.into_parts();
        let store: Option<Store> = store.map(|s| Arc::new(Mutex::new(s)));
        let (saved, resume) = (store.clone(), config.resume);
        let saved = match saved {
            Some(s) => {
                blocking::unblock(move || load_checkpoint(lock(&s).as_mut(), resume)).await?
            }
            None => None,
        };
        let lost = || Error::InvalidRequest("the exchange's error was already reported".into());
        Ok(Pages {
            client: self.clone(),
            walk: Handout::start(spec, template, config, held, saved.as_deref(), lost)?,
            store,
            saving: None,
            in_flight: Vec::new(),
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
    walk: Handout<Error>,
    store: Option<Store>,
    /// A save in progress on the blocking pool: its page and task.
    saving: Option<(u64, blocking::Task<io::Result<()>>)>,
    in_flight: Vec<Exchange>,
}

impl<T: Transport> Pages<T> {
    /// The next record, `None` after the last one or an error.
    pub async fn next_record(&mut self) -> Option<Result<Record, PagesError>> {
        match self.pump().await? {
            Ok(()) => self.walk.next_record().map(Ok),
            Err(e) => Some(Err(e)),
        }
    }

    /// The rest of the current page, or the next page, all at once. Asking for it means the
    /// caller is done with what it was given before, whose checkpoint is saved first.
    pub async fn next_page(&mut self) -> Option<Result<RecordPage, PagesError>> {
        match self.pump().await? {
            Ok(()) => self.walk.next_page().map(Ok),
            Err(e) => Some(Err(e)),
        }
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
        if !self.walk.commit() && self.saving.is_none() {
            return Ok(false);
        }
        while self.saving.is_none() {
            match self.walk.poll() {
                Next::Save(save) => self.save(&save),
                Next::Send(slot, request) => self.start(slot, request),
                Next::End(Some(error)) => return Err(error),
                // Nothing else comes before a delivered page's save.
                Next::Ready | Next::Wait | Next::End(None) => return Ok(false),
            }
        }
        self.wait().await;
        match self.walk.poll() {
            Next::End(Some(error)) => Err(error),
            Next::Send(slot, request) => {
                self.start(slot, request);
                Ok(true)
            }
            _ => Ok(true),
        }
    }

    /// What was handed out so far.
    pub fn delivered(&self) -> Delivered {
        self.walk.delivered()
    }

    /// The next event of the walk (also logged to `tracing`); at most
    /// [`EVENTS_KEPT`](crate::EVENTS_KEPT) are kept.
    pub fn poll_event(&mut self) -> Option<PageEvent> {
        self.walk.poll_event()
    }

    /// The walk: its style, spec, position and state.
    pub fn walk(&self) -> &Walk {
        self.walk.walk()
    }

    /// Pumps the walk until records are in hand: `None` at the end.
    async fn pump(&mut self) -> Option<Result<(), PagesError>> {
        loop {
            match self.walk.poll() {
                Next::Ready => return Some(Ok(())),
                Next::Send(slot, request) => self.start(slot, request),
                Next::Save(save) => self.save(&save),
                Next::Wait => self.wait().await,
                Next::End(end) => return end.map(Err),
            }
        }
    }

    /// Starts one exchange: it runs whenever the walk is awaited, beside the others.
    fn start(&mut self, slot: Slot, request: Result<Request<Vec<u8>>, http::Error>) {
        let client = self.client.clone();
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
            return self.walk.on_saved(save.page);
        };
        let (store, bytes) = (Arc::clone(store), save.checkpoint.to_bytes());
        self.saving = Some((
            save.page,
            blocking::unblock(move || lock(&store).save(&bytes)),
        ));
    }

    /// Waits for what the walk waits for: the save in progress, else the first exchange to
    /// finish; reports it.
    async fn wait(&mut self) {
        if let Some((page, task)) = &mut self.saving {
            let (page, saved) = (*page, task.await);
            self.saving = None;
            self.walk.on_save_done(page, saved);
            return;
        }
        assert!(
            !self.in_flight.is_empty(),
            "the machine waits only for what it asked"
        );
        let in_flight = &mut self.in_flight;
        let (slot, outcome) = future::poll_fn(|cx| {
            for i in 0..in_flight.len() {
                if let Poll::Ready(out) = in_flight[i].as_mut().poll(cx) {
                    drop(in_flight.swap_remove(i));
                    return Poll::Ready(out);
                }
            }
            Poll::Pending
        })
        .await;
        self.walk.on_sent(slot, outcome);
    }
}

impl<T: Transport> fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("style", &self.walk.walk().style())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

fn lock(store: &Store) -> std::sync::MutexGuard<'_, Box<dyn CheckpointStore>> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}
