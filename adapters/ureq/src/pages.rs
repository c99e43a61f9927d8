//! The page iterator: [`Client::pages`] drives a [`Walk`] through the client, so that every
//! page request is paced and retried by the Pacer, and persists the walk's checkpoints.
//!
//! The loop and the checkpoint rule are drawn in the [crate docs](crate#walking-a-list).

use std::collections::VecDeque;
use std::fmt;
use std::iter::FusedIterator;
use std::ops::{Deref, Range};
use std::path::PathBuf;
use std::sync::Arc;

use paceline::paginate::{
    Checkpoint, Guards, Hints, Page, PageError, PageEvent, PageRequest, PageSpec, RequestTemplate,
    Walk, WalkState,
};

use crate::checkpoint_file::{CheckpointFile, CheckpointStore};
use crate::client::Client;
use crate::error::Error;
use crate::page_error::{Delivered, PagesError};

/// How many times a page whose body is truncated or not JSON is requested again, by default:
/// 2 (three responses in all). Ours: enough for a proxy's one-off error page or a cut
/// connection, few enough that a server that always sends garbage is reported quickly.
pub const DEFAULT_PAGE_RETRIES: u32 = 2;

/// How many [`PageEvent`]s [`Pages`] keeps for [`Pages::poll_event`]; older ones are dropped
/// (they are also logged, so nothing is lost to an operator) and counted.
pub const EVENTS_KEPT: usize = 256;

/// What to do with a stored checkpoint when a walk starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Resume {
    /// Ignore it: start at the first page (the store is overwritten after it).
    Never,
    /// Resume from it when there is one, else start at the first page. A checkpoint of a
    /// complete walk resumes to an iterator that yields nothing: remove it to start over.
    /// The default.
    #[default]
    IfPresent,
    /// Resume from it; having none is [`PagesError::NoCheckpoint`].
    Required,
}

/// How [`Client::pages`] walks: where checkpoints go, whether to resume, how often to
/// re-request a garbled page, and the guards of an auto-detected walk.
///
/// ```
/// use paceline::paginate::Guards;
/// use paceline_ureq::{PageOptions, Resume};
///
/// let options = PageOptions::new()
///     .checkpoint_file("issues.checkpoint.json")
///     .resume(Resume::IfPresent)
///     .page_retries(3)
///     .guards(Guards::default().max_pages(500));
/// # let _ = options;
/// ```
#[derive(Default)]
pub struct PageOptions {
    guards: Guards,
    hints: Hints,
    store: Option<Box<dyn CheckpointStore>>,
    resume: Resume,
    page_retries: u32,
    held: Vec<Vec<u8>>,
    concurrency: usize,
}

impl PageOptions {
    /// No checkpoints, [`Resume::IfPresent`], [`DEFAULT_PAGE_RETRIES`], default [`Guards`].
    pub fn new() -> Self {
        PageOptions {
            page_retries: DEFAULT_PAGE_RETRIES,
            ..PageOptions::default()
        }
    }

    /// Keeps checkpoints in the file at `path` ([`CheckpointFile`]: replaced atomically).
    pub fn checkpoint_file(self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint_store(CheckpointFile::new(path))
    }

    /// Keeps checkpoints in `store`.
    pub fn checkpoint_store(mut self, store: impl CheckpointStore + 'static) -> Self {
        self.store = Some(Box::new(store));
        self
    }

    /// What to do with a stored checkpoint (default [`Resume::IfPresent`]).
    pub fn resume(mut self, resume: Resume) -> Self {
        self.resume = resume;
        self
    }

    /// How many times a page whose body is truncated or not JSON is requested again (default
    /// [`DEFAULT_PAGE_RETRIES`]). Each request goes through the Pacer.
    pub fn page_retries(mut self, n: u32) -> Self {
        self.page_retries = n;
        self
    }

    /// Records the sink already holds past the stored checkpoint: those of the page a crash
    /// interrupted, written out before its checkpoint could be saved (a file's lines past the
    /// length it had at that checkpoint, say). When the resumed walk receives them again they
    /// are skipped, not handed out twice ([`Walk::already_delivered`]; they are recognised by
    /// the spec's [`PageSpec::key`], so without one this does nothing).
    pub fn already_delivered<R: Into<Vec<u8>>>(
        mut self,
        records: impl IntoIterator<Item = R>,
    ) -> Self {
        self.held = records.into_iter().map(Into::into).collect();
        self
    }

    /// Pages requested at once (default 1). Offset and page-number walks know their next
    /// positions ([`Walk::lookahead`]): with `n` above 1, the pending page and the `n − 1`
    /// after it are requested together from `n` threads sharing this client's Pacer (which
    /// still paces every request; give it a concurrency limit too if the API has one), and
    /// read in order. A guess the walk does not take (a short page, a change of style) is
    /// dropped: it costs a request, never a record. Cursor, keyset and URL walks learn each
    /// position from the page before, so they request one page at a time whatever `n` is.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The guards of a walk without a spec (auto-detected); a spec carries its own
    /// ([`PageSpec::guards`]).
    pub fn guards(mut self, guards: Guards) -> Self {
        self.guards = guards;
        self
    }

    /// What is known of how a list without a spec pages ([`Hints`]: a style, where the items
    /// or the next cursor are); the rest is detected from the first page
    /// ([`Walk::auto_with`]).
    pub fn hints(mut self, hints: Hints) -> Self {
        self.hints = hints;
        self
    }
}

impl fmt::Debug for PageOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageOptions")
            .field("guards", &self.guards)
            .field("hints", &self.hints)
            .field("store", &self.store.as_ref().map(|_| "…"))
            .field("resume", &self.resume)
            .field("page_retries", &self.page_retries)
            .field("already_delivered", &self.held.len())
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl Client {
    /// Walks the list `template` asks for, paged as `spec` says (`None`: detected from the
    /// first response), every page request sent through this client (so the Pacer paces and
    /// retries it): an iterator of the list's [`Record`]s, in order, each once.
    ///
    /// With a checkpoint store ([`PageOptions::checkpoint_file`]), the walk resumes from the
    /// stored checkpoint ([`Resume`]) and saves one after each page's records were handed out;
    /// see the [crate docs](crate#walking-a-list) for exactly when.
    ///
    /// Requests to another origin (a next URL the guards allow,
    /// [`Guards::allowed_origins`]) carry the template's headers but no credentials:
    /// `Authorization`, `Proxy-Authorization`, `Cookie` and the spec's
    /// [`Guards::credential_headers`] are removed.
    ///
    /// # Errors
    /// Before the first request: the spec or template is unusable ([`PagesError::Spec`]), the
    /// checkpoint cannot be loaded ([`PagesError::Checkpoint`]), is not a checkpoint
    /// ([`PagesError::BadCheckpoint`]), does not fit ([`PagesError::Resume`]: another request,
    /// another style), or is missing under [`Resume::Required`].
    pub fn pages(
        &self,
        spec: Option<PageSpec>,
        template: RequestTemplate,
        options: PageOptions,
    ) -> Result<Pages<'_>, PagesError> {
        let PageOptions {
            guards,
            hints,
            mut store,
            resume,
            page_retries,
            held,
            concurrency,
        } = options;
        let saved = match (&mut store, resume) {
            (Some(store), Resume::IfPresent | Resume::Required) => {
                store.load().map_err(|error| PagesError::Checkpoint {
                    error,
                    delivered: Delivered::default(),
                })?
            }
            _ => None,
        };
        let resumed = saved.is_some();
        let mut walk = match (saved, spec) {
            (Some(bytes), spec) => {
                let checkpoint =
                    Checkpoint::from_bytes(&bytes).map_err(PagesError::BadCheckpoint)?;
                match spec {
                    Some(spec) => Walk::resume(Some(spec), template, &checkpoint)?,
                    // This run's guards (an origin allowed now), the detected spec.
                    None => Walk::resume_auto(template, guards.clone(), &checkpoint)?,
                }
            }
            (None, _) if resume == Resume::Required => return Err(PagesError::NoCheckpoint),
            (None, Some(spec)) => Walk::new(spec, template)?,
            (None, None) => Walk::auto_with(template, hints, guards.clone())?,
        };
        walk.already_delivered(held.iter().map(Vec::as_slice));
        let secrets = walk
            .spec()
            .map_or(&guards, |s| &s.guards)
            .credential_headers
            .clone();
        Ok(Pages {
            client: self,
            walk,
            saved_any: store.is_some() && resumed,
            store,
            page_retries,
            secrets,
            ahead: Vec::new(),
            prefetch: concurrency.saturating_sub(1),
            current: None,
            events: VecDeque::new(),
            events_dropped: 0,
            this_run: 0,
            done: false,
        })
    }
}

/// The records of a list, page after page: made by [`Client::pages`].
///
/// An [`Iterator`] of `Result<Record, PagesError>`; after an error or the end it yields
/// `None`. [`Pages::next_page`] hands out a page at a time instead (to make the records
/// durable before the checkpoint that covers them is saved, ask for the next page only once
/// they are).
///
/// Memory: one page body at a time (the records share it; see [`Record`]) and the [`Walk`]'s
/// state: a few counters, plus a 16-byte hash per cursor or URL used (its loop guard) and, for
/// offset walks with a key or de-duplicating walks, per key. Measured with
/// `examples/page_rss.rs`: peak RSS 4.4 MB walking 100,000 records and 4.5 MB walking
/// 1,000,000, in pages of 100.
pub struct Pages<'c> {
    client: &'c Client,
    walk: Walk,
    store: Option<Box<dyn CheckpointStore>>,
    page_retries: u32,
    /// Credential headers beside the three standard ones.
    secrets: Vec<String>,
    /// Responses to requests the walk is expected to ask for next ([`PageOptions::concurrency`]).
    ahead: Vec<(PageRequest, http::Response<Vec<u8>>)>,
    /// How many pages past the pending one are requested with it.
    prefetch: usize,
    current: Option<Current>,
    events: VecDeque<PageEvent>,
    events_dropped: u64,
    this_run: u64,
    /// Whether a checkpoint was loaded or saved: the store holds one of this walk.
    saved_any: bool,
    done: bool,
}

/// The page being handed out.
struct Current {
    page: Page,
    body: Arc<Vec<u8>>,
    /// The next record to hand out.
    next: usize,
    /// Whether its checkpoint is saved.
    saved: bool,
}

impl Current {
    fn remaining(&self) -> usize {
        self.page.len() - self.next
    }
}

impl Pages<'_> {
    /// The rest of the current page, or the next page: its records, all handed out at once.
    /// Asking for it means the caller is done with what it was given before, whose
    /// checkpoint is saved first (unless [`Pages::commit`] already did). Empty pages are not
    /// returned (their checkpoints are saved all the same).
    pub fn next_page(&mut self) -> Option<Result<RecordPage, PagesError>> {
        if self.done {
            return None;
        }
        let has_rest = self.current.as_ref().is_some_and(|c| c.remaining() > 0);
        if !has_rest && let Err(e) = self.advance() {
            self.done = true;
            return e.map(Err);
        }
        let cur = self.current.as_mut()?;
        let ranges = cur.page.ranges()[cur.next..].to_vec();
        cur.next = cur.page.len();
        self.this_run += ranges.len() as u64;
        Some(Ok(RecordPage {
            number: cur.page.number(),
            body: Arc::clone(&cur.body),
            ranges,
        }))
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
        match &self.current {
            Some(cur) if cur.remaining() == 0 && !cur.saved && self.store.is_some() => {}
            _ => return Ok(false),
        }
        match self.save() {
            Ok(()) => Ok(true),
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// What was handed out so far.
    pub fn delivered(&self) -> Delivered {
        let (pages, records, unsaved) = match &self.current {
            Some(cur) if cur.remaining() > 0 => (
                self.walk.pages() - 1,
                self.walk.records() - cur.remaining() as u64,
                false,
            ),
            Some(cur) => (self.walk.pages(), self.walk.records(), !cur.saved),
            None => (self.walk.pages(), self.walk.records(), false),
        };
        Delivered {
            pages,
            records,
            this_run: self.this_run,
            checkpointed: self.saved_any && !unsaved,
        }
    }

    /// The next event of the walk (auto-detection, a style switch, drift, a next URL on an
    /// allowed origin). Events are also logged to `tracing` as they happen. At most
    /// [`EVENTS_KEPT`] are kept: drain them after each page.
    pub fn poll_event(&mut self) -> Option<PageEvent> {
        self.events.pop_front()
    }

    /// Events dropped because more than [`EVENTS_KEPT`] were waiting.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// The walk (its style and spec, detected or given; its position; its state).
    pub fn walk(&self) -> &Walk {
        &self.walk
    }

    /// Makes sure there is a page with records left, or says why not: `Err(None)` at the
    /// end, `Err(Some(e))` on an error. Saves the checkpoint of a page handed out in full first.
    fn advance(&mut self) -> Result<(), Option<PagesError>> {
        loop {
            if let Some(cur) = &self.current {
                if cur.remaining() > 0 {
                    return Ok(());
                }
                if !cur.saved {
                    self.save().map_err(Some)?;
                }
            }
            self.current = None;
            self.fetch()?;
        }
    }

    /// Requests the pending page until it reads as one (or gives up), and makes it current.
    fn fetch(&mut self) -> Result<(), Option<PagesError>> {
        let mut responses = 0u32;
        loop {
            let Some(pending) = self.walk.poll_request() else {
                return match self.walk.state() {
                    WalkState::Stopped(error) => Err(Some(PagesError::Stopped {
                        error: error.clone(),
                        delivered: self.delivered(),
                    })),
                    _ => Err(None),
                };
            };
            let page = self.walk.pages() + 1;
            let prefetched = match self.ahead.iter().position(|(r, _)| r == pending) {
                // A response is used once: a page asked for again (a garbled one) is sent again.
                Some(i) if responses == 0 => Some(self.ahead.remove(i).1),
                _ => None,
            };
            let response = match prefetched {
                Some(r) => Ok(r),
                None => to_http(pending, &self.secrets)
                    .and_then(|request| self.send_with_lookahead(request)),
            };
            let response = response.map_err(|error| {
                Some(PagesError::Request {
                    page,
                    error,
                    delivered: self.delivered(),
                })
            })?;
            responses += 1;
            let (head, body) = response.into_parts();
            match self.walk.on_page(head.status, &head.headers, &body) {
                Ok(read) => {
                    self.drain_events();
                    self.current = Some(Current {
                        page: read,
                        body: Arc::new(body),
                        next: 0,
                        saved: false,
                    });
                    return Ok(());
                }
                Err(error @ PageError::Body(_)) if responses <= self.page_retries => {
                    tracing::warn!(
                        page,
                        response = responses,
                        error = %error,
                        "paceline: unreadable page, requesting it again"
                    );
                }
                Err(error) => {
                    return Err(Some(PagesError::Page {
                        page,
                        error,
                        responses,
                        delivered: self.delivered(),
                    }));
                }
            }
        }
    }

    /// Sends the pending request (`first`); with [`PageOptions::concurrency`] above 1, together with
    /// the walk's next likely ones (each from its own thread, all through the one client and
    /// its Pacer), keeping their responses for when the walk asks for them. A guess that fails
    /// is dropped: the walk will send it again if it does ask for it.
    fn send_with_lookahead(
        &mut self,
        first: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        // Guesses already answered are not asked again; ones the walk went past are dropped.
        let guesses = self.walk.lookahead(self.prefetch);
        self.ahead.retain(|(r, _)| guesses.contains(r));
        let guesses: Vec<PageRequest> = guesses
            .into_iter()
            .filter(|g| !self.ahead.iter().any(|(r, _)| r == g))
            .collect();
        if guesses.is_empty() {
            return self.client.send(first);
        }
        let client = self.client;
        let secrets = &self.secrets;
        let (response, answered) = std::thread::scope(|scope| {
            let others: Vec<_> = guesses
                .iter()
                .map(|g| scope.spawn(move || to_http(g, secrets).and_then(|r| client.send(r))))
                .collect();
            let response = client.send(first);
            let answered: Vec<Option<http::Response<Vec<u8>>>> = others
                .into_iter()
                .map(|h| h.join().ok().and_then(Result::ok))
                .collect();
            (response, answered)
        });
        for (g, r) in guesses.into_iter().zip(answered) {
            if let Some(r) = r {
                self.ahead.push((g, r));
            }
        }
        response
    }

    /// Saves the walk's checkpoint: the current page has been handed out in full.
    fn save(&mut self) -> Result<(), PagesError> {
        if let Some(store) = &mut self.store {
            let bytes = self.walk.checkpoint().to_bytes();
            if let Err(error) = store.save(&bytes) {
                return Err(PagesError::Checkpoint {
                    error,
                    delivered: self.delivered(),
                });
            }
            self.saved_any = true;
        }
        if let Some(cur) = &mut self.current {
            cur.saved = true;
        }
        Ok(())
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.walk.poll_event() {
            forward(&event);
            if self.events.len() == EVENTS_KEPT {
                self.events.pop_front();
                self.events_dropped += 1;
            }
            self.events.push_back(event);
        }
    }
}

impl Iterator for Pages<'_> {
    type Item = Result<Record, PagesError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Err(e) = self.advance() {
            self.done = true;
            return e.map(Err);
        }
        let cur = self.current.as_mut()?;
        let range = cur.page.ranges()[cur.next].clone();
        cur.next += 1;
        self.this_run += 1;
        Some(Ok(Record {
            body: Arc::clone(&cur.body),
            range,
            page: cur.page.number(),
        }))
    }
}

impl FusedIterator for Pages<'_> {}

impl fmt::Debug for Pages<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("style", &self.walk.style())
            .field("delivered", &self.delivered())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// One record of a list: a JSON value, sliced from its page's body without copying.
///
/// The records of a page share that page's body: holding one keeps the body alive. To keep
/// records for long (collecting a whole list), keep [`Record::to_vec`] or a parsed value
/// instead, or the memory held is the whole bodies.
#[derive(Clone)]
pub struct Record {
    body: Arc<Vec<u8>>,
    range: Range<usize>,
    page: u64,
}

impl Record {
    /// The JSON text, as the server sent it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.body[self.range.clone()]
    }

    /// A copy of the JSON text, detached from the page's body.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }

    /// Parses the record (`serde_json::Value`, or a type of yours).
    ///
    /// # Errors
    /// When the record does not fit `T` (it is always valid JSON).
    pub fn parse<'a, T: serde::Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        serde_json::from_slice(self.as_bytes())
    }

    /// The page it came from (from 1, counting resumed pages).
    pub fn page(&self) -> u64 {
        self.page
    }
}

impl Deref for Record {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Record {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Record {}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Record(page {}, {})",
            self.page,
            String::from_utf8_lossy(self.as_bytes())
        )
    }
}

/// A page's records, handed out at once by [`Pages::next_page`].
#[derive(Clone)]
pub struct RecordPage {
    number: u64,
    body: Arc<Vec<u8>>,
    ranges: Vec<Range<usize>>,
}

impl RecordPage {
    /// The page's number in the walk (from 1, counting resumed pages).
    pub fn number(&self) -> u64 {
        self.number
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The records' JSON texts, borrowed.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.ranges.iter().map(|r| &self.body[r.clone()])
    }

    /// The records, each sharing the page's body.
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.ranges.iter().map(|r| Record {
            body: Arc::clone(&self.body),
            range: r.clone(),
            page: self.number,
        })
    }
}

impl fmt::Debug for RecordPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordPage")
            .field("number", &self.number)
            .field("records", &self.ranges.len())
            .finish()
    }
}

fn to_http(request: &PageRequest, secrets: &[String]) -> Result<http::Request<Vec<u8>>, Error> {
    request
        .to_http(secrets)
        .map_err(|e| Error::InvalidRequest(ureq::Error::Http(e)))
}

/// Logs a walk's event: `warn` for drift and cross-origin requests, `info` for detection and
/// style switches, `debug` for anything newer than this adapter.
fn forward(event: &PageEvent) {
    if event.is_warning() {
        tracing::warn!(event = %event, "paceline: page walk");
    } else {
        tracing::info!(event = %event, "paceline: page walk");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
    use http::{HeaderMap, HeaderValue, Method};
    use paceline::paginate::Url;

    #[test]
    fn credentials_never_go_to_another_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s"));
        headers.insert(COOKIE, HeaderValue::from_static("sid=1"));
        headers.insert(PROXY_AUTHORIZATION, HeaderValue::from_static("Basic x"));
        headers.insert("x-api-key", HeaderValue::from_static("k"));
        headers.insert("accept", HeaderValue::from_static("application/json"));
        let mut request = sample(headers);
        let same = to_http(&request, &["X-Api-Key".into()]).unwrap();
        assert_eq!(same.headers().len(), 5);
        request.credentials = false;
        let other = to_http(&request, &["X-Api-Key".into()]).unwrap();
        let names: Vec<_> = other.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["accept"]);
        assert_eq!(other.uri(), "https://cdn.test/p?page=2");
    }

    /// A page request, built the only way a caller can: from a walk.
    fn sample(headers: HeaderMap) -> PageRequest {
        let mut template = RequestTemplate::new(
            Method::GET,
            Url::parse("https://cdn.test/p?page=2#frag").unwrap(),
        );
        template.headers = headers;
        let walk = Walk::new(PageSpec::link(""), template).unwrap();
        walk.poll_request().unwrap().clone()
    }
}
